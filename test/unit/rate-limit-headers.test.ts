import { parseRateLimitReset, rateLimitWaitMs } from '../../activities/rate-limit-headers';
import { MAX_RATE_LIMIT_WAIT_MS } from '../../shared/request-pacing';

const NOW = Date.parse('2026-03-10T12:00:00.000Z');
const DEFAULT_WAIT_MS = 60_000;
/** What `rateLimitWaitMs` adds to a reset time, which may have been rounded down. */
const RESET_MARGIN_MS = 1_000;

describe('Retry-After', () => {
  test.each([
    ['30', 30_000],
    ['1.5', 1_500],
    [' 12 ', 12_000],
  ])('as seconds: %j waits %i ms', (value, expected) => {
    expect(rateLimitWaitMs({ 'retry-after': value }, NOW)).toBe(expected);
  });

  test('as an HTTP date: waits until that time', () => {
    expect(rateLimitWaitMs({ 'retry-after': 'Tue, 10 Mar 2026 12:00:45 GMT' }, NOW)).toBe(45_000);
  });

  test('wins over X-RateLimit-Reset', () => {
    const headers = { 'retry-after': '7', 'x-ratelimit-reset': '2026-03-10T12:03:00Z' };
    expect(rateLimitWaitMs(headers, NOW)).toBe(7_000);
  });

  test('a repeated header: the first value counts', () => {
    expect(rateLimitWaitMs({ 'retry-after': ['5', '90'] }, NOW)).toBe(5_000);
  });

  test.each(['-5', 'soon', '5s', '10 Mar 2026', '2026-03-10T12:00:45Z'])(
    'an unreadable value %j is ignored: X-RateLimit-Reset decides, or the default',
    (value) => {
      expect(rateLimitWaitMs({ 'retry-after': value, 'x-ratelimit-reset': '2026-03-10T12:00:20Z' }, NOW)).toBe(20_000 + RESET_MARGIN_MS);
      expect(rateLimitWaitMs({ 'retry-after': value }, NOW)).toBe(DEFAULT_WAIT_MS);
    }
  );
});

describe('X-RateLimit-Reset (ISO-8601, reference §5)', () => {
  test.each([
    ['with seconds', '2026-03-10T12:00:30Z', 30_000],
    ['with milliseconds', '2026-03-10T12:00:30.250Z', 30_250],
    ['minute precision, as Grove parses it', '2026-03-10T12:02Z', 120_000],
    ['with a +00:00 offset', '2026-03-10T12:02+00:00', 120_000],
    ['with a +0000 offset', '2026-03-10T12:02+0000', 120_000],
    ['with another offset', '2026-03-10T13:00:30+01:00', 30_000],
    ['without an offset, read as UTC', '2026-03-10T12:00:30', 30_000],
  ])('%s (%s)', (_label, value, untilReset) => {
    expect(rateLimitWaitMs({ 'x-ratelimit-reset': value }, NOW)).toBe(untilReset + RESET_MARGIN_MS);
  });

  test.each([
    ['epoch seconds (Grove’s first mistake)', '1773144030'],
    ['a date without a time', '2026-03-10'],
    ['words', 'next minute'],
    ['an HTTP date', 'Tue, 10 Mar 2026 12:00:45 GMT'],
    ['empty', ''],
  ])('%s is not a reset time', (_label, value) => {
    expect(parseRateLimitReset(value)).toBeUndefined();
    expect(rateLimitWaitMs({ 'x-ratelimit-reset': value }, NOW)).toBe(DEFAULT_WAIT_MS);
  });
});

describe('bounds', () => {
  test('no header at all gets the default wait', () => {
    expect(rateLimitWaitMs({}, NOW)).toBe(DEFAULT_WAIT_MS);
  });

  test('an absurdly long wait is cut to five minutes', () => {
    expect(rateLimitWaitMs({ 'retry-after': '86400' }, NOW)).toBe(MAX_RATE_LIMIT_WAIT_MS);
    expect(rateLimitWaitMs({ 'x-ratelimit-reset': '2027-01-01T00:00Z' }, NOW)).toBe(MAX_RATE_LIMIT_WAIT_MS);
    expect(MAX_RATE_LIMIT_WAIT_MS).toBe(5 * 60_000);
  });

  test('zero, or a time already past, still waits a second rather than hammering', () => {
    expect(rateLimitWaitMs({ 'retry-after': '0' }, NOW)).toBe(1_000);
    expect(rateLimitWaitMs({ 'retry-after': 'Tue, 10 Mar 2026 11:00:00 GMT' }, NOW)).toBe(1_000);
    expect(rateLimitWaitMs({ 'x-ratelimit-reset': '2026-03-10T11:59Z' }, NOW)).toBe(1_000);
  });

  test('the bounds and the default can be chosen', () => {
    const options = { defaultWaitMs: 5_000, minWaitMs: 2_000, maxWaitMs: 10_000 };
    expect(rateLimitWaitMs({}, NOW, options)).toBe(5_000);
    expect(rateLimitWaitMs({ 'retry-after': '0' }, NOW, options)).toBe(2_000);
    expect(rateLimitWaitMs({ 'retry-after': '60' }, NOW, options)).toBe(10_000);
  });
});
