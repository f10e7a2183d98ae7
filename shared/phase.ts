/** What an organization's workflow is doing, as shown in the UI (search attribute) and by `status`. */
export const AuditPhase = {
  /** Tail caught up, nothing queued: waiting for the next poll. */
  Idle: 'idle',
  /** Tail catching up (the last page was full). */
  Running: 'running',
  /** At least one backfill range is queued or in progress. */
  Backfilling: 'backfilling',
  /** Atlassian answered 429: waiting until the time it gave. */
  RateLimited: 'rate-limited',
  Paused: 'paused',
  /**
   * Not advancing though nothing holds it: a failure no retry fixes (retried later), a poll or ship retrying for
   * minutes (an outage), a cursor that does not move. Status says why.
   */
  Stalled: 'stalled',
  /** A key was refused (401/403) or cannot be resolved: holding the cursor until `rotate`. */
  AwaitingCredentials: 'awaiting-credentials',
  /**
   * Atlassian refused the org's audit log for its plan: holding the cursor, asking again every hour or at once on
   * `resume` (a new key does not help; a plan with Atlassian Guard does).
   */
  AwaitingEntitlement: 'awaiting-entitlement',
  /** `stop` was requested; the workflow completes after the page in flight. */
  Stopped: 'stopped',
} as const;
export type AuditPhase = (typeof AuditPhase)[keyof typeof AuditPhase];
