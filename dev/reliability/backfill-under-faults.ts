/** A long backfill while worker processes are SIGKILLed and the dev server is restarted once. */
import { setTimeout as sleep } from 'node:timers/promises';
import { requestBackfillUpdate, statusQuery } from '../../workflows/messages';
import { addPastEvents, pastRange } from './past-events';
import { STALL_TIMEOUT_MS, WORKER_COUNT, waitForProgress, type Bench } from './reliability-bench';
import { seconds } from '../bench/number-format';
import type { Settings } from './settings';
import type { Row } from './table';

/** Backfill under faults: the page size of the issue's criterion ("at most one page per kill"). */
const KILL_PAGE_SIZE = 100;
/** How long the dev server stays down when it is restarted mid-backfill. */
const TEMPORAL_DOWN_MS = 3_000;

type Random = () => number;

interface InjectedFault {
  kind: 'kill' | 'restart';
  at: number;
  /** Distinct events delivered when it was injected. */
  deliveredBefore: number;
  recoveryMs: number | null;
  /** Repeats that reached Datadog after this fault and before the next one. */
  duplicates: number;
}

export interface FaultsFigures {
  faults: InjectedFault[];
  /** Repeats that arrived before the first fault: none are expected. */
  duplicatesBeforeFaults: number;
  pages: number;
  elapsedMs: number;
}

/**
 * The issue's criterion: a long backfill (pages of 100) while `--kills` SIGKILLs hit a random one of the two
 * workers, each followed by a replacement, and the dev server is stopped and started once in between. Faults are
 * spread over the run: each gets a slot of the events (5 % to 95 % of them delivered) and waits for a random point
 * in it, then for a random part of a page cycle (poll, map, ship or the pacing timer), and for the org to deliver
 * again after the previous fault.
 */
export async function backfillUnderFaultsScenario(bench: Bench, random: Random, settings: Settings): Promise<{ row: Row; figures: FaultsFigures }> {
  const orgId = bench.newOrg();
  const range = pastRange();
  const expected = addPastEvents(bench, orgId, settings.killEvents, range, settings.seed + 7_001);
  const handle = await bench.startCollecting({
    orgId,
    since: range.to,
    pageSize: KILL_PAGE_SIZE,
    maxRequestsPerMinute: settings.backfillRequestsPerMinute,
    // The tail has nothing to deliver here: polled once a minute, it leaves the budget to the backfill.
    pollIntervalMs: 60_000,
  });
  await handle.executeUpdate(requestBackfillUpdate, { args: [range] });
  const startedAt = Date.now();

  const slots = settings.kills + 1;
  const restartSlot = Math.floor(random() * slots);
  const plan = Array.from({ length: slots }, (_, slot) => ({
    kind: slot === restartSlot ? ('restart' as const) : ('kill' as const),
    atDelivered: Math.floor(expected.length * (0.05 + (0.9 * (slot + random())) / slots)),
    delayMs: random() * 2_000,
    victim: random(),
  }));
  const faults: InjectedFault[] = [];
  let kills = 0;
  for (const step of plan) {
    if (!(await waitForProgress(bench, orgId, () => bench.distinctDelivered(orgId) >= step.atDelivered))) {
      console.log(`  no event for ${STALL_TIMEOUT_MS / 1000} s at ${bench.distinctDelivered(orgId)}/${expected.length}: no more faults`);
      break;
    }
    await sleep(step.delayMs);
    if (bench.distinctDelivered(orgId) >= expected.length) {
      // Nothing left to deliver: a fault now would hit an idle org and wait in vain for its next event.
      console.log(`  every event delivered before fault ${faults.length + 1} of ${plan.length}: no more faults (use a larger --kill-events)`);
      break;
    }
    const fault: InjectedFault = { kind: step.kind, at: Date.now(), deliveredBefore: bench.distinctDelivered(orgId), recoveryMs: null, duplicates: 0 };
    faults.push(fault);
    if (step.kind === 'kill') {
      const victim = Math.floor(step.victim * bench.workerCount());
      await bench.killWorker(victim);
      await bench.startWorker();
      console.log(`  SIGKILL ${++kills}/${settings.kills}: worker ${victim + 1} of ${WORKER_COUNT} at ${fault.deliveredBefore}/${expected.length} delivered; replacement polling after ${seconds(Date.now() - fault.at)}`);
    } else {
      await bench.stopTemporal();
      const stoppedIn = Date.now() - fault.at;
      await sleep(TEMPORAL_DOWN_MS);
      const startingAt = Date.now();
      await bench.startTemporal();
      console.log(
        `  Temporal SIGTERM at ${fault.deliveredBefore}/${expected.length} delivered: stopped in ${seconds(stoppedIn)}, ` +
          `down ${seconds(TEMPORAL_DOWN_MS)}, answering again after ${seconds(Date.now() - startingAt)}`
      );
    }
    const recovered = await waitForProgress(bench, orgId, () => bench.recoveryAfter(orgId, fault.at) !== null, async () => {
      // A worker that lost the server for too long may exit; the run keeps two.
      await bench.restartExitedWorkers();
    });
    fault.recoveryMs = bench.recoveryAfter(orgId, fault.at);
    if (!recovered) {
      console.log(`  no event for ${STALL_TIMEOUT_MS / 1000} s after the fault: no more faults`);
      break;
    }
  }
  const outcome = await bench.outcome(orgId, expected);
  const lastDelivery = bench.deliveriesOf(orgId).at(-1)?.at ?? Date.now();
  const status = await handle.query(statusQuery);
  await bench.stopCollecting(orgId);
  await bench.restartExitedWorkers();

  // Each repeat is put down to the fault before it.
  const seen = new Set<string>();
  let duplicatesBeforeFaults = 0;
  let next = 0;
  for (const delivery of bench.deliveriesOf(orgId)) {
    while (next < faults.length && faults[next]!.at <= delivery.at) next++;
    if (!seen.has(delivery.eventId)) seen.add(delivery.eventId);
    else if (next === 0) duplicatesBeforeFaults++;
    else faults[next - 1]!.duplicates++;
  }
  const worst = faults.reduce<number | null>((max, f) => (f.recoveryMs === null ? max : Math.max(max ?? 0, f.recoveryMs)), null);
  const restarts = faults.filter((f) => f.kind === 'restart').length;
  const row: Row = {
    fault: `backfill: worker SIGKILL ×${kills} + Temporal restart ×${restarts}`,
    injected: faults.length,
    ...outcome,
    recoveryMs: worst,
  };
  const pages = status.backfills.reduce((sum, r) => sum + r.pages, 0);
  return { row, figures: { faults, duplicatesBeforeFaults, pages, elapsedMs: lastDelivery - startedAt } };
}

export function printFaults(row: Row, figures: FaultsFigures, settings: Settings): void {
  const kills = figures.faults.filter((f) => f.kind === 'kill');
  const restart = figures.faults.filter((f) => f.kind === 'restart');
  const killDuplicates = kills.map((f) => f.duplicates);
  const worstKill = Math.max(0, ...killDuplicates);
  const killRecoveries = kills.flatMap((f) => (f.recoveryMs === null ? [] : [f.recoveryMs])).sort((a, b) => a - b);
  const target = worstKill <= KILL_PAGE_SIZE ? 'met' : 'MISSED';
  console.log(
    `Backfill under faults: ${row.expected} events in ${figures.pages} pages of ${KILL_PAGE_SIZE} ` +
      `(cap ${settings.backfillRequestsPerMinute}/min) in ${seconds(figures.elapsedMs)}, ${row.lost} lost, ${row.duplicated} duplicated`
  );
  console.log(
    `  duplicates per kill: worst ${worstKill}, mean ${(killDuplicates.reduce((a, b) => a + b, 0) / Math.max(1, kills.length)).toFixed(1)} ` +
      `vs one page = ${KILL_PAGE_SIZE} (target ≤ one page per kill: ${target}); each kill: [${killDuplicates.join(' ')}]`
  );
  for (const f of restart) {
    console.log(`  Temporal restart: ${f.duplicates} duplicates, next event ${f.recoveryMs === null ? 'never' : `after ${seconds(f.recoveryMs)}`}`);
  }
  if (figures.duplicatesBeforeFaults > 0) console.log(`  duplicates before the first fault: ${figures.duplicatesBeforeFaults}`);
  if (killRecoveries.length > 0) {
    const median = killRecoveries[Math.floor((killRecoveries.length - 1) / 2)]!;
    console.log(`  time to the next event after a kill: worst ${seconds(killRecoveries.at(-1)!)}, median ${seconds(median)}`);
  }
}
