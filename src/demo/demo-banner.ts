/**
 * What the demo prints once everything runs: where to look (Temporal UI, delivered logs) and what to try (client
 * commands that work against this very run). No key value ever appears here.
 */
import path from 'node:path';
import type { StartOrgResult } from '../client/org-control';

export interface BannerFacts {
  orgId: string;
  workflow: StartOrgResult;
  namespace: string;
  /** Web UI origin of the demo's own dev server; absent when an existing Temporal is used. */
  uiUrl?: string;
  /** Set when the client needs it: the demo's Temporal is not where the client looks by default. */
  clientTemporalAddress?: string;
  standins?: { deliveredLogsFile: string; eventsFile: string; restoredEvents: number; newEventEverySeconds: number };
  /** Real mode: where logs go. */
  datadogIntakeUrl?: string;
  startupSeconds: number;
}

export function renderBanner(facts: BannerFacts): string {
  const { orgId } = facts;
  const client = `${facts.clientTemporalAddress ? `TEMPORAL_ADDRESS=${facts.clientTemporalAddress} ` : ''}npx atlassian-audit`;
  const hour = 3_600_000;
  const backfillTo = new Date(Math.floor((Date.now() - 48 * hour) / hour) * hour);
  const backfillFrom = new Date(backfillTo.getTime() - 24 * hour);
  const { workflowId } = facts.workflow;
  const workflowLine = !facts.workflow.started
    ? 'already running, resumed from its cursor'
    : facts.workflow.resumedStoppedRun
      ? 'started again where its stopped run left off'
      : 'started';
  const lines = [
    '',
    facts.standins
      ? `Atlassian audit → Datadog collector running on local STAND-INS (no real Atlassian or Datadog is contacted), ready in ${facts.startupSeconds.toFixed(1)} s`
      : `Atlassian audit → Datadog collector running against the real Atlassian and Datadog, ready in ${facts.startupSeconds.toFixed(1)} s`,
    `  Organization     ${orgId}`,
    `  Workflow         ${workflowId} (${workflowLine})`,
    facts.uiUrl
      ? `  Temporal UI      ${facts.uiUrl}/namespaces/${facts.namespace}/workflows/${workflowId}`
      : `  Temporal UI      open workflow ${workflowId} in namespace ${facts.namespace} of your Temporal UI`,
  ];
  if (facts.standins) {
    const restored = facts.standins.restoredEvents;
    lines.push(
      `  Delivered logs   ${displayPath(facts.standins.deliveredLogsFile)} (what the Datadog stand-in accepted, one log per line)`,
      `  Atlassian events ${displayPath(facts.standins.eventsFile)} (${restored > 0 ? `${restored} restored from earlier runs` : 'seeded afresh'}; a new one every ${facts.standins.newEventEverySeconds} s)`
    );
  }
  if (facts.datadogIntakeUrl) lines.push(`  Datadog intake   ${facts.datadogIntakeUrl} (search source:atlassian-event-logs)`);
  lines.push(
    `  Try              ${client} status --org ${orgId}`,
    `                   ${client} list`,
    `                   ${client} pause --org ${orgId} --reason "trying it out"`,
    `                   ${client} resume --org ${orgId}`,
    `                   ${client} backfill --org ${orgId} --from ${backfillFrom.toISOString()} --to ${backfillTo.toISOString()}`,
    'Ctrl-C stops everything cleanly; the next `npm start` resumes from the workflow\'s cursor, delivering nothing twice.',
    ''
  );
  return lines.join('\n');
}

/** Relative to the working directory when below it (`.data/…`), otherwise absolute. */
function displayPath(file: string): string {
  const relative = path.relative(process.cwd(), file);
  return relative.startsWith('..') || path.isAbsolute(relative) ? file : relative;
}
