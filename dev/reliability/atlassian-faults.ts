/** Atlassian faults, one kind per org: errors, resets, hangs and 429s on the org's event-stream requests. */
import type { AtlassianFault } from '../standins/atlassian-standin';
import { addRecentEvents, FAULT_EVENTS, FAULT_PAGE_SIZE } from './recent-events';
import type { Bench } from './reliability-bench';
import type { Row } from './table';

/** The first answer that was not a page (an error, a 429, a reset or a hang), by the stand-in's clock. */
function firstFaultyAtlassianAnswer(bench: Bench, orgId: string): number | undefined {
  return bench.atlassian.requests.find((r) => r.orgId === orgId && r.endpoint === 'events-stream' && r.status !== 200)?.at;
}

export async function atlassianFaultScenario(bench: Bench, fault: string, inject: AtlassianFault, times: number, seed: number): Promise<Row> {
  const orgId = bench.newOrg();
  const expected = addRecentEvents(bench, orgId, FAULT_EVENTS, seed);
  bench.atlassian.injectFault(orgId, inject, times);
  await bench.startCollecting({ orgId, pageSize: FAULT_PAGE_SIZE });
  const outcome = await bench.outcome(orgId, expected);
  await bench.stopCollecting(orgId);
  const faultAt = firstFaultyAtlassianAnswer(bench, orgId);
  return { fault, injected: times, ...outcome, recoveryMs: faultAt === undefined ? null : bench.recoveryAfter(orgId, faultAt) };
}
