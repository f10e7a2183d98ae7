/**
 * When the next Atlassian request may go, and when the tail polls next: the one home of pacing. Pure, so the poll
 * activity (which paces the requests of a batch) and the workflow (which sleeps longer pauses durably) decide alike.
 * The poll activity owns `nextRequestAt`: every outcome says when the org's next request may go.
 */

/** The longest Atlassian's word may hold an org back at once (reference §5: clamp to at most 5 minutes). */
export const MAX_RATE_LIMIT_WAIT_MS = 300_000;

/** What Atlassian's `X-RateLimit-*` headers said of the budget on the last answer. */
export interface RateLimitBudget {
  limit?: number;
  remaining?: number;
  /** Epoch ms of the next reset, when Atlassian said. */
  resetAt?: number;
}

/** Empty tail polls in a row before the interval starts to grow. */
export const EMPTY_POLLS_BEFORE_BACKOFF = 3;

/**
 * A Temporal timer shorter than this fires after about this long anyway (seen on dev server 1.29.1): a shorter
 * pause goes into the poll activity instead, which sleeps it exactly.
 */
export const SHORTEST_TIMER_MS = 1_000;

/** The earliest time for the request after one sent at `sentAt`: the org's own cap first (none when undefined). */
export function earliestNextRequest(sentAt: number, maxRequestsPerMinute: number | undefined): number {
  return maxRequestsPerMinute === undefined ? sentAt : sentAt + Math.ceil(60_000 / maxRequestsPerMinute);
}

/**
 * Atlassian's `X-RateLimit-*` headers say when the budget is spent: with nothing remaining, the next request waits
 * instead of spending a request on a certain 429. It waits for one request's worth of budget, not for the reset:
 * the reset is when the whole budget (`X-RateLimit-Limit`) is back, and a budget that refills steadily (a token
 * bucket, as the stand-in models it) has its first request back after `1 / limit` of that time. Waiting for the
 * full reset would leave the refilled budget unused until then, and a reset rounded up to the second or the minute
 * (reference §5) would waste more. Should Atlassian's budget come back all at once at the reset instead, the early
 * request gets a 429 whose `Retry-After` or reset then rules: one request per window, not a lost event. A reset
 * absurdly far away holds the org back no longer than a 429 would.
 */
export function respectBudget(nextRequestAt: number, budget: RateLimitBudget, now: number): number {
  if (budget.remaining !== 0 || budget.resetAt === undefined || budget.resetAt <= now) return nextRequestAt;
  const requestsRestoredByReset = budget.limit !== undefined && budget.limit >= 1 ? budget.limit : 1;
  const untilOneRequestIsBack = Math.ceil((budget.resetAt - now) / requestsRestoredByReset);
  return Math.max(nextRequestAt, now + Math.min(untilOneRequestIsBack, MAX_RATE_LIMIT_WAIT_MS));
}

/**
 * A quiet organization is polled less and less often, up to a ceiling: each idle poll costs requests and
 * Temporal actions. The first event after a quiet spell resets the interval.
 */
export function tailPollDelay(pollIntervalMs: number, maxPollIntervalMs: number, emptyPolls: number): number {
  const doublings = Math.max(0, emptyPolls - EMPTY_POLLS_BEFORE_BACKOFF);
  return Math.min(Math.max(pollIntervalMs, maxPollIntervalMs), pollIntervalMs * 2 ** Math.min(doublings, 20));
}
