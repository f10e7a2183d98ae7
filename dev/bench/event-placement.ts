/**
 * Where seeded demo events sit in time, so that each lands with the job meant to read it. The tail reads events
 * whose own time is at or after its `since`; a backfill reads a range before it. Demo events happen up to six hours
 * before Atlassian processes them (late events), so the two groups are kept more than six hours apart; and all stay
 * within Datadog's 18-hour window, so that no log is re-dated on the way (which would be extra work to measure).
 */
const HOUR_MS = 3_600_000;

/** Demo events happen at most this long before they are processed (see processingDelayMs in demo-events.ts). */
const LATEST_LATE_EVENT_MS = 6 * HOUR_MS;

export interface EventPlacement {
  /** `since` of the org's tail: every tail event happens at or after it, every backfill event before it. */
  tailSince: number;
  /** Processing times of events for the tail: the last hour. */
  tailProcessedFrom: number;
  /** Processing times of events for a backfill: an hour that ends before any tail event can have happened. */
  backfillProcessedFrom: number;
  /** The backfill range that covers every backfill event. */
  backfillRange: { from: number; to: number };
}

export function placeEvents(now: number): EventPlacement {
  const tailSince = now - LATEST_LATE_EVENT_MS - HOUR_MS;
  const backfillProcessedFrom = tailSince - 2 * HOUR_MS;
  return {
    tailSince,
    tailProcessedFrom: now - HOUR_MS,
    backfillProcessedFrom,
    backfillRange: { from: backfillProcessedFrom - LATEST_LATE_EVENT_MS - 1, to: tailSince },
  };
}

/** Spacing that spreads `count` events over one hour of processing time. */
export function spacingOverAnHour(count: number): number {
  return HOUR_MS / Math.max(1, count);
}
