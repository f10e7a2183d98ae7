/** `verify` for a person: a table per pass, what a repair did, the verdict, and why Datadog may lack logs. */
import type { HourReport, PassReport, VerifyRangeResult } from '../../shared/verify/verify-report';
import { missingAtEnd } from '../../shared/verify/verify-report';

/**
 * Causes on Datadog's side, named whenever something is missing: the intake's 202 only means "accepted for
 * processing" (reference datadog-logs.md §5), so a log the collector delivered may still not be searchable.
 */
function datadogCausesNote(indexes: readonly string[]): string[] {
  return [
    `Datadog may lack logs for reasons of its own; searched: ${indexes.join(', ')}. Check in Datadog:`,
    "  - the index's retention: logs older than it are gone (a common setting is 15 days);",
    '  - exclusion filters on the index: a log the intake accepted (202) can still be left out of the index;',
    "  - other indexes: the org's logs may be routed to another one (--index NAME, or --index '*' for every index);",
    "  - the index's daily quota: once reached, further logs of the day are not indexed;",
    '  - the log pipeline: a processor that changes source, org_id or atlassian.event_id hides a log from this search.',
    'A log the collector still has to deliver (the org lags, or is paused) shows as missing too. --repair re-ships what is',
    'missing; a log that Datadog drops again shows as missing again.',
  ];
}

export function formatVerifyReport(result: VerifyRangeResult): string {
  const budget = result.settings.source === 'org-status' ? "a fifth of the org's cap" : 'the default budget; the org did not answer';
  const lines = [
    `verify org ${result.orgId}: ${shortHour(result.from)} → ${shortHour(result.to)} (event time, whole UTC hours)`,
    `Datadog indexes searched: ${result.indexes.join(', ')} · Atlassian at most ${result.settings.maxRequestsPerMinute} requests/min (${budget})`,
    `workflow ${result.workflowId}`,
  ];
  const [first, ...after] = result.passes;
  if (first) lines.push('', ...formatPass(first));
  if (result.repaired) {
    const { shipped, redated, deadLettered, notFound, leftForNextRun } = result.repaired;
    lines.push('', `repair: ${plural(shipped, 'log')} re-shipped, tagged repaired:true${redated > 0 ? `, ${redated} dated at ingest (outside Datadog's 18 h window)` : ''}`);
    if (deadLettered > 0) lines.push(`  ${deadLettered} refused by Datadog and kept as dead letters on the worker (see status)`);
    if (notFound > 0) lines.push(`  ${notFound} no longer served by Atlassian, so not re-shipped`);
    if (leftForNextRun > 0) lines.push(`  ${leftForNextRun} more missing than one run repairs per hour: run verify --repair again`);
  }
  for (const pass of after) lines.push('', ...formatPass(pass));
  const missing = missingAtEnd(result);
  lines.push('', missing === 0 ? 'result: nothing missing' : `result: ${missing} missing`);
  if (missing > 0) lines.push('', ...datadogCausesNote(result.indexes));
  return lines.join('\n');
}

function formatPass(pass: PassReport): string[] {
  const header = ['HOUR (UTC)', 'EXPECTED', 'PRESENT', 'MISSING', 'EXTRA', 'BY'];
  const row = (hour: HourReport) => [shortHour(hour.hour), ...[hour.expected, hour.present, hour.missing, hour.extra].map(String), hour.comparedBy];
  const { expected, present, missing, extra } = pass.totals;
  const rows = [header, ...pass.hours.map(row), ['TOTAL', ...[expected, present, missing, extra].map(String), '']];
  const widths = header.map((_, column) => Math.max(...rows.map((cells) => cells[column]!.length)));
  // Numbers right-aligned, so that a column of counts reads at a glance.
  const table = rows.map((cells) => cells.map((cell, column) => (column === 0 || column === 5 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  ').trimEnd());
  const lines = [`pass ${pass.pass}${pass.pass > 1 ? ' (after the repair)' : ''}, finished ${pass.finishedAt}`, ...table];
  if (pass.hours.length === 0) lines.push('  (no events in the range, and no logs)');
  for (const hour of pass.hours) {
    if (hour.missingIds.length > 0) lines.push(`  missing in ${shortHour(hour.hour)}: ${listed(hour.missingIds, hour.missing)}`);
    if (hour.extraIds.length > 0) lines.push(`  extra in ${shortHour(hour.hour)}: ${plural(hour.extra, 'log')} of events ${hour.extraIds.join(', ')}`);
  }
  if (pass.undated > 0) lines.push(`  ${pass.undated} elements Atlassian served without a readable time could not be placed in an hour`);
  lines.push("  BY counts: Datadog's counts equal Atlassian's; ids: they did not, so the event IDs were compared");
  return lines;
}

/** The IDs listed, and how many more there are when the list was cut. */
function listed(ids: readonly string[], count: number): string {
  return ids.length < count ? `${ids.join(', ')} (and ${count - ids.length} more)` : ids.join(', ');
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

/** `2026-01-05T13:00:00.000Z` → `2026-01-05T13:00Z`. */
function shortHour(iso: string): string {
  return iso.replace(/:00\.000Z$/, 'Z');
}
