/**
 * The project's metrics recorded in activities, through the activity context's metric meter (which adds
 * `namespace`, `taskQueue` and `activityType` tags). Activities count what actually went over the wire, retries
 * included: the workflow-side counters (workflows/workflow-metrics.ts) count what was delivered.
 *
 * Served as `atlassian_audit_*` on the worker's Prometheus endpoint (worker/metrics.ts).
 */
import { Context } from '@temporalio/activity';

export const ActivityMetric = {
  /** Counter: HTTP requests to the Atlassian admin API. Tags: org_id, endpoint, status. */
  atlassianRequests: 'atlassian_audit_atlassian_requests',
  /** Counter: HTTP requests to the Datadog logs intake. Tags: org_id, status. */
  datadogRequests: 'atlassian_audit_datadog_requests',
} as const;

/** How an HTTP exchange ended: the response's status code, or `transport-error` when none came (reset, timeout). */
export type HttpOutcome = number | 'transport-error';

export type AtlassianEndpoint = 'events-stream' | 'event-actions';

export function recordAtlassianRequest(orgId: string, endpoint: AtlassianEndpoint, outcome: HttpOutcome): void {
  Context.current()
    .metricMeter.createCounter(ActivityMetric.atlassianRequests, undefined, 'Requests to the Atlassian admin API')
    .add(1, { org_id: orgId, endpoint, status: String(outcome) });
}

export function recordDatadogRequest(orgId: string, outcome: HttpOutcome): void {
  Context.current()
    .metricMeter.createCounter(ActivityMetric.datadogRequests, undefined, 'Requests to the Datadog logs intake')
    .add(1, { org_id: orgId, status: String(outcome) });
}
