/**
 * How long Atlassian asks us to wait after a 429. `Retry-After` (seconds or an HTTP date) is not documented for
 * the org API but honoured when present; `X-RateLimit-Reset` is documented as an ISO-8601 time, sometimes with
 * minute precision only (reference §5). A missing or absurd value gets a bounded default.
 */

import { MAX_RATE_LIMIT_WAIT_MS } from '../shared/request-pacing';

export interface RateLimitWaitOptions {
  /** @default 60_000 */
  defaultWaitMs?: number;
  /** @default 1_000 */
  minWaitMs?: number;
  /** @default MAX_RATE_LIMIT_WAIT_MS */
  maxWaitMs?: number;
}

export function rateLimitWaitMs(
  headers: Record<string, string | string[] | undefined>,
  nowMs: number,
  options: RateLimitWaitOptions = {}
): number {
  const { defaultWaitMs = 60_000, minWaitMs = 1_000, maxWaitMs = MAX_RATE_LIMIT_WAIT_MS } = options;
  const wait = retryAfterMs(header(headers, 'retry-after'), nowMs) ?? resetWaitMs(header(headers, 'x-ratelimit-reset'), nowMs);
  if (wait === undefined || !Number.isFinite(wait)) return defaultWaitMs;
  return Math.min(maxWaitMs, Math.max(minWaitMs, Math.ceil(wait)));
}

/** `Retry-After` (RFC 9110 §10.2.3): a number of seconds or an HTTP date; anything else is ignored. */
function retryAfterMs(value: string | undefined, nowMs: number): number | undefined {
  const trimmed = value?.trim();
  if (!trimmed) return undefined;
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed) * 1000;
  // Checked before Date.parse, which takes almost anything: it reads "-5" as 1 May 2001.
  if (!HTTP_DATE.test(trimmed)) return undefined;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : date - nowMs;
}

/** IMF-fixdate, the HTTP date servers send: `Sun, 06 Nov 1994 08:49:37 GMT`. */
const HTTP_DATE = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/;

function resetWaitMs(value: string | undefined, nowMs: number): number | undefined {
  const reset = parseRateLimitReset(value);
  // A second of margin: the reset time may be rounded down to the minute or the second.
  return reset === undefined ? undefined : reset - nowMs + 1_000;
}

/**
 * `X-RateLimit-Reset` as epoch ms: ISO-8601 with or without seconds (`2023-10-11T18:22Z`), offset written
 * `Z`, `+00:00` or `+0000`. Atlassian documents it as UTC, so a time without an offset is read as UTC, not as the
 * worker's local time. Anything else (epoch seconds, a bare date, words) is not a reset time.
 */
export function parseRateLimitReset(value: string | undefined): number | undefined {
  const match = ISO_INSTANT.exec(value?.trim() ?? '');
  if (!match) return undefined;
  const [, dateTime, offset] = match;
  const zone = !offset || offset.toUpperCase() === 'Z' ? 'Z' : `${offset.slice(0, 3)}:${offset.slice(-2)}`;
  const reset = Date.parse(`${dateTime}${zone}`);
  return Number.isNaN(reset) ? undefined : reset;
}

const ISO_INSTANT = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)(Z|[+-]\d{2}:?\d{2})?$/i;

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}
