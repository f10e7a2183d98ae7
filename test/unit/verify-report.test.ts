/** The arithmetic of a verify (which hours to compare, one hour's comparison, a pass's report) and how it is printed. */
import { formatVerifyReport } from '../../client/verify/format-verify-report';
import { verifiedRange, verifyRangeInputSchema, verifyWorkflowId } from '../../shared/verify/verify-input';
import {
  addCounts,
  compareIds,
  hourOf,
  hoursToCompare,
  missingAtEnd,
  passReport,
  REPORT_IDS_PER_HOUR,
  type VerifyRangeResult,
} from '../../shared/verify/verify-report';
import { verifySettings } from '../../shared/verify/verify-settings';

const H0 = '2026-03-01T10:00:00.000Z';
const H1 = '2026-03-01T11:00:00.000Z';
const H2 = '2026-03-01T12:00:00.000Z';

describe('hours to compare', () => {
  it('are those where the count of logs or of distinct IDs differs from the count of events', () => {
    const expected = { [H0]: 3, [H1]: 2, [H2]: 5 };
    const datadog = {
      [H0]: { logs: 3, distinctIds: 3 },
      // A repeat beside a missing event: the logs add up, the distinct IDs do not.
      [H1]: { logs: 2, distinctIds: 1 },
      '2026-03-01T13:00:00.000Z': { logs: 1, distinctIds: 1 },
    };
    expect(hoursToCompare(expected, datadog)).toEqual([H1, H2, '2026-03-01T13:00:00.000Z']);
    expect(hoursToCompare({}, {})).toEqual([]);
  });

  it('adds the counts of slices hour by hour', () => {
    expect(addCounts({ [H0]: 2 }, { [H0]: 1, [H1]: 4 })).toEqual({ [H0]: 3, [H1]: 4 });
    expect(hourOf(Date.parse('2026-03-01T10:59:59.999Z'))).toBe(H0);
  });
});

describe("one hour's comparison", () => {
  it('finds the missing in Atlassian order, and counts repeats and unknown IDs as extra', () => {
    const comparison = compareIds(H0, ['e1', 'e2', 'e3', 'e4', 'e2'], ['e4', 'e1', 'e1', 'e1', 'stranger'], 10);
    expect(comparison).toEqual({
      hour: H0,
      expected: 4,
      present: 2,
      missingCount: 2,
      missingIds: ['e2', 'e3'],
      extraCount: 3,
      extraIds: ['e1', 'stranger'],
    });
  });

  it('lists at most the IDs asked for, counting them all', () => {
    const ids = Array.from({ length: 30 }, (_, i) => `e${i}`);
    const comparison = compareIds(H0, ids, [], 5);
    expect(comparison.missingCount).toBe(30);
    expect(comparison.missingIds).toEqual(ids.slice(0, 5));
  });
});

describe("a pass's report", () => {
  it('takes hours compared by ID from their comparison, the others from the counts, and sums them', () => {
    const expected = { [H0]: 3, [H1]: 2 };
    const datadog = { [H0]: { logs: 3, distinctIds: 3 }, [H1]: { logs: 2, distinctIds: 1 }, [H2]: { logs: 1, distinctIds: 1 } };
    const report = passReport(
      1,
      Date.parse('2026-03-02T03:00:05.000Z'),
      expected,
      datadog,
      [compareIds(H1, ['x', 'y'], ['x', 'x'], 10), compareIds(H2, [], ['late'], 10)],
      1
    );
    expect(report).toEqual({
      pass: 1,
      finishedAt: '2026-03-02T03:00:05.000Z',
      hours: [
        { hour: H0, expected: 3, present: 3, missing: 0, extra: 0, comparedBy: 'counts', missingIds: [], extraIds: [] },
        { hour: H1, expected: 2, present: 1, missing: 1, extra: 1, comparedBy: 'ids', missingIds: ['y'], extraIds: ['x'] },
        { hour: H2, expected: 0, present: 0, missing: 0, extra: 1, comparedBy: 'ids', missingIds: [], extraIds: ['late'] },
      ],
      totals: { expected: 5, present: 4, missing: 1, extra: 2 },
      undated: 1,
    });
  });

  it('lists at most REPORT_IDS_PER_HOUR IDs of an hour, however many a repair compared', () => {
    const ids = Array.from({ length: REPORT_IDS_PER_HOUR + 7 }, (_, i) => `e${i}`);
    const report = passReport(1, 0, { [H0]: ids.length }, {}, [compareIds(H0, ids, [], 5_000)], 0);
    expect(report.hours[0]!.missingIds).toHaveLength(REPORT_IDS_PER_HOUR);
    expect(report.totals.missing).toBe(ids.length);
  });
});

describe('the input of a run', () => {
  it('covers whole UTC hours, or the UTC day before the run', () => {
    expect(verifiedRange({ from: Date.parse('2026-03-01T10:20:00Z'), to: Date.parse('2026-03-01T12:00:00Z') }, 0)).toEqual({
      from: Date.parse(H0),
      to: Date.parse(H2),
    });
    expect(verifiedRange({ previousUtcDay: true }, Date.parse('2026-03-02T03:00:01Z'))).toEqual({
      from: Date.parse('2026-03-01T00:00:00Z'),
      to: Date.parse('2026-03-02T00:00:00Z'),
    });
  });

  it('has one workflow ID per org, hours and mode', () => {
    const range = { from: Date.parse(H0), to: Date.parse(H2) };
    expect(verifyWorkflowId('org-1', range, false)).toBe('atlassian-audit-verify-org-1-20260301T10Z-20260301T12Z');
    expect(verifyWorkflowId('org-1', range, true)).toBe('atlassian-audit-repair-org-1-20260301T10Z-20260301T12Z');
  });

  it('is refused when it is not one, and defaults what it may leave out', () => {
    const parse = (input: unknown) => verifyRangeInputSchema.safeParse(input);
    expect(parse({ orgId: 'o', range: { from: 2, to: 1 } }).success).toBe(false);
    expect(parse({ orgId: 'o', range: { from: 0, to: 32 * 24 * 3_600_000 } }).success).toBe(false);
    expect(parse({ orgId: 'o', range: { previousUtcDay: true }, indexes: ['main', 'bad index'] }).success).toBe(false);
    expect(parse({ orgId: 'o', range: { previousUtcDay: true }, datadogKey: 'a-raw-key' }).success).toBe(false);
    expect(parse({ orgId: 'o', range: { previousUtcDay: true } }).data).toEqual({
      orgId: 'o',
      range: { previousUtcDay: true },
      repair: false,
      indexes: ['*'],
      indexingDelayMs: 60_000,
    });
  });

  it("takes a fifth of the org's budget and its keys, or the defaults when the org does not answer", () => {
    const request = verifyRangeInputSchema.parse({ orgId: 'o', range: { previousUtcDay: true } });
    const org = { atlassian: { ref: 'file:/run/secrets/a', version: 3 }, datadog: { ref: 'env:DD_API_KEY_2', version: 1 }, maxRequestsPerMinute: 50, pageLimit: 100 };
    expect(verifySettings(request, org)).toEqual({ ...org, maxRequestsPerMinute: 10, source: 'org-status' });
    expect(verifySettings(request, { ...org, maxRequestsPerMinute: 3 }).maxRequestsPerMinute).toBe(1);
    expect(verifySettings(request, null)).toEqual({
      atlassian: { ref: 'env:ATLASSIAN_API_KEY', version: 1 },
      datadog: { ref: 'env:DD_API_KEY', version: 1 },
      maxRequestsPerMinute: 10,
      pageLimit: 200,
      source: 'defaults',
    });
    expect(verifySettings({ ...request, datadogKey: 'env:DD_API_KEY_3', maxRequestsPerMinute: 30 }, org)).toMatchObject({
      datadog: { ref: 'env:DD_API_KEY_3', version: 1 },
      maxRequestsPerMinute: 30,
    });
  });
});

describe('the printed report', () => {
  const pass = (number: number, missing: boolean) =>
    passReport(
      number,
      Date.parse('2026-03-02T03:01:00.000Z'),
      { [H0]: 2, [H1]: 2 },
      { [H0]: { logs: 2, distinctIds: 2 }, [H1]: { logs: missing ? 2 : 3, distinctIds: missing ? 1 : 2 } },
      [compareIds(H1, ['x', 'y'], missing ? ['x', 'x'] : ['x', 'x', 'y'], 10)],
      0
    );
  const result = (passes: VerifyRangeResult['passes'], repaired: VerifyRangeResult['repaired'] = null): VerifyRangeResult => ({
    orgId: 'org-1',
    workflowId: 'atlassian-audit-verify-org-1-20260301T10Z-20260301T12Z',
    from: H0,
    to: H2,
    indexes: ['main'],
    repair: repaired !== null,
    settings: { source: 'org-status', maxRequestsPerMinute: 10 },
    passes,
    repaired,
  });

  it('is a table per pass with the IDs, the verdict, and a note on Datadog-side causes when something is missing', () => {
    const text = formatVerifyReport(result([pass(1, true)]));
    expect(text).toContain(
      [
        'HOUR (UTC)         EXPECTED  PRESENT  MISSING  EXTRA  BY',
        '2026-03-01T10:00Z         2        2        0      0  counts',
        '2026-03-01T11:00Z         2        1        1      1  ids',
        'TOTAL                     4        3        1      1',
        '  missing in 2026-03-01T11:00Z: y',
        '  extra in 2026-03-01T11:00Z: 1 log of events x',
      ].join('\n')
    );
    expect(text).toContain('result: 1 missing');
    expect(text).toContain('Datadog may lack logs for reasons of its own; searched: main.');
    expect(text).toMatch(/retention/);
    expect(text).toMatch(/exclusion filters/);
    expect(text).toMatch(/other indexes/);
    expect(missingAtEnd(result([pass(1, true)]))).toBe(1);
  });

  it('shows both passes of a repair, and no note once nothing is missing', () => {
    const repaired = { shipped: 1, redated: 1, deadLettered: 0, notFound: 0, leftForNextRun: 0 };
    const text = formatVerifyReport(result([pass(1, true), pass(2, false)], repaired));
    expect(text).toContain("repair: 1 log re-shipped, tagged repaired:true, 1 dated at ingest (outside Datadog's 18 h window)");
    expect(text).toContain('pass 2 (after the repair)');
    expect(text.indexOf('pass 1')).toBeLessThan(text.indexOf('repair:'));
    expect(text.indexOf('repair:')).toBeLessThan(text.indexOf('pass 2'));
    expect(text).toContain('result: nothing missing');
    expect(text).not.toContain('Datadog may lack logs');
    expect(missingAtEnd(result([pass(1, true), pass(2, false)], repaired))).toBe(0);
  });
});
