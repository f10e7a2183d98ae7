/**
 * What a single-fault scenario (atlassian-faults.ts, datadog-faults.ts) collects: a few events in the tail's range,
 * in small pages.
 */
import { generateDemoEvents } from '../standins/demo-events';
import type { Bench } from './reliability-bench';

export const FAULT_PAGE_SIZE = 10;
export const FAULT_EVENTS = 30;

/** `count` events processed now, their own times in the last minutes: inside the tail's range. */
export function addRecentEvents(bench: Bench, orgId: string, count: number, seed: number): string[] {
  const events = generateDemoEvents({ seed, count, startTime: Date.now() - 10 * 60_000, spacingMs: 100, orgId });
  return bench.atlassian.addEvents(orgId, events).map((e) => e.id);
}
