/**
 * The project's metrics recorded from workflow code, through the workflow `metricMeter` of @temporalio/workflow.
 *
 * Replay-safe by construction: the SDK drops these calls while a workflow replays (after a worker restart or a cache
 * eviction), so each page, event and 429 is counted once, by the worker that lived it. They write no history event,
 * so adding or moving a call needs no `patched()`. The worker adds `namespace`, `taskQueue` and `workflowType` tags;
 * these functions add `org_id` (one series per organization: the org IDs an operator runs, never user data).
 *
 * Served as `atlassian_audit_*` on the worker's Prometheus endpoint (worker/metrics.ts).
 */
import { metricMeter } from '@temporalio/workflow';
import { AuditPhase } from '../shared/phase';

export const WorkflowMetric = {
  /** Counter: events delivered to Datadog (after the ship, with the cursor moved on). Tags: org_id, origin. */
  eventsShipped: 'atlassian_audit_events_shipped',
  /** Counter: pages of `events-stream` fully handled (polled, shipped, cursor advanced). Tags: org_id, origin. */
  pages: 'atlassian_audit_pages',
  /** Counter: 429 answers from Atlassian that started a durable wait. Tags: org_id. */
  rateLimited: 'atlassian_audit_rate_limited',
  /** Counter: logs the intake kept refusing, replaced by a stub and kept as dead letters. Tags: org_id. */
  deadLettered: 'atlassian_audit_dead_lettered',
  /** Counter: streams restarted from their watermark after Atlassian refused or stopped advancing a cursor. Tags: org_id. */
  cursorRecoveries: 'atlassian_audit_cursor_recoveries',
  /** Counter: polls read again because the worker holding their page was gone before its ship. Tags: org_id. */
  pagesLost: 'atlassian_audit_pages_lost',
  /** Gauge: how far behind now the tail's delivered position was at the last loop turn, in seconds. Tags: org_id. */
  tailLagSeconds: 'atlassian_audit_tail_lag_seconds',
  /** Gauge: 1 for the org's current phase, 0 for every other phase. Tags: org_id, phase. */
  phase: 'atlassian_audit_phase',
} as const;

/** A page was delivered and its stream position moved on; `events` are the new ones shipped (repeats excluded). */
export function recordPagesDelivered(orgId: string, origin: 'tail' | 'backfill', pages: number, events: number): void {
  const tags = { org_id: orgId, origin };
  metricMeter.createCounter(WorkflowMetric.pages, undefined, 'Pages of events-stream delivered').add(pages, tags);
  metricMeter.createCounter(WorkflowMetric.eventsShipped, undefined, 'Audit events delivered to Datadog').add(events, tags);
}

/** Atlassian answered 429 and the workflow now waits until the time it gave. */
export function recordRateLimited(orgId: string): void {
  metricMeter.createCounter(WorkflowMetric.rateLimited, undefined, 'Atlassian 429 answers').add(1, { org_id: orgId });
}

export function recordDeadLettered(orgId: string, count: number): void {
  metricMeter.createCounter(WorkflowMetric.deadLettered, undefined, 'Logs kept as dead letters').add(count, { org_id: orgId });
}

export function recordCursorRecovery(orgId: string): void {
  metricMeter.createCounter(WorkflowMetric.cursorRecoveries, undefined, 'Cursor recoveries').add(1, { org_id: orgId });
}

export function recordPageLost(orgId: string): void {
  metricMeter.createCounter(WorkflowMetric.pagesLost, undefined, 'Pages read again after their worker was gone').add(1, { org_id: orgId });
}

/**
 * The org's phase and the tail's lag, as of this loop turn. Every phase is set (the current one to 1, the others to
 * 0) so that a phase the org has left drops to 0 instead of keeping its last value.
 */
export function recordPhaseAndLag(orgId: string, phase: AuditPhase, tailLagMs: number | null): void {
  const phaseGauge = metricMeter.createGauge(WorkflowMetric.phase, 'int', undefined, 'Current phase of the org (1 = current)');
  for (const each of Object.values(AuditPhase)) phaseGauge.set(each === phase ? 1 : 0, { org_id: orgId, phase: each });
  if (tailLagMs !== null) {
    metricMeter
      .createGauge(WorkflowMetric.tailLagSeconds, 'float', 's', 'Lag of the tail behind now')
      .set(tailLagMs / 1000, { org_id: orgId });
  }
}
