/**
 * What a single-fault scenario (atlassian-faults.ts, datadog-faults.ts) and a liveness case (liveness.ts) collect:
 * a few events in the tail's range, in small pages.
 */
import { generateDemoEvents } from '../standins/demo-events';
import type { StandinEventInput } from '../standins/atlassian-standin';
import type { Bench } from './reliability-bench';

export const FAULT_PAGE_SIZE = 10;
export const FAULT_EVENTS = 30;

/**
 * `count` events processed now, their own times in the last minutes: inside the tail's range. `context` replaces
 * the demo's (a large one makes large events). Returns their IDs.
 */
export function addRecentEvents(bench: Bench, orgId: string, count: number, seed: number, context?: StandinEventInput['context']): string[] {
  const events = generateDemoEvents({ seed, count, startTime: Date.now() - 10 * 60_000, spacingMs: 100, orgId });
  return bench.atlassian.addEvents(orgId, context === undefined ? events : events.map((event) => ({ ...event, context }))).map((e) => e.id);
}
