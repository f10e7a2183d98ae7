import { iso } from './backfill-ranges';
import type { VerifiedRange } from '../shared/verify/verify-input';
import type { PassReport, RepairSummary } from '../shared/verify/verify-report';
import type { VerifySettings } from '../shared/verify/verify-settings';

/** Where a verify run stands, as its current details show it. */
export interface VerifyProgress {
  orgId: string;
  range: VerifiedRange;
  indexes: string[];
  repair: boolean;
  settings: VerifySettings;
  pass: number;
  /** What the run does now, in words. */
  step: string;
  /** Atlassian events counted so far in this pass, and requests sent in all. */
  eventsCounted: number;
  atlassianRequests: number;
  /** Hours whose IDs this pass compares, and how many it has compared. */
  hoursToCompare: number;
  hoursCompared: number;
  waiting: { service: 'atlassian' | 'datadog'; until: number } | null;
  passes: PassReport[];
  repaired: RepairSummary | null;
}

/** The markdown the Temporal UI shows as the run's current details (no history event; refreshed at every step). */
export function renderVerifyDetails(progress: VerifyProgress): string {
  const { range, settings } = progress;
  const lines = [
    `**Verify** org \`${progress.orgId}\` · ${iso(range.from)} → ${iso(range.to)}${progress.repair ? ' · **repair**' : ''}`,
    '',
    `- Pass ${progress.pass}: ${progress.step}`,
    `- Atlassian: ${progress.eventsCounted} events counted this pass · ${progress.atlassianRequests} requests at most ${settings.maxRequestsPerMinute}/min (${settings.source === 'org-status' ? "a fifth of the org's cap" : 'default budget'})`,
    `- Datadog indexes: ${progress.indexes.join(', ')} · hours compared by ID: ${progress.hoursCompared}/${progress.hoursToCompare}`,
  ];
  if (progress.waiting) lines.push(`- Waiting for ${progress.waiting.service === 'atlassian' ? "Atlassian's" : "Datadog's"} rate limit until ${iso(progress.waiting.until)}`);
  for (const pass of progress.passes) {
    const { expected, present, missing, extra } = pass.totals;
    lines.push(`- Pass ${pass.pass} found: ${expected} expected, ${present} present, ${missing} missing, ${extra} extra`);
  }
  if (progress.repaired) lines.push(`- Repaired: ${progress.repaired.shipped} logs re-shipped (${progress.repaired.notFound} no longer served by Atlassian)`);
  return lines.join('\n');
}
