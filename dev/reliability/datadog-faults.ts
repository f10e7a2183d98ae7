/** Datadog faults: error answers to whichever intake requests come next, so one scenario at a time. */
import type { DatadogFault } from '../standins/datadog-standin';
import { addRecentEvents, FAULT_EVENTS, FAULT_PAGE_SIZE } from './recent-events';
import type { Bench } from './reliability-bench';
import type { Row } from './table';

export async function datadogFaultScenario(bench: Bench, fault: string, inject: DatadogFault, times: number, seed: number): Promise<Row> {
  const orgId = bench.newOrg();
  const expected = addRecentEvents(bench, orgId, FAULT_EVENTS, seed);
  const requestsBefore = bench.datadog.requests.length;
  bench.datadog.injectFault(inject, times);
  await bench.startCollecting({ orgId, pageSize: FAULT_PAGE_SIZE });
  const outcome = await bench.outcome(orgId, expected);
  await bench.stopCollecting(orgId);
  const faultAt = bench.datadog.requests.slice(requestsBefore).find((r) => r.status === null || r.status >= 300)?.at;
  return { fault, injected: times, ...outcome, recoveryMs: faultAt === undefined ? null : bench.recoveryAfter(orgId, faultAt) };
}
