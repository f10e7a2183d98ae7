/**
 * When the next Atlassian request may go, and when the tail polls next. Pure, on workflow time, so that pacing
 * survives replays, restarts and continue-as-new with the state it depends on.
 */
import type { RateLimitBudget } from '../activities/poll';

/** Empty tail polls in a row before the interval starts to grow. */
export const EMPTY_POLLS_BEFORE_BACKOFF = 3;

/** The earliest time for the request after one sent at `sentAt`: the org's own cap first. */
export function earliestNextRequest(sentAt: number, maxRequestsPerMinute: number): number {
  return sentAt + Math.ceil(60_000 / maxRequestsPerMinute);
}

/**
 * Atlassian's `X-RateLimit-*` headers say when the budget is spent: with nothing remaining, the next request
 * waits for the reset instead of spending a request on a certain 429.
 */
export function respectBudget(nextRequestAt: number, budget: RateLimitBudget, now: number): number {
  if (budget.remaining === 0 && budget.resetAt !== undefined && budget.resetAt > now) {
    return Math.max(nextRequestAt, budget.resetAt);
  }
  return nextRequestAt;
}

/**
 * A quiet organization is polled less and less often, up to a ceiling: each idle poll costs requests and
 * Temporal actions. The first event after a quiet spell resets the interval.
 */
export function tailPollDelay(pollIntervalMs: number, maxPollIntervalMs: number, emptyPolls: number): number {
  const doublings = Math.max(0, emptyPolls - EMPTY_POLLS_BEFORE_BACKOFF);
  return Math.min(Math.max(pollIntervalMs, maxPollIntervalMs), pollIntervalMs * 2 ** Math.min(doublings, 20));
}
