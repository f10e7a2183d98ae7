/** What a backfill scenario (budget-scenario.ts, backfill-under-faults.ts) collects: events of a past range. */
import { generateDemoEvents } from '../standins/demo-events';
import type { Bench } from './reliability-bench';

/**
 * `count` events processed now whose own times are spread evenly over [from, to): only a backfill of that range
 * delivers them. Returns their IDs.
 */
export function addPastEvents(bench: Bench, orgId: string, count: number, range: { from: number; to: number }, seed: number): string[] {
  const events = generateDemoEvents({ seed, count, startTime: range.from, spacingMs: 1, orgId }).map((event, i) => ({
    ...event,
    time: range.from + Math.floor(((range.to - range.from) * i) / count),
    processedAt: undefined,
  }));
  return bench.atlassian.addEvents(orgId, events).map((e) => e.id);
}

/** The range a backfill scenario covers: two days that end an hour before now, where the org's tail starts. */
export function pastRange(): { from: number; to: number } {
  const to = Date.now() - 3_600_000;
  return { from: to - 2 * 24 * 3_600_000, to };
}
