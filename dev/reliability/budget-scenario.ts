/** How much of Atlassian's rate-limit budget a long backfill uses, paced only by the X-RateLimit-* headers. */
import { requestBackfillUpdate } from '../../workflows/messages';
import { addPastEvents, pastRange } from './past-events';
import type { Bench } from './reliability-bench';
import { seconds } from '../bench/number-format';
import type { Settings } from './settings';
import type { Row } from './table';

export const BUDGET_BURST = 5;
export const BUDGET_PAGE_SIZE = 10;

export interface BudgetFigures {
  served: number;
  allowed: number;
  rateLimited: number;
  elapsedMs: number;
}

/**
 * A backfill of `pages` full pages against a token bucket, with our own cap far above it: only Atlassian's
 * headers pace the requests. Efficiency = pages served / requests the bucket allowed over the run.
 */
export async function budgetScenario(bench: Bench, settings: Settings): Promise<{ row: Row; figures: BudgetFigures }> {
  const orgId = bench.newOrg();
  const range = pastRange();
  const expected = addPastEvents(bench, orgId, settings.budgetPages * BUDGET_PAGE_SIZE, range, settings.seed);
  const handle = await bench.startCollecting({
    orgId,
    since: range.to,
    pageSize: BUDGET_PAGE_SIZE,
    maxRequestsPerMinute: 1_200,
    pollIntervalMs: 60_000,
  });
  await handle.executeUpdate(requestBackfillUpdate, { args: [range] });
  const outcome = await bench.outcome(orgId, expected);
  const lastDelivery = bench.deliveriesOf(orgId).at(-1)?.at ?? Date.now();
  await bench.stopCollecting(orgId);

  const requests = bench.atlassian.requests.filter((r) => r.orgId === orgId && r.endpoint === 'events-stream' && r.at <= lastDelivery);
  const elapsedMs = lastDelivery - (requests[0]?.at ?? lastDelivery);
  const rateLimited = requests.filter((r) => r.status === 429).length;
  const figures = {
    served: requests.filter((r) => r.status === 200).length,
    allowed: (settings.budgetRequestsPerMinute * elapsedMs) / 60_000 + BUDGET_BURST,
    rateLimited,
    elapsedMs,
  };
  const fault = `Atlassian budget ${settings.budgetRequestsPerMinute}/min burst ${BUDGET_BURST} (429s received)`;
  return { row: { fault, injected: rateLimited, ...outcome, recoveryMs: null }, figures };
}

export function printBudget(budget: BudgetFigures, settings: Settings): void {
  console.log(
    `Atlassian budget: ${budget.served} pages served in ${seconds(budget.elapsedMs)}; the bucket allowed ` +
      `${budget.allowed.toFixed(1)} (${settings.budgetRequestsPerMinute}/min × elapsed + burst ${BUDGET_BURST}): ` +
      `efficiency ${(budget.served / budget.allowed).toFixed(3)}, ${budget.rateLimited} × 429`
  );
}
