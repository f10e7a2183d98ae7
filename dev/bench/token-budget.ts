/**
 * How many requests an org's token bucket allowed in a window: the tokens it held when the window opened (replayed
 * from the bucket's creation, full, and every request it served before) plus what it refilled during the window,
 * rounded down because only a whole token pays for a request. Tokens that overflowed a full bucket count as
 * allowed: the org could have spent them.
 */
export interface BucketShape {
  requestsPerMinute: number;
  burst: number;
}

export function allowedRequests(bucket: BucketShape, filledAt: number, servedAt: readonly number[], window: { from: number; to: number }): number {
  const perMs = bucket.requestsPerMinute / 60_000;
  let tokens = bucket.burst;
  let clock = filledAt;
  for (const at of [...servedAt].sort((a, b) => a - b)) {
    if (at >= window.from) break;
    tokens = Math.min(bucket.burst, tokens + (at - clock) * perMs) - 1;
    clock = at;
  }
  const atOpening = Math.min(bucket.burst, tokens + (window.from - clock) * perMs);
  return Math.floor(atOpening + (window.to - window.from) * perMs);
}
