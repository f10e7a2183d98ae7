/**
 * What the demo prints once everything runs: where to look (Temporal UI, delivered logs) and what to try (client
 * commands that work against this very run). No key value ever appears here.
 */
import path from 'node:path';
import { runEnding, type StartOrgResult } from '../../client/org-control';

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
  /** Where the worker's Prometheus metrics are served; absent when metrics are off. */
  metricsAddress?: string;
}

export function renderBanner(facts: BannerFacts): string {
  const { orgId, namespace } = facts;
  const { workflowId } = facts.workflow;
  const client = `${facts.clientTemporalAddress ? `TEMPORAL_ADDRESS=${facts.clientTemporalAddress} ` : ''}npx atlassian-audit`;
  const ready = `ready in ${facts.startupSeconds.toFixed(1)} s`;
  const lines = [
    '',
    facts.standins
      ? `Atlassian audit → Datadog collector running on local STAND-INS (no real Atlassian or Datadog is contacted), ${ready}`
      : `Atlassian audit → Datadog collector running against the real Atlassian and Datadog, ${ready}`,
    `  Organization     ${orgId}`,
    `  Workflow         ${workflowId} (${workflowState(facts.workflow)})`,
    facts.uiUrl
      ? `  Temporal UI      ${facts.uiUrl}/namespaces/${namespace}/workflows/${workflowId}`
      : `  Temporal UI      open workflow ${workflowId} in namespace ${namespace} of your Temporal UI`,
  ];
  if (facts.standins) {
    const { deliveredLogsFile, eventsFile, restoredEvents, newEventEverySeconds } = facts.standins;
    const origin = restoredEvents > 0 ? `${restoredEvents} restored from earlier runs` : 'seeded afresh';
    lines.push(
      `  Delivered logs   ${displayPath(deliveredLogsFile)} (what the Datadog stand-in accepted, one log per line)`,
      `  Atlassian events ${displayPath(eventsFile)} (${origin}; a new one every ${newEventEverySeconds} s)`
    );
  }
  if (facts.metricsAddress) lines.push(`  Metrics          http://${facts.metricsAddress.replace(/^0\.0\.0\.0:/, 'localhost:')}/metrics`);
  if (facts.datadogIntakeUrl) lines.push(`  Datadog intake   ${facts.datadogIntakeUrl} (search source:atlassian-event-logs)`);
  const { from, to } = exampleBackfillRange(Date.now());
  const verified = exampleVerifyRange(Date.now());
  lines.push(
    `  Try              ${client} status --org ${orgId}`,
    `                   ${client} list`,
    `                   ${client} pause --org ${orgId} --reason "trying it out"`,
    `                   ${client} resume --org ${orgId}`,
    `                   ${client} backfill --org ${orgId} --from ${from} --to ${to}`,
    `                   ${client} verify --org ${orgId} --from ${verified.from} --to ${verified.to}`,
    "Ctrl-C stops everything cleanly; the next `npm start` resumes from the workflow's cursor, delivering nothing twice.",
    ''
  );
  return lines.join('\n');
}

function workflowState(workflow: StartOrgResult): string {
  if (!workflow.started) return 'already running, resumed from its cursor';
  return workflow.resumedFrom ? `started again where its last run (${runEnding(workflow.resumedFrom)}) left off` : 'started';
}

/** A day of event time ending two days ago, whole hours: older than the demo tail's start, within the seed events. */
function exampleBackfillRange(now: number): { from: string; to: string } {
  const hour = 3_600_000;
  const to = Math.floor((now - 48 * hour) / hour) * hour;
  return { from: new Date(to - 24 * hour).toISOString(), to: new Date(to).toISOString() };
}

/** The last six whole hours: inside the demo tail's reach, so its events were delivered (or are on their way). */
function exampleVerifyRange(now: number): { from: string; to: string } {
  const hour = 3_600_000;
  const to = Math.floor(now / hour) * hour;
  return { from: new Date(to - 6 * hour).toISOString(), to: new Date(to).toISOString() };
}

/** Relative to the working directory when below it (`.data/…`), otherwise absolute. */
function displayPath(file: string): string {
  const relative = path.relative(process.cwd(), file);
  return relative.startsWith('..') || path.isAbsolute(relative) ? file : relative;
}
