/**
 * Benchmark 3: scale per worker. One worker (this process) runs 50 and 200 orgs at once, each with its own
 * Atlassian budget (a token bucket per org in the stand-in), each catching up a small tail backlog and working
 * through a backfill, in pages of 20 events, and 200 orgs again in pages of the default 200 events. Over a window
 * after a warm-up: whether each org turned its full budget into delivered pages (pages whose logs reached the
 * Datadog stand-in in the window, per request its bucket allowed), CPU per 1,000 delivered events, the worker's CPU and memory beside the dev server's and the stand-ins', and how long
 * workflow tasks waited (WorkflowTaskScheduled → Started, from a sample of the orgs' histories). The largest size
 * runs a second time against a dev server that keeps its store in memory: the file-backed store syncs every write to
 * disk and is the first thing to run out, which would otherwise hide where the worker itself stands.
 */
import type { Client } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { workflowIdForOrg } from '../../shared/org-workflow';
import { requestBackfillUpdate } from '../../workflows/messages';
import type { Benchmark, BenchmarkContext, BenchmarkOutcome } from './benchmark';
import { BenchEnvironment } from './bench-environment';
import { placeEvents, spacingOverAnHour } from './event-placement';
import { activityExecutions, eventTime, workflowTaskTimings } from './history-timeline';
import { bytes, fixed, integer, milliseconds, percent } from './number-format';
import { ResourceWindow, type ResourceUsage } from './resource-usage';
import { median, minimum, percentile, sum } from './statistics';
import { allowedRequests } from './token-budget';

/**
 * Each org's budget: 12 requests a minute, burst 3. All orgs backfilling at once is the heaviest case (onboarding a
 * fleet); at 50, 100 and 200 orgs the worker is asked for 10, 20 and 40 pages a second in total.
 */
const BUCKET = { requestsPerMinute: 12, burst: 3 };
/** Pages in each org's backfill: more than its bucket allows over warm-up and window (15 at 12/min, burst 3). */
const BACKFILL_PAGES = 30;
const TAIL_BACKLOG_PAGES = 2;
const TASK_QUEUE = 'bench-scale';
/** Orgs started (and their backfills requested) at a time: enough to start 200 orgs in seconds. */
const START_BATCH = 20;
/** Orgs whose histories are read for task latencies: enough samples, without fetching every history. */
const HISTORY_SAMPLE_ORGS = 20;
const KEPT_BUDGET = 0.95;
/** Issue #15: this many orgs at 12 requests/min on one worker (2 cores here). */
const TARGET_ORGS = 200;
/** Machine busy fraction from which the cores count as saturated. */
const SATURATED = 0.85;
/** Machine iowait fraction from which the store's disk writes count as what holds the server back. */
const DISK_BOUND_IOWAIT = 0.03;

interface Size {
  orgs: number;
  store: 'file' | 'memory';
  /** Events per page: 20 (small pages, the most requests per event) or the default 200 (the most events per request). */
  pageSize: number;
  /** Backfill pages seeded per org (fewer at 200 events a page, where the cores run out long before the backlog). */
  backfillPages?: number;
}

const FULL = {
  sizes: [
    { orgs: 50, store: 'file', pageSize: 20 },
    { orgs: 200, store: 'file', pageSize: 20 },
    { orgs: 200, store: 'memory', pageSize: 20 },
    { orgs: 200, store: 'file', pageSize: 200, backfillPages: 10 },
  ] satisfies Size[],
  warmupMs: 15_000,
  windowMs: 45_000,
};
const QUICK = {
  sizes: [
    { orgs: 5, store: 'file', pageSize: 20 },
    { orgs: 10, store: 'memory', pageSize: 20 },
    { orgs: 5, store: 'file', pageSize: 200, backfillPages: 10 },
  ] satisfies Size[],
  warmupMs: 5_000,
  windowMs: 15_000,
};

const PROCESS_LABELS = { worker: 'worker', server: 'Temporal dev server', standins: 'stand-ins' } as const;

interface ScaleResult {
  orgs: number;
  store: Size['store'];
  pageSize: number;
  /** Per org: pages delivered in the window (logs Datadog received ÷ page size; every backlog page is full) / requests allowed. */
  budgetKept: number[];
  /** All orgs together: pages delivered / requests allowed. Smoother than any one org's ratio, whose window holds few requests. */
  fleetKept: number;
  /** Requests served / allowed, all orgs: the budget spent, whether or not its pages reached Datadog in the window. */
  servedOfAllowed: number;
  eventsDelivered: number;
  /** Orgs that had delivered their whole backlog by the window's end (a dry backlog would understate the figure). */
  orgsDry: number;
  rateLimited: number;
  resources: ResourceUsage;
  workflowTaskWaitMs: number[];
  activityWaitMs: number[];
}

export const scalePerWorkerBenchmark: Benchmark = {
  name: 'scale',
  title: '3. Scale per worker',
  async run(context: BenchmarkContext): Promise<BenchmarkOutcome> {
    const sizes = context.quick ? QUICK : FULL;
    const results: ScaleResult[] = [];
    for (const size of sizes.sizes) results.push(await measureScale(context, size, sizes.warmupMs, sizes.windowMs));
    return report(results, sizes.windowMs);
  },
};

async function measureScale(context: BenchmarkContext, size: Size, warmupMs: number, windowMs: number): Promise<ScaleResult> {
  const orgCount = size.orgs;
  return BenchEnvironment.run({ rateLimit: BUCKET, server: { store: size.store } }, async (environment) => {
    const placement = placeEvents(Date.now());
    const orgIds = Array.from({ length: orgCount }, (_, index) => `scale-${String(index).padStart(3, '0')}`);
    const backfillEvents = (size.backfillPages ?? BACKFILL_PAGES) * size.pageSize;
    const tailEvents = TAIL_BACKLOG_PAGES * size.pageSize;
    context.log(`scale: ${orgCount} orgs (server store in ${size.store}, pages of ${size.pageSize}), seeding ${orgCount * (tailEvents + backfillEvents)} events`);
    await environment.standins.request('addOrgs', { orgIds });
    for (const orgId of orgIds) {
      await environment.standins.request('seedEvents', {
        orgId,
        stream: 'scale-backfill',
        seed: 3,
        count: backfillEvents,
        processedFrom: placement.backfillProcessedFrom,
        spacingMs: spacingOverAnHour(backfillEvents),
      });
      await environment.standins.request('seedEvents', {
        orgId,
        stream: 'scale-tail',
        seed: 5,
        count: tailEvents,
        processedFrom: placement.tailProcessedFrom,
        spacingMs: spacingOverAnHour(tailEvents),
      });
    }
    await environment.startWorker(TASK_QUEUE);
    context.log(`scale: starting ${orgCount} orgs with a backfill each`);
    const client = environment.client();
    for (let start = 0; start < orgIds.length; start += START_BATCH) {
      await Promise.all(
        orgIds.slice(start, start + START_BATCH).map(async (orgId) => {
          await environment.startOrg(TASK_QUEUE, { orgId, since: placement.tailSince, pageSize: size.pageSize });
          await client.workflow.getHandle(workflowIdForOrg(orgId)).executeUpdate(requestBackfillUpdate, { args: [placement.backfillRange] });
        })
      );
    }
    await sleep(warmupMs);
    context.log(`scale: ${orgCount} orgs, measuring ${windowMs / 1000} s`);
    const window = { from: Date.now(), to: Date.now() + windowMs };
    const resources = ResourceWindow.start({
      [PROCESS_LABELS.worker]: process.pid,
      [PROCESS_LABELS.server]: environment.server.pid,
      [PROCESS_LABELS.standins]: environment.standins.pid,
    });
    await sleep(windowMs);
    const usage = resources.finish();
    const traffic = await environment.standins.request('traffic', { orgIds });
    // Logs that arrive a moment after the window belong to it when their page was in flight: not counted, as at its start.
    const delivered = await environment.standins.request('deliveredBetween', { orgIds, from: window.from, to: window.to });
    const inWindow = (at: number) => at >= window.from && at < window.to;
    const sampled = orgIds.filter((_, index) => index % Math.max(1, Math.floor(orgCount / HISTORY_SAMPLE_ORGS)) === 0).slice(0, HISTORY_SAMPLE_ORGS);
    const histories = (await Promise.all(sampled.map((orgId) => historiesSince(client, orgId, window.from)))).flat();
    const served = traffic.map((org) => org.servedAt.filter(inWindow).length);
    const allowed = traffic.map((org) => allowedRequests(BUCKET, org.addedAt, org.servedAt, window));
    const pages = delivered.map((events) => events / size.pageSize);
    return {
      orgs: orgCount,
      store: size.store,
      pageSize: size.pageSize,
      budgetKept: pages.map((count, index) => count / allowed[index]!),
      fleetKept: sum(pages) / sum(allowed),
      servedOfAllowed: sum(served) / sum(allowed),
      eventsDelivered: sum(delivered),
      orgsDry: traffic.filter((org) => org.delivered >= backfillEvents + tailEvents).length,
      rateLimited: traffic.reduce((sum, org) => sum + org.rateLimitedAt.filter(inWindow).length, 0),
      resources: usage,
      workflowTaskWaitMs: workflowTaskTimings(histories)
        .filter((task) => inWindow(task.scheduledAt))
        .map((task) => task.startedAt - task.scheduledAt),
      activityWaitMs: activityExecutions(histories)
        .filter((activity) => inWindow(activity.scheduledAt))
        .map((activity) => activity.startedAt - activity.scheduledAt),
    };
  });
}

/** The histories of the org's runs that were alive at or after `since`, following continue-as-new backwards. */
async function historiesSince(client: Client, orgId: string, since: number): Promise<temporal.api.history.v1.IHistory[]> {
  const histories: temporal.api.history.v1.IHistory[] = [];
  let runId: string | undefined;
  for (;;) {
    const history = await client.workflow.getHandle(workflowIdForOrg(orgId), runId).fetchHistory();
    histories.push(history);
    const first = history.events?.[0];
    if (!first || eventTime(first) <= since) return histories;
    runId = first.workflowExecutionStartedEventAttributes?.continuedExecutionRunId || undefined;
    if (!runId) return histories;
  }
}

function report(results: ScaleResult[], windowMs: number): BenchmarkOutcome {
  const cpu = (result: ScaleResult, label: string) => result.resources.processes[label]?.cpuOfOneCore ?? Number.NaN;
  const keptBy = (result: ScaleResult) => result.budgetKept.filter((kept) => kept >= KEPT_BUDGET).length;
  const label = (result: ScaleResult) => `${integer(result.orgs)} (store in ${result.store}, pages of ${result.pageSize})`;
  const coreSeconds = (result: ScaleResult, labels: readonly string[]) =>
    sum(labels.map((name) => result.resources.processes[name]?.cpuOfOneCore ?? 0)) * result.resources.seconds;
  const cpuPerThousand = (result: ScaleResult, labels: readonly string[]) => (coreSeconds(result, labels) * 1_000_000) / result.eventsDelivered;
  const allProcesses = Object.values(PROCESS_LABELS);
  const target = results.filter((result) => result.orgs === TARGET_ORGS && result.pageSize === 20);
  const oneRequest = percent(60_000 / (BUCKET.requestsPerMinute * windowMs), 0);
  return {
    settings: {
      orgs: results.map(label).join(' / '),
      bucketPerMinutePerOrg: BUCKET.requestsPerMinute,
      burst: BUCKET.burst,
      pageSizes: [...new Set(results.map((result) => result.pageSize))].join(' / '),
      windowSeconds: windowMs / 1000,
    },
    tables: [
      {
        title:
          `Budget kept (pages delivered to Datadog / requests allowed by the org's bucket over ${windowMs / 1000} s, about ` +
          `${fixed((BUCKET.requestsPerMinute * windowMs) / 60_000, 0)} per org, so one request is ${oneRequest}) and resources (CPU in % of one core)`,
        columns: [
          'orgs',
          'pages/s asked',
          'kept: all orgs',
          'served / allowed',
          'orgs dry',
          'events/s delivered',
          'CPU ms / 1k events: worker',
          'all three',
          'kept: min',
          'kept: median',
          `orgs ≥ ${KEPT_BUDGET}`,
          '429s',
          'worker CPU',
          'worker RSS (peak)',
          'dev server CPU',
          'stand-ins CPU',
          'others CPU',
          'machine busy',
          'iowait',
        ],
        rows: results.map((result) => [
          label(result),
          fixed((result.orgs * BUCKET.requestsPerMinute) / 60, 1),
          fixed(result.fleetKept, 3),
          fixed(result.servedOfAllowed, 3),
          integer(result.orgsDry),
          integer(result.eventsDelivered / result.resources.seconds),
          integer(cpuPerThousand(result, [PROCESS_LABELS.worker])),
          integer(cpuPerThousand(result, allProcesses)),
          fixed(minimum(result.budgetKept), 3),
          fixed(median(result.budgetKept), 3),
          `${keptBy(result)} / ${result.orgs}`,
          integer(result.rateLimited),
          percent(cpu(result, PROCESS_LABELS.worker), 0),
          bytes(result.resources.processes[PROCESS_LABELS.worker]?.peakRssBytes ?? Number.NaN),
          percent(cpu(result, PROCESS_LABELS.server), 0),
          percent(cpu(result, PROCESS_LABELS.standins), 0),
          percent(result.resources.othersOfOneCore, 0),
          `${percent(result.resources.machineBusy, 0)} of ${result.resources.cores} cores`,
          percent(result.resources.machineIowait, 0),
        ]),
      },
      {
        title: `Task waits in the window, from the histories of up to ${HISTORY_SAMPLE_ORGS} orgs (scheduled → started)`,
        columns: ['orgs', 'workflow tasks', 'p50', 'p95', 'p99', 'activity tasks', 'p50', 'p95', 'p99'],
        rows: results.map((result) => [
          label(result),
          integer(result.workflowTaskWaitMs.length),
          milliseconds(percentile(result.workflowTaskWaitMs, 0.5)),
          milliseconds(percentile(result.workflowTaskWaitMs, 0.95)),
          milliseconds(percentile(result.workflowTaskWaitMs, 0.99)),
          integer(result.activityWaitMs.length),
          milliseconds(percentile(result.activityWaitMs, 0.5)),
          milliseconds(percentile(result.activityWaitMs, 0.95)),
          milliseconds(percentile(result.activityWaitMs, 0.99)),
        ]),
      },
    ],
    targets: [
      ...target.map((result) => ({
        target: `${TARGET_ORGS} orgs at ${BUCKET.requestsPerMinute} requests/min: ≥ ${KEPT_BUDGET} of the budget turned into delivered pages (store in ${result.store})`,
        measured: `${fixed(result.fleetKept, 3)} (${result.budgetKept.filter((kept) => kept >= KEPT_BUDGET).length} of ${result.orgs} orgs ≥ ${KEPT_BUDGET})`,
        met: result.fleetKept >= KEPT_BUDGET,
        reason:
          `baseline: ${fixed(results[0]!.fleetKept, 3)} at ${results[0]!.orgs} orgs in the same run; requests served / allowed ${fixed(result.servedOfAllowed, 3)}; ` +
          `machine ${percent(result.resources.machineBusy, 0)} busy, iowait ${percent(result.resources.machineIowait, 0)}, workflow tasks waited ` +
          `${milliseconds(percentile(result.workflowTaskWaitMs, 0.5))} at p50`,
      })),
    ],
    findings: [
      ...(['file', 'memory'] as const).flatMap((store) => {
        const series = results.filter((result) => result.store === store && result.pageSize === 20);
        return series.length === 0 ? [] : [storeFinding(store, series, cpu)];
      }),
      ...results
        .filter((result) => result.pageSize !== 20)
        .map(
          (result) =>
            `Pages of ${result.pageSize}: ${label(result)} delivered ${integer(result.eventsDelivered / result.resources.seconds)} events/s, ` +
            `${fixed(result.fleetKept, 3)} of the budget as delivered pages (served / allowed ${fixed(result.servedOfAllowed, 3)}); CPU per 1,000 events: ` +
            `worker ${integer(cpuPerThousand(result, [PROCESS_LABELS.worker]))} ms, dev server ${integer(cpuPerThousand(result, [PROCESS_LABELS.server]))} ms, ` +
            `stand-ins ${integer(cpuPerThousand(result, [PROCESS_LABELS.standins]))} ms; machine ${percent(result.resources.machineBusy, 0)} busy` +
            (result.orgsDry > 0 ? `; ${result.orgsDry} orgs ran out of backlog` : ''),
        ),
      `One org's ratio moves in steps of ${oneRequest} (one request in the window), so "kept: all orgs" is the steadier ` +
        'figure; an org whose next request falls just after the window shows as one request short.',
      'Each delivered batch costs three activities (poll on the shared queue, map and ship on the worker\'s own queue) and three or four workflow tasks (one more after a pacing timer); ' +
        'the dev server has one history shard, so every org\'s hand-offs share its transfer-queue reader.',
    ],
    data: results,
  };
}

/** What held a series of sizes back: the first size whose orgs together fell short, and what ran out there. */
function storeFinding(store: Size['store'], series: ScaleResult[], cpu: (result: ScaleResult, label: string) => number): string {
  const short = series.find((result) => result.fleetKept < KEPT_BUDGET);
  const kept = series.filter((result) => result.fleetKept >= KEPT_BUDGET).at(-1);
  const where = `With the server's store in ${store === 'file' ? 'a SQLite file (every write synced to disk)' : 'memory'}`;
  const state = (result: ScaleResult) =>
    `the machine was ${percent(result.resources.machineBusy, 0)} busy and ${percent(result.resources.machineIowait, 0)} waiting ` +
    `for disk (worker ${percent(cpu(result, PROCESS_LABELS.worker), 0)} of a core, dev server ${percent(cpu(result, PROCESS_LABELS.server), 0)}, ` +
    `stand-ins ${percent(cpu(result, PROCESS_LABELS.standins), 0)}, other processes ${percent(result.resources.othersOfOneCore, 0)}) ` +
    `and workflow tasks waited ${milliseconds(percentile(result.workflowTaskWaitMs, 0.5))} at p50`;
  const keptPart = kept ? `the orgs together kept ${fixed(kept.fleetKept, 3)} of their budget up to ${kept.orgs} orgs; ` : '';
  if (!short) return `${where}, ${keptPart}at ${series.at(-1)!.orgs} orgs ${state(series.at(-1)!)}.`;
  const cause =
    short.resources.machineBusy >= SATURATED
      ? 'the cores were saturated (worker, dev server and stand-ins share them here)'
      : short.resources.machineIowait >= DISK_BOUND_IOWAIT
        ? 'the cores were not saturated but the server waited on its disk writes: the store, not the worker, ran out'
        : 'the cores were not saturated and the store did not wait on disk: the orgs kept pace, but each request trails the ' +
          `token that pays for it by the timer's workflow task and the poll's dispatch (${milliseconds(percentile(short.workflowTaskWaitMs, 0.5) + percentile(short.activityWaitMs, 0.5))} ` +
          'of waits at p50, plus the run of each), so the tokens of that last stretch of the window were still unspent when it closed';
  return `${where}, ${keptPart}at ${short.orgs} orgs the orgs together kept ${fixed(short.fleetKept, 3)}: ${state(short)}, so ${cause}.`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}
