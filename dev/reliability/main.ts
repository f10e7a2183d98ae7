/**
 * `npm run reliability`: the faults the collector must survive, injected one after another into a single run
 * against the stand-ins, with workers as real processes (`npm run worker`) on a Temporal dev server of the script's
 * own (SQLite file, so it can be stopped and started again). Prints, per fault: how many were injected, events
 * expected, delivered, lost, delivered twice, and the time from the fault until Datadog received the org's next
 * event. Also measures how much of Atlassian's rate-limit budget a long backfill uses, and:
 *
 * - a backfill under faults: `--kill-events` events (pages of 100) backfilled while `--kills` SIGKILLs hit a random
 *   worker at random moments (each followed by a replacement worker) and the dev server is stopped and started
 *   again once in between; duplicates are attributed to the fault before them, so "at most one page per kill"
 *   can be read off;
 * - a Datadog outage: 503 on every request for `--outage-seconds`, the org's `status` query sampled throughout to
 *   show that its cursor never moves past what Datadog accepted;
 * - liveness cases (liveness.ts), printed as a table of their own: odd signals, oversized pages, a refused log,
 *   refused and stuck cursors, a terminated run, short backfill pages, repeats and an outage of
 *   `--liveness-outage-seconds`; did the org stop, did it say why, and did another org keep delivering.
 *
 *   npm run reliability [-- --seed 42 --budget-rpm 600 --budget-pages 300 --kills 20 --kill-events 20000
 *                          --backfill-rpm 120 --outage-seconds 300 --liveness-outage-seconds 30
 *                          --only budget,atlassian,datadog,outage,liveness,kills]
 *
 * Quick run: `npm run reliability -- --kills 3 --kill-events 2000 --outage-seconds 30` (about 6 minutes before the
 * liveness group was added; that group alone, `--only liveness`, takes about 2 minutes).
 *
 * Figures only: nothing here is timed against a threshold. The exit code is 1 when any event was lost, a cursor
 * moved past events Datadog had not accepted, or a liveness case shows an org stuck without saying why, one that
 * never delivered again, or another org held by its trouble (livenessFindings).
 */
import { cpus } from 'node:os';
import { mulberry32 } from '../standins/demo-events';
import { atlassianFaultScenario } from './atlassian-faults';
import { backfillUnderFaultsScenario, printFaults, type FaultsFigures } from './backfill-under-faults';
import { BUDGET_BURST, BUDGET_PAGE_SIZE, budgetScenario, printBudget, type BudgetFigures } from './budget-scenario';
import { datadogFaultScenario } from './datadog-faults';
import { datadogOutageScenario, printOutage, type OutageFigures } from './datadog-outage';
import { livenessCases, livenessFindings, OtherOrg, printLiveness } from './liveness';
import { Bench, WORKER_COUNT } from './reliability-bench';
import { seconds } from '../bench/number-format';
import { readSettings, type ScenarioGroup } from './settings';
import { printTable, type LivenessRow, type Row } from './table';

/** What the worker's HTTP client waits for response headers by default (activities/http-client.ts). */
const WORKER_HEADERS_TIMEOUT_MS = 30_000;

async function main(): Promise<void> {
  const settings = readSettings();
  // One seed replays the same kill and stop moments.
  const random = mulberry32(settings.seed);
  const runStartedAt = Date.now();
  const selected = (group: ScenarioGroup) => settings.only.has(group);
  console.log(
    `reliability run: seed ${settings.seed}, ${cpus().length} CPUs, ${WORKER_COUNT} worker processes; ` +
      `${settings.kills} kills in a ${settings.killEvents}-event backfill, ${settings.outageSeconds} s Datadog outage`
  );

  // Phase 1: an Atlassian with a token bucket and no Retry-After, so that only X-RateLimit-* can pace us.
  const budgetStandin = {
    rateLimit: { requestsPerMinute: settings.budgetRequestsPerMinute, burst: BUDGET_BURST },
    retryAfterHeader: false,
  };
  const bench = await Bench.start(budgetStandin);
  const rows: Row[] = [];
  const livenessRows: LivenessRow[] = [];
  const run = async <T extends { expected: number; lost: number }>(label: string, into: T[], scenario: () => Promise<T | T[]>) => {
    const startedAt = Date.now();
    console.log(`- ${label}`);
    const result = await scenario();
    const done = Array.isArray(result) ? result : [result];
    const expected = done.reduce((sum, r) => sum + r.expected, 0);
    const lost = done.reduce((sum, r) => sum + r.lost, 0);
    console.log(`  done in ${seconds(Date.now() - startedAt)}: ${expected - lost}/${expected} delivered, ${lost} lost`);
    into.push(...done);
  };
  let lost = 0;
  try {
    console.log(`ready after ${seconds(Date.now() - runStartedAt)} (dev server ${bench.address}, workflow bundle, workers)`);
    let budget: BudgetFigures | undefined;
    let outage: OutageFigures | undefined;
    let faults: { row: Row; figures: FaultsFigures } | undefined;
    let otherOrg: Awaited<ReturnType<OtherOrg['stop']>> | undefined;
    if (selected('budget')) {
      await run(`budget: ${settings.budgetPages} pages of ${BUDGET_PAGE_SIZE}, bucket ${settings.budgetRequestsPerMinute}/min`, rows, async () => {
        const result = await budgetScenario(bench, settings);
        budget = result.figures;
        return result.row;
      });
      await run('Atlassian 429 with X-RateLimit-Reset only', rows, () =>
        atlassianFaultScenario(bench, 'Atlassian 429, X-RateLimit-Reset only (3 s)', { kind: 'rateLimit', retryAfterSeconds: 3 }, 1, 11)
      );
    }

    // Phase 2: Atlassian without a bucket, Retry-After on its 429s. Atlassian faults belong to one org each, so
    // those scenarios run side by side; Datadog's faults answer whichever request comes next, so those run alone.
    await bench.replaceAtlassian({});
    if (selected('atlassian')) {
      await run('Atlassian faults, side by side', rows, async () => {
        const hangMs = WORKER_HEADERS_TIMEOUT_MS + 5_000;
        return Promise.all([
          atlassianFaultScenario(bench, 'Atlassian 503', { kind: 'status', status: 503 }, 3, 21),
          atlassianFaultScenario(bench, 'Atlassian 500', { kind: 'status', status: 500 }, 2, 22),
          atlassianFaultScenario(bench, 'Atlassian connection reset', { kind: 'reset' }, 3, 23),
          atlassianFaultScenario(bench, `Atlassian no response (hang ${hangMs / 1000} s)`, { kind: 'hang', ms: hangMs }, 1, 24),
          atlassianFaultScenario(bench, 'Atlassian 429, Retry-After 5 s', { kind: 'rateLimit', retryAfterSeconds: 5 }, 1, 25),
        ]);
      });
    }
    if (selected('datadog')) {
      await run('Datadog 503 ×20', rows, () =>
        datadogFaultScenario(bench, 'Datadog 503 in a row, Retry-After 1 s', { kind: 'status', status: 503, retryAfterSeconds: 1 }, 20, 31)
      );
      await run('Datadog 500 ×3', rows, () => datadogFaultScenario(bench, 'Datadog 500, no Retry-After', { kind: 'status', status: 500 }, 3, 32));
      await run('Datadog 408 ×3', rows, () => datadogFaultScenario(bench, 'Datadog 408', { kind: 'status', status: 408 }, 3, 33));
      await run('Datadog 429 ×5', rows, () =>
        datadogFaultScenario(bench, 'Datadog 429, Retry-After 1 s', { kind: 'status', status: 429, retryAfterSeconds: 1 }, 5, 34)
      );
      await run('Datadog 413 ×2', rows, () => datadogFaultScenario(bench, 'Datadog 413 (chunk split)', { kind: 'status', status: 413 }, 2, 35));
    }
    if (selected('outage')) {
      await run(`Datadog outage: 503 on every request for ${settings.outageSeconds} s`, rows, async () => {
        const result = await datadogOutageScenario(bench, settings);
        outage = result.figures;
        return result.row;
      });
    }
    if (selected('liveness')) {
      const other = await OtherOrg.start(bench);
      for (const { label, run: scenario } of livenessCases(bench, other, settings)) await run(label, livenessRows, scenario);
      otherOrg = await other.stop();
    }
    // Last, since it restarts the dev server.
    if (selected('kills')) {
      await run(`backfill of ${settings.killEvents} events: ${settings.kills} worker SIGKILLs and one Temporal restart`, rows, async () => {
        faults = await backfillUnderFaultsScenario(bench, random, settings);
        return faults.row;
      });
    }

    if (rows.length > 0) {
      console.log('');
      printTable(rows);
    }
    if (otherOrg) {
      console.log('');
      printLiveness(livenessRows, otherOrg);
    }
    if (budget || outage || faults) console.log('');
    if (budget) printBudget(budget, settings);
    if (outage) printOutage(outage);
    if (faults) printFaults(faults.row, faults.figures, settings);
    const all = [...rows, ...livenessRows];
    lost = all.reduce((sum, r) => sum + r.lost, 0);
    const expected = all.reduce((sum, r) => sum + r.expected, 0);
    const duplicated = all.reduce((sum, r) => sum + r.duplicated, 0);
    const aheadOfDatadog = outage !== undefined && (outage.moved > 0 || outage.ahead > 0);
    const findings = livenessFindings(livenessRows).length;
    console.log(
      `\nwhole run: ${seconds(Date.now() - runStartedAt)}, ${all.length} scenarios, ${expected} events expected, ` +
        `${lost} lost, ${duplicated} duplicated` +
        (outage ? `; cursor ${aheadOfDatadog ? 'MOVED PAST events Datadog had not accepted' : 'never ahead of Datadog'}` : '') +
        (otherOrg ? `; ${findings} liveness findings` : '')
    );
    if (lost > 0 || aheadOfDatadog || findings > 0) process.exitCode = 1;
  } finally {
    await bench.close(process.exitCode === 1);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
