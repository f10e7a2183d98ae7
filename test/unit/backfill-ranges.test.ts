import {
  ATLASSIAN_RETENTION_MS,
  InvalidBackfillRangeError,
  parseInstant,
  rangeErrorMessage,
  subtractRanges,
  validateBackfillRequest,
} from '../../workflows/backfill-ranges';

const DAY = 86_400_000;
const now = Date.parse('2026-11-25T12:00:00Z');
const limits = { now, tailFrom: now - DAY };

describe('validateBackfillRequest', () => {
  test('accepts a past range and clamps it to the tail start', () => {
    expect(validateBackfillRequest({ from: '2026-11-20T00:00:00Z', to: '2026-11-25T00:00:00Z' }, limits)).toEqual({
      from: Date.parse('2026-11-20T00:00:00Z'),
      to: now - DAY,
    });
  });

  test.each([
    [{ from: '2026-11-21T00:00:00Z', to: '2026-11-20T00:00:00Z' }, /^from must be before to /],
    [{ from: '2026-11-20T00:00:00Z', to: '2026-11-20T00:00:00Z' }, /^from must be before to /],
    [{ from: '2026-11-20T00:00:00Z', to: '2026-11-26T00:00:00Z' }, /^to is in the future/],
    [{ from: now - ATLASSIAN_RETENTION_MS - 1, to: now - DAY * 2 }, /older than Atlassian's 180-day retention/],
    [{ from: now - DAY / 2, to: now - 1 }, /already covered by the tail/],
    [{ from: 'last tuesday', to: '2026-11-20T00:00:00Z' }, /^from is not a valid time/],
    [{ from: '2026-11-20', to: '2026-11-20T25:00:00Z' }, /^to is not a valid time/],
    [{ from: '2026-02-31', to: '2026-11-20T00:00:00Z' }, /^from is not a valid time/],
    [{ from: '2026-11-19T10:00:00', to: '2026-11-20T00:00:00Z' }, /^from is not a valid time/],
  ])('refuses %j, naming the bound without any flag', (request, message) => {
    expect(() => validateBackfillRequest(request, limits)).toThrow(InvalidBackfillRangeError);
    try {
      validateBackfillRequest(request, limits);
    } catch (err) {
      expect(rangeErrorMessage(err as InvalidBackfillRangeError)).toMatch(message);
      expect(rangeErrorMessage(err as InvalidBackfillRangeError)).not.toContain('--');
    }
  });

  test('a caller names the bound its own way', () => {
    try {
      validateBackfillRequest({ from: '2026-11-20T00:00:00Z', to: '2026-11-26T00:00:00Z' }, limits);
      throw new Error('accepted a range ending in the future');
    } catch (err) {
      expect(rangeErrorMessage(err as InvalidBackfillRangeError, (field) => `--${field}`)).toMatch(/^--to is in the future/);
    }
    try {
      validateBackfillRequest({ from: '2026-11-21T00:00:00Z', to: '2026-11-20T00:00:00Z' }, limits);
      throw new Error('accepted a backwards range');
    } catch (err) {
      expect(rangeErrorMessage(err as InvalidBackfillRangeError, (field) => `--${field}`)).toMatch(/^--from must be before --to \(got /);
    }
  });
});

describe('parseInstant', () => {
  test('takes a date (midnight UTC), a date and time with an offset, and epoch ms as a number', () => {
    expect(parseInstant('2026-11-20')).toBe(Date.parse('2026-11-20T00:00:00Z'));
    expect(parseInstant('2026-11-20T10:00:00+02:00')).toBe(Date.parse('2026-11-20T08:00:00Z'));
    expect(parseInstant('2024-02-29T23:59:59.5Z')).toBe(Date.parse('2024-02-29T23:59:59.500Z'));
    expect(parseInstant(5)).toBe(5);
  });

  test.each(['Nov 20 2026', '1764000000000', '2026-02-31', '2026-02-29', '2026-13-01', '2026-11-20T10:00:00', '2026-11-20T10:00'])(
    'refuses %s (loose, impossible, or a time without an offset)',
    (value) => {
      expect(() => parseInstant(value)).toThrow('is not a valid time');
    }
  );
});

describe('subtractRanges', () => {
  test('keeps what queued ranges do not cover, in order', () => {
    expect(subtractRanges({ from: 0, to: 100 }, [{ from: 20, to: 30 }, { from: 50, to: 60 }])).toEqual([
      { from: 0, to: 20 },
      { from: 30, to: 50 },
      { from: 60, to: 100 },
    ]);
  });

  test('a range inside a queued one adds nothing; touching ranges stay apart', () => {
    expect(subtractRanges({ from: 10, to: 20 }, [{ from: 0, to: 100 }])).toEqual([]);
    expect(subtractRanges({ from: 0, to: 10 }, [{ from: 10, to: 20 }])).toEqual([{ from: 0, to: 10 }]);
  });
});
