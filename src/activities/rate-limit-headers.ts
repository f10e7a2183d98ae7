/**
 * How long Atlassian asks us to wait after a 429. `Retry-After` (seconds or an HTTP date) is not documented for
 * the org API but honoured when present; `X-RateLimit-Reset` is documented as an ISO-8601 time, sometimes with
 * minute precision only (reference §5). A missing or absurd value gets a bounded default.
 */
export interface RateLimitWaitOptions {
  /** @default 60_000 */
  defaultWaitMs?: number;
  /** @default 1_000 */
  minWaitMs?: number;
  /** @default 300_000 (reference §5: clamp to at most 5 minutes) */
  maxWaitMs?: number;
}

export function rateLimitWaitMs(
  headers: Record<string, string | string[] | undefined>,
  nowMs: number,
  options: RateLimitWaitOptions = {}
): number {
  const { defaultWaitMs = 60_000, minWaitMs = 1_000, maxWaitMs = 300_000 } = options;
  const wait = retryAfterMs(header(headers, 'retry-after'), nowMs) ?? resetWaitMs(header(headers, 'x-ratelimit-reset'), nowMs);
  if (wait === undefined || !Number.isFinite(wait)) return defaultWaitMs;
  return Math.min(maxWaitMs, Math.max(minWaitMs, Math.ceil(wait)));
}

function retryAfterMs(value: string | undefined, nowMs: number): number | undefined {
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : date - nowMs;
}

function resetWaitMs(value: string | undefined, nowMs: number): number | undefined {
  if (!value) return undefined;
  const reset = Date.parse(value.trim());
  // A second of margin: the reset time may be rounded down to the minute or the second.
  return Number.isNaN(reset) ? undefined : reset - nowMs + 1_000;
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}
