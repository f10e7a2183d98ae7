import { request } from 'undici';
import { parseRateLimitReset, rateLimitWaitMs } from '../../activities/rate-limit-headers';
import { AtlassianStandin } from '../../dev/standins/atlassian-standin';
import { EMPTY_POLLS_BEFORE_BACKOFF, earliestNextRequest, MAX_RATE_LIMIT_WAIT_MS, respectBudget, tailPollDelay, type RateLimitBudget } from '../../shared/request-pacing';

const NOW = Date.parse('2026-03-10T12:00:00.000Z');

describe('earliestNextRequest: the org’s own cap', () => {
  test.each([
    [60, 1_000],
    [1_200, 50],
    // Rounded up: never faster than the cap.
    [7, 8_572],
  ])('%i requests per minute: the next one %i ms after the last', (perMinute, gapMs) => {
    expect(earliestNextRequest(NOW, perMinute)).toBe(NOW + gapMs);
  });
});

describe('respectBudget: Atlassian’s X-RateLimit-* headers', () => {
  const capped = NOW + 50;

  test.each<[string, RateLimitBudget]>([
    ['requests remain', { limit: 5, remaining: 3, resetAt: NOW + 400 }],
    ['no headers were sent', {}],
    ['the reset is already past', { limit: 5, remaining: 0, resetAt: NOW - 1 }],
    ['nothing remains but no reset was given', { limit: 5, remaining: 0 }],
  ])('%s: only the cap applies', (_label, budget) => {
    expect(respectBudget(capped, budget, NOW)).toBe(capped);
  });

  test('nothing remains: waits for one request’s share of the time to the reset, not for the whole reset', () => {
    // Five requests come back over 2.5 s: the first of them after 0.5 s.
    expect(respectBudget(capped, { limit: 5, remaining: 0, resetAt: NOW + 2_500 }, NOW)).toBe(NOW + 500);
  });

  test('without X-RateLimit-Limit the reset is all it knows: it waits for the reset', () => {
    expect(respectBudget(capped, { remaining: 0, resetAt: NOW + 2_500 }, NOW)).toBe(NOW + 2_500);
    expect(respectBudget(capped, { limit: 0, remaining: 0, resetAt: NOW + 2_500 }, NOW)).toBe(NOW + 2_500);
  });

  test('the cap still wins when it is later', () => {
    const slowCap = NOW + 1_000;
    expect(respectBudget(slowCap, { limit: 5, remaining: 0, resetAt: NOW + 2_500 }, NOW)).toBe(slowCap);
  });

  test('an absurd reset holds the org back no longer than a 429 could', () => {
    const tomorrow = NOW + 86_400_000;
    expect(respectBudget(capped, { limit: 1, remaining: 0, resetAt: tomorrow }, NOW)).toBe(NOW + MAX_RATE_LIMIT_WAIT_MS);
  });
});

describe('tailPollDelay: a quiet org is polled less often', () => {
  const interval = 10_000;
  const ceiling = 40_000;

  test('the interval holds for the first empty polls, then doubles up to the ceiling', () => {
    const delays = Array.from({ length: EMPTY_POLLS_BEFORE_BACKOFF + 5 }, (_, emptyPolls) => tailPollDelay(interval, ceiling, emptyPolls));
    expect(delays).toEqual([10_000, 10_000, 10_000, 10_000, 20_000, 40_000, 40_000, 40_000]);
  });

  test('a ceiling below the interval never shortens it', () => {
    expect(tailPollDelay(interval, 1_000, 50)).toBe(interval);
  });

  test('a very long quiet spell stays at the ceiling (no overflow)', () => {
    expect(tailPollDelay(interval, ceiling, 10_000)).toBe(ceiling);
  });
});

/**
 * The workflow's loop, simulated against the Atlassian stand-in's own token bucket and headers on a shared fake
 * clock: each page takes `pageMs` to poll, map and ship, a wait is a Temporal timer (which never fires in less
 * than about a second on the dev server), and a 429 waits as long as its headers say.
 */
async function simulateLoop(options: {
  requestsPerMinute: number;
  burst: number;
  /** A page takes this long, give or take a third, varying deterministically like a loaded machine's. */
  pageMs: number;
  maxRequestsPerMinute: number;
  durationMs: number;
  retryAfterHeader: boolean;
}): Promise<{ served: number; rateLimited: number; allowed: number }> {
  const TIMER_FLOOR_MS = 1_000;
  let clock = NOW;
  const standin = await AtlassianStandin.start({
    now: () => clock,
    rateLimit: { requestsPerMinute: options.requestsPerMinute, burst: options.burst },
    retryAfterHeader: options.retryAfterHeader,
  });
  standin.addOrg('org', { apiKeys: ['key'] });
  let served = 0;
  let rateLimited = 0;
  let nextRequestAt = clock;
  let jitterSeed = 7;
  const nextPageMs = () => {
    jitterSeed = (jitterSeed * 48_271) % 2_147_483_647;
    return Math.round(options.pageMs * (2 / 3 + (2 / 3) * (jitterSeed / 2_147_483_647)));
  };
  try {
    while (clock < NOW + options.durationMs) {
      if (nextRequestAt > clock) clock = Math.max(nextRequestAt, clock + TIMER_FLOOR_MS);
      nextRequestAt = earliestNextRequest(clock, options.maxRequestsPerMinute);
      const response = await request(`${standin.url}/admin/v1/orgs/org/events-stream?limit=10`, {
        headers: { authorization: 'Bearer key' },
      });
      await response.body.dump();
      const header = (name: string) => response.headers[name] as string | undefined;
      const budget: RateLimitBudget = {
        limit: Number(header('x-ratelimit-limit')),
        remaining: Number(header('x-ratelimit-remaining')),
        resetAt: parseRateLimitReset(header('x-ratelimit-reset')),
      };
      nextRequestAt = respectBudget(nextRequestAt, budget, clock);
      if (response.statusCode === 429) {
        rateLimited++;
        nextRequestAt = Math.max(nextRequestAt, clock + rateLimitWaitMs(response.headers, clock));
      } else {
        expect(response.statusCode).toBe(200);
        served++;
        clock += nextPageMs();
      }
    }
  } finally {
    await standin.close();
  }
  const allowed = (options.requestsPerMinute * (clock - NOW)) / 60_000 + options.burst;
  return { served, rateLimited, allowed };
}

describe('pacing by the stand-in’s headers alone (our cap set above its bucket)', () => {
  test.each([true, false])(
    'a loop faster than the budget uses at least 98%% of it and meets no 429 (Retry-After sent: %s)',
    async (retryAfterHeader) => {
      const { served, rateLimited, allowed } = await simulateLoop({
        requestsPerMinute: 120,
        burst: 5,
        pageMs: 270,
        maxRequestsPerMinute: 1_200,
        durationMs: 10 * 60_000,
        retryAfterHeader,
      });
      expect(rateLimited).toBe(0);
      // Waiting for the whole reset instead (bucket full again, rounded up to the second) uses 94% here.
      expect(served / allowed).toBeGreaterThanOrEqual(0.98);
      expect(served).toBeLessThanOrEqual(allowed);
    }
  );
});
