/**
 * The arithmetic of a verify: which hours need their IDs compared after the counts, what one hour's comparison
 * finds, and the report of a pass. Pure, so the workflow, the activities and the client share it and it has unit
 * tests without a server.
 *
 * Words, per hour of event time: `expected` events Atlassian lists; `present` of those that Datadog holds at least
 * once; `missing` = expected − present; `extra` logs beyond one per expected event: a repeat of an event's log, or a
 * log whose event Atlassian does not list in that hour.
 */
import { HOUR_MS } from './verify-input';
import type { VerifySettings } from './verify-settings';

/** Atlassian events per UTC hour, keyed by the hour's ISO time. */
export type HourCounts = Record<string, number>;

/** Per UTC hour of event time: the org's logs in Datadog that carry an event ID, and how many distinct IDs they carry. */
export type DatadogHourCounts = Record<string, { logs: number; distinctIds: number }>;

/** IDs listed per hour in a report; the counts are always whole. */
export const REPORT_IDS_PER_HOUR = 100;

export function hourOf(ms: number): string {
  return new Date(Math.floor(ms / HOUR_MS) * HOUR_MS).toISOString();
}

/** Adds `counts` to `total`, hour by hour. */
export function addCounts(total: HourCounts, counts: HourCounts): HourCounts {
  const sum = { ...total };
  for (const [hour, count] of Object.entries(counts)) sum[hour] = (sum[hour] ?? 0) + count;
  return sum;
}

/**
 * Hours whose IDs must be compared: Datadog's count of logs or of distinct IDs differs from Atlassian's count.
 * Counting both catches a repeat beside a missing event in the same hour, which leave the count of logs as it was.
 * An hour where both agree is taken as complete without reading its IDs.
 */
export function hoursToCompare(expected: HourCounts, datadog: DatadogHourCounts): string[] {
  const hours = new Set([...Object.keys(expected), ...Object.keys(datadog)]);
  return [...hours]
    .filter((hour) => {
      const count = expected[hour] ?? 0;
      const held = datadog[hour] ?? { logs: 0, distinctIds: 0 };
      return held.logs !== count || held.distinctIds !== count;
    })
    .sort();
}

/** One hour compared ID by ID. */
export interface HourComparison {
  hour: string;
  expected: number;
  present: number;
  missingCount: number;
  /** In Atlassian's order, at most the `listUpTo` given. */
  missingIds: string[];
  extraCount: number;
  /** Each ID with extra logs once, at most the `listUpTo` given. */
  extraIds: string[];
}

/** Compares the distinct event IDs Atlassian lists for an hour with the IDs of the hour's logs in Datadog (repeats kept). */
export function compareIds(hour: string, expectedIds: readonly string[], datadogIds: readonly string[], listUpTo: number): HourComparison {
  const expected = [...new Set(expectedIds)];
  const expectedSet = new Set(expected);
  const held = new Map<string, number>();
  for (const id of datadogIds) held.set(id, (held.get(id) ?? 0) + 1);
  const missing = expected.filter((id) => !held.has(id));
  let extraCount = 0;
  const extraIds: string[] = [];
  for (const [id, logs] of held) {
    const extra = expectedSet.has(id) ? logs - 1 : logs;
    if (extra === 0) continue;
    extraCount += extra;
    extraIds.push(id);
  }
  return {
    hour,
    expected: expected.length,
    present: expected.length - missing.length,
    missingCount: missing.length,
    missingIds: missing.slice(0, listUpTo),
    extraCount,
    extraIds: extraIds.slice(0, listUpTo),
  };
}

export interface HourReport {
  hour: string;
  expected: number;
  present: number;
  missing: number;
  extra: number;
  /** `counts`: Datadog's counts equal Atlassian's; `ids`: they did not, and the IDs were compared. */
  comparedBy: 'counts' | 'ids';
  missingIds: string[];
  extraIds: string[];
}

export interface Totals {
  expected: number;
  present: number;
  missing: number;
  extra: number;
}

export interface PassReport {
  /** 1, and 2 for the pass after a repair. */
  pass: number;
  finishedAt: string;
  /** Every hour where Atlassian or Datadog has anything, in time order. */
  hours: HourReport[];
  totals: Totals;
  /** Elements Atlassian served in the range without a readable time: they cannot be placed in an hour. */
  undated: number;
}

export function passReport(
  pass: number,
  finishedAt: number,
  expected: HourCounts,
  datadog: DatadogHourCounts,
  compared: readonly HourComparison[],
  undated: number
): PassReport {
  const byHour = new Map(compared.map((comparison) => [comparison.hour, comparison]));
  const hours = [...new Set([...Object.keys(expected), ...Object.keys(datadog), ...byHour.keys()])].sort().map((hour): HourReport => {
    const comparison = byHour.get(hour);
    if (comparison) {
      return {
        hour,
        expected: comparison.expected,
        present: comparison.present,
        missing: comparison.missingCount,
        extra: comparison.extraCount,
        comparedBy: 'ids',
        missingIds: comparison.missingIds.slice(0, REPORT_IDS_PER_HOUR),
        extraIds: comparison.extraIds.slice(0, REPORT_IDS_PER_HOUR),
      };
    }
    const count = expected[hour] ?? 0;
    return { hour, expected: count, present: count, missing: 0, extra: 0, comparedBy: 'counts', missingIds: [], extraIds: [] };
  });
  const totals = hours.reduce(
    (sum, hour) => ({
      expected: sum.expected + hour.expected,
      present: sum.present + hour.present,
      missing: sum.missing + hour.missing,
      extra: sum.extra + hour.extra,
    }),
    { expected: 0, present: 0, missing: 0, extra: 0 }
  );
  return { pass, finishedAt: new Date(finishedAt).toISOString(), hours, totals, undated };
}

/** What a repair re-shipped. */
export interface RepairSummary {
  /** Logs Datadog accepted, each the log of one missing event, marked `repaired:true`. */
  shipped: number;
  /** Of those, dated at ingest because their event time lay outside Datadog's 18-hour window. */
  redated: number;
  /** Of those, refused by Datadog and kept as dead letters on the worker (a stub went in their place). */
  deadLettered: number;
  /** Missing events Atlassian no longer served when they were read again. */
  notFound: number;
  /** Missing events beyond what one run repairs per hour; another `verify --repair` takes them. */
  leftForNextRun: number;
}

export interface VerifyRangeResult {
  orgId: string;
  workflowId: string;
  /** Whole UTC hours, ISO. */
  from: string;
  to: string;
  indexes: string[];
  repair: boolean;
  settings: Pick<VerifySettings, 'source' | 'maxRequestsPerMinute'>;
  /** The first pass, and after a repair the pass that checked it. */
  passes: PassReport[];
  repaired: RepairSummary | null;
}

/** What the last pass found missing: the verdict of a run. */
export function missingAtEnd(result: VerifyRangeResult): number {
  return result.passes.at(-1)?.totals.missing ?? 0;
}
