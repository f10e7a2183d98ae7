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
 *   show that its cursor never moves past what Datadog accepted.
 *
 *   npm run reliability [-- --seed 42 --budget-rpm 600 --budget-pages 300 --kills 20 --kill-events 20000
 *                          --backfill-rpm 120 --outage-seconds 300 --only budget,atlassian,datadog,outage,kills]
 *
 * Quick run (about 6 minutes): `npm run reliability -- --kills 3 --kill-events 2000 --outage-seconds 30`.
 *
 * Figures only: nothing here is timed against a threshold. The exit code is 1 when any event was lost or a cursor
 * moved past events Datadog had not accepted.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode } from '@temporalio/worker';
import { startOrg, type StartOrgOptions } from '../src/client/org-control';
import { failureConverterPath } from '../src/codec/data-converter';
import { startTemporalDevServer, temporalCliPath, type DevServerOptions, type RunningDevServer } from '../src/demo/temporal-dev-server';
import { workflowIdForOrg } from '../src/shared/org-workflow';
import { AtlassianStandin, type AtlassianFault, type AtlassianStandinOptions } from '../src/standins/atlassian-standin';
import { DatadogStandin, type DatadogFault } from '../src/standins/datadog-standin';
import { generateDemoEvents, mulberry32 } from '../src/standins/demo-events';
import { WORKFLOWS_PATH } from '../src/worker/create-worker';
import { requestBackfillUpdate, statusQuery, stopSignal } from '../src/workflows/messages';
import type { orgAuditWorkflow } from '../src/workflows/org-audit-workflow';
import type { OrgAuditStatus } from '../src/workflows/org-audit-state';
import { freePort } from '../test/support/ports';

const ROOT = path.join(__dirname, '..');
const TASK_QUEUE = 'atlassian-audit-reliability';
const KEYS = { atlassian: 'reliability-atlassian-key', datadog: 'reliability-datadog-key' };
const WORKER_COUNT = 2;
/** What the worker's HTTP client waits for response headers by default (src/activities/http-client.ts). */
const WORKER_HEADERS_TIMEOUT_MS = 30_000;
const BUDGET_BURST = 5;
const BUDGET_PAGE_SIZE = 10;
const FAULT_PAGE_SIZE = 10;
const FAULT_EVENTS = 30;
/** How long a scenario may go without a new event arriving before what is missing counts as lost. */
const STALL_TIMEOUT_MS = 180_000;
/** Backfill under faults: the page size of the issue's criterion ("at most one page per kill"). */
const KILL_PAGE_SIZE = 100;
/** How long the dev server stays down when it is restarted mid-backfill. */
const TEMPORAL_DOWN_MS = 3_000;
const OUTAGE_PAGE_SIZE = 100;
/** Events before the outage; more arrive in Atlassian while Datadog is down. */
const OUTAGE_EVENTS_BEFORE = 1_000;
const OUTAGE_EVENTS_PER_BATCH = 100;
const OUTAGE_BATCH_EVERY_MS = 30_000;
const OUTAGE_SAMPLE_EVERY_MS = 5_000;

const SCENARIO_GROUPS = ['budget', 'atlassian', 'datadog', 'outage', 'kills'] as const;
type ScenarioGroup = (typeof SCENARIO_GROUPS)[number];

interface Settings {
  budgetRequestsPerMinute: number;
  budgetPages: number;
  seed: number;
  kills: number;
  killEvents: number;
  backfillRequestsPerMinute: number;
  outageSeconds: number;
  only: ReadonlySet<ScenarioGroup>;
}

interface Row {
  fault: string;
  injected: number;
  expected: number;
  delivered: number;
  lost: number;
  duplicated: number;
  /** From the fault to the next event Datadog received from the org; the worst one when there were several. */
  recoveryMs: number | null;
}

interface Delivery {
  at: number;
  eventId: string;
}

/** Per org: every delivery in arrival order (repeats kept) and the distinct event IDs among them. */
interface OrgDeliveries {
  all: Delivery[];
  distinct: Set<string>;
}

type Random = () => number;

function readSettings(): Settings {
  const { values } = parseArgs({
    options: {
      'budget-rpm': { type: 'string', default: '600' },
      'budget-pages': { type: 'string', default: '300' },
      seed: { type: 'string' },
      kills: { type: 'string', default: '20' },
      'kill-events': { type: 'string', default: '20000' },
      'backfill-rpm': { type: 'string', default: '120' },
      'outage-seconds': { type: 'string', default: '300' },
      only: { type: 'string', default: SCENARIO_GROUPS.join(',') },
    },
  });
  const positive = (name: string, raw: string | undefined): number => {
    const value = Number(raw);
    if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer`);
    return value;
  };
  return {
    budgetRequestsPerMinute: positive('budget-rpm', values['budget-rpm']),
    budgetPages: positive('budget-pages', values['budget-pages']),
    seed: values.seed === undefined ? Date.now() % 1_000_000 : positive('seed', values.seed),
    kills: positive('kills', values.kills),
    killEvents: positive('kill-events', values['kill-events']),
    backfillRequestsPerMinute: positive('backfill-rpm', values['backfill-rpm']),
    outageSeconds: positive('outage-seconds', values['outage-seconds']),
    only: parseGroups(values.only ?? ''),
  };
}

function parseGroups(raw: string): ReadonlySet<ScenarioGroup> {
  const names = raw.split(',').map((name) => name.trim()).filter(Boolean);
  const unknown = names.filter((name) => !(SCENARIO_GROUPS as readonly string[]).includes(name));
  if (names.length === 0 || unknown.length > 0) throw new Error(`--only takes a comma-separated list of ${SCENARIO_GROUPS.join(', ')}`);
  return new Set(names as ScenarioGroup[]);
}

/**
 * Everything the run drives: the dev server, the stand-ins (the Atlassian one restartable on its port with other
 * options), the worker processes, and a record of when each log reached Datadog.
 */
class Bench {
  private readonly deliveries = new Map<string, OrgDeliveries>();
  private workers: WorkerProcess[] = [];
  /** Every worker process the run started, killed ones included, for their output should the run lose events. */
  private readonly startedWorkers: WorkerProcess[] = [];
  private watchTimer: NodeJS.Timeout | undefined;
  private orgCount = 0;

  private constructor(
    private readonly dataDir: string,
    private readonly cli: string,
    private readonly serverOptions: DevServerOptions,
    private server: RunningDevServer | undefined,
    readonly client: Client,
    private readonly connection: Connection,
    readonly datadog: DatadogStandin,
    private atlassianStandin: AtlassianStandin,
    private readonly bundlePath: string
  ) {}

  get atlassian(): AtlassianStandin {
    return this.atlassianStandin;
  }

  static async start(atlassianOptions: AtlassianStandinOptions): Promise<Bench> {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'audit-reliability-'));
    const cli = temporalCliPath(ROOT);
    const serverOptions: DevServerOptions = { port: await freePort(), uiPort: await freePort(), dataDir, abortSignal: new AbortController().signal };
    const bundlePath = path.join(dataDir, 'workflow-bundle.js');
    const [server, datadog, atlassian] = await Promise.all([
      startTemporalDevServer(cli, serverOptions),
      DatadogStandin.start({ apiKeys: [KEYS.datadog] }),
      AtlassianStandin.start(atlassianOptions),
      bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, failureConverterPath, logger: quietLogger }).then(({ code }) =>
        writeFile(bundlePath, code)
      ),
    ]);
    const connection = await Connection.connect({ address: server.address });
    const bench = new Bench(dataDir, cli, serverOptions, server, new Client({ connection }), connection, datadog, atlassian, bundlePath);
    bench.watchDeliveries();
    await Promise.all(Array.from({ length: WORKER_COUNT }, () => bench.startWorker()));
    return bench;
  }

  get address(): string {
    return `127.0.0.1:${this.serverOptions.port}`;
  }

  /** A fresh Atlassian stand-in on the same port: the workers keep their base URL. */
  async replaceAtlassian(options: AtlassianStandinOptions): Promise<void> {
    const port = Number(new URL(this.atlassian.url).port);
    await this.atlassianStandin.close();
    this.atlassianStandin = await AtlassianStandin.start({ ...options, port });
  }

  newOrg(): string {
    const orgId = `reliability-${++this.orgCount}-${Date.now().toString(36)}`;
    this.atlassian.addOrg(orgId, { apiKeys: [KEYS.atlassian] });
    return orgId;
  }

  async startCollecting(options: Partial<StartOrgOptions> & { orgId: string }) {
    await startOrg(this.client, TASK_QUEUE, {
      atlassianKey: 'env:ATLASSIAN_API_KEY',
      datadogKey: 'env:DD_API_KEY',
      pollIntervalMs: 1_000,
      since: Date.now() - 24 * 3_600_000,
      ...options,
    });
    return this.client.workflow.getHandle<typeof orgAuditWorkflow>(workflowIdForOrg(options.orgId));
  }

  /** Stops the org's workflow after its page in flight; one that does not stop in time is terminated. */
  async stopCollecting(orgId: string): Promise<void> {
    const handle = this.client.workflow.getHandle(workflowIdForOrg(orgId));
    await handle.signal(stopSignal, { reason: 'reliability scenario done' });
    // Unreferenced, so that a pending timeout never holds the script open at its end.
    const timeout = sleep(30_000, false, { ref: false });
    const stopped = await Promise.race([handle.result().then(() => true), timeout]);
    if (!stopped) await handle.terminate('did not stop within 30 s');
  }

  /** Every log of the org that reached Datadog, in arrival order, repeats included. */
  deliveriesOf(orgId: string): readonly Delivery[] {
    return this.deliveriesFor(orgId).all;
  }

  /** How many distinct events of the org reached Datadog. */
  distinctDelivered(orgId: string): number {
    return this.deliveriesFor(orgId).distinct.size;
  }

  wasDelivered(orgId: string, eventId: string): boolean {
    return this.deliveriesFor(orgId).distinct.has(eventId);
  }

  /**
   * Waits until every expected event has arrived, or until none arrived for `STALL_TIMEOUT_MS`, and reads the
   * outcome: what is missing then counts as lost.
   */
  async outcome(orgId: string, expectedIds: readonly string[]): Promise<Omit<Row, 'fault' | 'injected' | 'recoveryMs'>> {
    const expected = new Set(expectedIds);
    const arrived = () => {
      let count = 0;
      for (const id of expected) if (this.wasDelivered(orgId, id)) count++;
      return count;
    };
    let count = arrived();
    let progressAt = Date.now();
    while (count < expected.size && Date.now() - progressAt < STALL_TIMEOUT_MS) {
      await sleep(250);
      const now = arrived();
      if (now > count) [count, progressAt] = [now, Date.now()];
    }
    const { all, distinct } = this.deliveriesFor(orgId);
    return { expected: expected.size, delivered: count, lost: expected.size - count, duplicated: all.length - distinct.size };
  }

  /** Milliseconds from `since` until Datadog received the org's next event; null if none came. */
  recoveryAfter(orgId: string, since: number): number | null {
    const next = this.deliveriesOf(orgId).find((d) => d.at >= since);
    return next ? next.at - since : null;
  }

  workerCount(): number {
    return this.workers.length;
  }

  /** SIGKILL: no shutdown, no goodbye to Temporal; whatever it was running must time out and move elsewhere. */
  async killWorker(index: number): Promise<void> {
    const [victim] = this.workers.splice(index, 1);
    victim!.child.kill('SIGKILL');
    await victim!.exited;
  }

  async startWorker(): Promise<void> {
    const worker = startWorkerProcess({
      TEMPORAL_ADDRESS: this.address,
      AUDIT_TASK_QUEUE: TASK_QUEUE,
      ATLASSIAN_API_BASE_URL: this.atlassian.url,
      DD_LOGS_INTAKE_URL: this.datadog.url,
      ATLASSIAN_API_KEY: KEYS.atlassian,
      DD_API_KEY: KEYS.datadog,
      AUDIT_WORKFLOW_BUNDLE: this.bundlePath,
      AUDIT_METRICS_ADDRESS: 'off',
      AUDIT_SHUTDOWN_GRACE_SECONDS: '2',
    });
    this.workers.push(worker);
    this.startedWorkers.push(worker);
    await worker.ready;
  }

  /** Workers that exited on their own (a lost server connection, say), restarted; returns how many. */
  async restartExitedWorkers(): Promise<number> {
    const exited = this.workers.filter((w) => w.child.exitCode !== null || w.child.signalCode !== null);
    this.workers = this.workers.filter((w) => !exited.includes(w));
    for (const worker of exited) console.log(`  a worker exited by itself; its last output:\n${worker.output().split('\n').slice(-5).join('\n')}`);
    await Promise.all(exited.map(() => this.startWorker()));
    return exited.length;
  }

  /** SIGTERM to the dev server, as `docker compose restart` or a host reboot would send. */
  async stopTemporal(): Promise<void> {
    await this.server?.stop();
    this.server = undefined;
  }

  async startTemporal(): Promise<void> {
    this.server = await startTemporalDevServer(this.cli, this.serverOptions);
  }

  /**
   * Stops the whole run. With `keepData`, the dev server's database and log and every worker's output stay in the
   * data directory for a post-mortem (`temporal server start-dev --db-filename <dir>/temporal.db` reopens it).
   */
  async close(keepData = false): Promise<void> {
    clearInterval(this.watchTimer);
    await Promise.all(
      this.workers.map(async (worker) => {
        worker.child.kill('SIGTERM');
        await worker.exited;
      })
    );
    await this.connection.close();
    await Promise.allSettled([this.atlassian.close(), this.datadog.close(), this.server?.stop()]);
    if (keepData) {
      await Promise.all(this.startedWorkers.map((worker, i) => writeFile(path.join(this.dataDir, `worker-${i + 1}.log`), worker.output())));
      console.log(`kept for a post-mortem: ${this.dataDir} (temporal.db, temporal-server.log, worker-N.log)`);
      return;
    }
    await rm(this.dataDir, { recursive: true, force: true });
  }

  private deliveriesFor(orgId: string): OrgDeliveries {
    let org = this.deliveries.get(orgId);
    if (!org) this.deliveries.set(orgId, (org = { all: [], distinct: new Set() }));
    return org;
  }

  private watchDeliveries(): void {
    let seen = 0;
    this.watchTimer = setInterval(() => {
      const received = this.datadog.received;
      const now = Date.now();
      for (; seen < received.length; seen++) {
        const atlassian = (received[seen] as { atlassian?: { org_id?: string; event_id?: string } }).atlassian;
        if (!atlassian?.org_id || !atlassian.event_id) continue;
        const org = this.deliveriesFor(atlassian.org_id);
        org.all.push({ at: now, eventId: atlassian.event_id });
        org.distinct.add(atlassian.event_id);
      }
    }, 25);
  }
}

interface WorkerProcess {
  child: ChildProcess;
  /** Resolves once the worker polls its task queue; rejects if it exits first. */
  ready: Promise<void>;
  exited: Promise<void>;
  output(): string;
}

/**
 * `npm run worker` as one process: node with tsx as its loader. Not the tsx command, which runs the worker in a
 * child process of its own: a SIGKILL would then kill the wrapper and leave the worker running.
 */
function startWorkerProcess(env: NodeJS.ProcessEnv): WorkerProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/worker/main.ts')], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = new Promise<void>((resolve, reject) => {
    const collect = (chunk: Buffer) => {
      output += chunk.toString();
      if (/Worker polling task queue/.test(output)) resolve();
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    void exited.then(() => reject(new Error(`the worker exited before polling:\n${output}`)));
  });
  return { child, ready, exited, output: () => output };
}

const quietLogger = { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} };

/** `count` events processed now, their own times in the last minutes: inside the tail's range. */
function addRecentEvents(bench: Bench, orgId: string, count: number, seed: number): string[] {
  const events = generateDemoEvents({ seed, count, startTime: Date.now() - 10 * 60_000, spacingMs: 100, orgId });
  return bench.atlassian.addEvents(orgId, events).map((e) => e.id);
}

/** The first answer that was not a page (an error, a 429, a reset or a hang), by the stand-in's clock. */
function firstFaultyAtlassianAnswer(bench: Bench, orgId: string): number | undefined {
  return bench.atlassian.requests.find((r) => r.orgId === orgId && r.endpoint === 'events-stream' && r.status !== 200)?.at;
}

async function atlassianFaultScenario(bench: Bench, fault: string, inject: AtlassianFault, times: number, seed: number): Promise<Row> {
  const orgId = bench.newOrg();
  const expected = addRecentEvents(bench, orgId, FAULT_EVENTS, seed);
  bench.atlassian.injectFault(orgId, inject, times);
  await bench.startCollecting({ orgId, pageSize: FAULT_PAGE_SIZE });
  const outcome = await bench.outcome(orgId, expected);
  await bench.stopCollecting(orgId);
  const faultAt = firstFaultyAtlassianAnswer(bench, orgId);
  return { fault, injected: times, ...outcome, recoveryMs: faultAt === undefined ? null : bench.recoveryAfter(orgId, faultAt) };
}

async function datadogFaultScenario(bench: Bench, fault: string, inject: DatadogFault, times: number, seed: number): Promise<Row> {
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

interface BudgetFigures {
  served: number;
  allowed: number;
  rateLimited: number;
  elapsedMs: number;
}

/**
 * `count` events processed now whose own times are spread evenly over [from, to): only a backfill of that range
 * delivers them. Returns their IDs.
 */
function addPastEvents(bench: Bench, orgId: string, count: number, range: { from: number; to: number }, seed: number): string[] {
  const events = generateDemoEvents({ seed, count, startTime: range.from, spacingMs: 1, orgId }).map((event, i) => ({
    ...event,
    time: range.from + Math.floor(((range.to - range.from) * i) / count),
    processedAt: undefined,
  }));
  return bench.atlassian.addEvents(orgId, events).map((e) => e.id);
}

/** The range a backfill scenario covers: two days that end an hour before now, where the org's tail starts. */
function pastRange(): { from: number; to: number } {
  const to = Date.now() - 3_600_000;
  return { from: to - 2 * 24 * 3_600_000, to };
}

/**
 * A backfill of `pages` full pages against a token bucket, with our own cap far above it: only Atlassian's
 * headers pace the requests. Efficiency = pages served / requests the bucket allowed over the run.
 */
async function budgetScenario(bench: Bench, settings: Settings): Promise<{ row: Row; figures: BudgetFigures }> {
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

/** A page a second: slow enough that the faults land while pages flow, not after all of them arrived. */
const MID_RUN_PACE = { maxRequestsPerMinute: 60 };

interface InjectedFault {
  kind: 'kill' | 'restart';
  at: number;
  /** Distinct events delivered when it was injected. */
  deliveredBefore: number;
  recoveryMs: number | null;
  /** Repeats that reached Datadog after this fault and before the next one. */
  duplicates: number;
}

interface FaultsFigures {
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
async function backfillUnderFaultsScenario(bench: Bench, random: Random, settings: Settings): Promise<{ row: Row; figures: FaultsFigures }> {
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

interface StatusSample {
  at: number;
  /** Whether Datadog had refused a request of the outage before the query was sent. */
  afterFirstRefusal: boolean;
  pages: number;
  eventsShipped: number;
  watermark: string | null;
  /** Distinct events of the org Datadog had accepted, read after the answer. */
  delivered: number;
  /** Events at or before the watermark (processing order) that Datadog had not accepted. */
  unshippedBehindWatermark: number;
}

interface OutageFigures {
  samples: StatusSample[];
  /** Samples after the first refusal whose position differs from the first such sample. */
  moved: number;
  /** Samples whose position was ahead of what Datadog had accepted. */
  ahead: number;
  refused: number;
  durationMs: number;
}

/**
 * Datadog answers 503, without Retry-After, to every request for `--outage-seconds`, so the ship activity's own
 * backoff (up to a minute) applies; Atlassian keeps producing events meanwhile. The org's `status` is sampled
 * throughout: its position (pages, events shipped, tail watermark) must not move while Datadog accepts nothing,
 * and must never be ahead of what Datadog accepted. Recovery is counted from the outage's end.
 */
async function datadogOutageScenario(bench: Bench, settings: Settings): Promise<{ row: Row; figures: OutageFigures }> {
  const orgId = bench.newOrg();
  // Processing times strictly increasing and in the past, so "every event up to the watermark was delivered" is exact.
  let processedUpTo = 0;
  const addEvents = (count: number, seed: number): string[] => {
    const startTime = Math.max(processedUpTo + 1, Date.now() - count * 10 - 1_000);
    processedUpTo = startTime + (count - 1) * 10;
    const events = generateDemoEvents({ seed, count, startTime, spacingMs: 10, orgId });
    return bench.atlassian.addEvents(orgId, events).map((e) => e.id);
  };
  const expected = addEvents(OUTAGE_EVENTS_BEFORE, 8_001);
  const handle = await bench.startCollecting({ orgId, pageSize: OUTAGE_PAGE_SIZE, ...MID_RUN_PACE });
  await waitForProgress(bench, orgId, () => bench.distinctDelivered(orgId) >= OUTAGE_EVENTS_BEFORE * 0.3);

  const durationMs = settings.outageSeconds * 1_000;
  const requestsBefore = bench.datadog.requests.length;
  const startedAt = Date.now();
  const endsAt = startedAt + durationMs;
  bench.datadog.startOutage({ kind: 'status', status: 503 }, endsAt);
  console.log(`  outage from ${bench.distinctDelivered(orgId)}/${expected.length} delivered, for ${seconds(durationMs)}`);
  const refusedSoFar = () => bench.datadog.requests.slice(requestsBefore).filter((r) => r.status === 503).length;

  const samples: StatusSample[] = [];
  let nextBatchAt = startedAt + OUTAGE_BATCH_EVERY_MS;
  let batch = 0;
  while (Date.now() < endsAt - 250) {
    if (Date.now() >= nextBatchAt) {
      expected.push(...addEvents(OUTAGE_EVENTS_PER_BATCH, 8_002 + batch++));
      nextBatchAt += OUTAGE_BATCH_EVERY_MS;
    }
    const afterFirstRefusal = refusedSoFar() > 0;
    const status = await handle.query(statusQuery);
    if (Date.now() < endsAt) samples.push({ at: Date.now(), afterFirstRefusal, ...positionOf(bench, orgId, status) });
    await sleep(Math.min(OUTAGE_SAMPLE_EVERY_MS, Math.max(0, endsAt - Date.now())));
  }
  const refused = refusedSoFar();
  console.log(`  outage over: ${refused} requests refused, ${samples.length} status samples, ${bench.distinctDelivered(orgId)}/${expected.length} delivered`);

  const outcome = await bench.outcome(orgId, expected);
  await bench.stopCollecting(orgId);
  const held = samples.filter((s) => s.afterFirstRefusal);
  const key = (s: StatusSample) => `${s.pages}/${s.eventsShipped}/${s.watermark}`;
  const figures: OutageFigures = {
    samples,
    moved: held.filter((s) => key(s) !== key(held[0]!)).length,
    ahead: samples.filter((s) => s.eventsShipped > s.delivered || s.unshippedBehindWatermark > 0).length,
    refused,
    durationMs,
  };
  const row: Row = {
    fault: `Datadog outage ${settings.outageSeconds} s, 503 on every request (recovery from its end)`,
    injected: refused,
    ...outcome,
    recoveryMs: bench.recoveryAfter(orgId, endsAt),
  };
  return { row, figures };
}

/** The org's position as its status tells it, checked against what Datadog accepted (read after the answer). */
function positionOf(bench: Bench, orgId: string, status: OrgAuditStatus): Omit<StatusSample, 'at' | 'afterFirstRefusal'> {
  const watermark = status.tail.watermark;
  const watermarkMs = watermark === null ? -Infinity : Date.parse(watermark);
  const unshippedBehindWatermark = bench.atlassian
    .events(orgId)
    .filter((e) => Date.parse(e.attributes.processedAt ?? '') <= watermarkMs && !bench.wasDelivered(orgId, e.id)).length;
  return {
    pages: status.stats.pages,
    eventsShipped: status.stats.eventsShipped,
    watermark,
    delivered: bench.distinctDelivered(orgId),
    unshippedBehindWatermark,
  };
}

/**
 * Waits until `check()` holds; false when the org delivered no new event for `STALL_TIMEOUT_MS` meanwhile.
 * `each` runs on every turn of the wait.
 */
async function waitForProgress(bench: Bench, orgId: string, check: () => boolean, each?: () => Promise<void>): Promise<boolean> {
  let delivered = bench.distinctDelivered(orgId);
  let progressAt = Date.now();
  while (!check()) {
    if (Date.now() - progressAt > STALL_TIMEOUT_MS) return false;
    await each?.();
    await sleep(50);
    if (bench.distinctDelivered(orgId) > delivered) [delivered, progressAt] = [bench.distinctDelivered(orgId), Date.now()];
  }
  return true;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function printTable(rows: readonly Row[]): void {
  const header = ['fault', 'injected', 'expected', 'delivered', 'lost', 'duplicated', 'time to recover'];
  const cells = rows.map((r) => [
    r.fault,
    String(r.injected),
    String(r.expected),
    String(r.delivered),
    String(r.lost),
    String(r.duplicated),
    r.recoveryMs === null ? '—' : seconds(r.recoveryMs),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (values: string[]) => values.map((v, i) => (i === 0 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of cells) console.log(line(row));
}

function printBudget(budget: BudgetFigures, settings: Settings): void {
  console.log(
    `Atlassian budget: ${budget.served} pages served in ${seconds(budget.elapsedMs)}; the bucket allowed ` +
      `${budget.allowed.toFixed(1)} (${settings.budgetRequestsPerMinute}/min × elapsed + burst ${BUDGET_BURST}): ` +
      `efficiency ${(budget.served / budget.allowed).toFixed(3)}, ${budget.rateLimited} × 429`
  );
}

function printOutage(outage: OutageFigures): void {
  const held = outage.samples.filter((s) => s.afterFirstRefusal);
  const first = held[0];
  const heldAnswer = first === undefined ? 'not sampled (no refusal seen)' : outage.moved === 0 ? 'yes' : `NO, moved in ${outage.moved} samples`;
  console.log(
    `Datadog outage: ${seconds(outage.durationMs)} of 503 without Retry-After, ${outage.refused} requests refused; ` +
      `cursor held during outage: ${heldAnswer} (${held.length} samples after the first refusal` +
      (first ? `: ${first.pages} pages, ${first.eventsShipped} events shipped, watermark ${first.watermark ?? 'none'}` : '') +
      `); ahead of what Datadog accepted: ${outage.ahead === 0 ? 'never' : `in ${outage.ahead} samples`} (${outage.samples.length} samples)`
  );
}

function printFaults(row: Row, figures: FaultsFigures, settings: Settings): void {
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
  const run = async (label: string, scenario: () => Promise<Row | Row[]>) => {
    const startedAt = Date.now();
    console.log(`- ${label}`);
    const done = [await scenario()].flat();
    const delivered = done.reduce((sum, r) => sum + r.delivered, 0);
    const expected = done.reduce((sum, r) => sum + r.expected, 0);
    const lost = done.reduce((sum, r) => sum + r.lost, 0);
    console.log(`  done in ${seconds(Date.now() - startedAt)}: ${delivered}/${expected} delivered, ${lost} lost`);
    rows.push(...done);
  };
  let lost = 0;
  try {
    console.log(`ready after ${seconds(Date.now() - runStartedAt)} (dev server ${bench.address}, workflow bundle, workers)`);
    let budget: BudgetFigures | undefined;
    let outage: OutageFigures | undefined;
    let faults: { row: Row; figures: FaultsFigures } | undefined;
    if (selected('budget')) {
      await run(`budget: ${settings.budgetPages} pages of ${BUDGET_PAGE_SIZE}, bucket ${settings.budgetRequestsPerMinute}/min`, async () => {
        const result = await budgetScenario(bench, settings);
        budget = result.figures;
        return result.row;
      });
      await run('Atlassian 429 with X-RateLimit-Reset only', () =>
        atlassianFaultScenario(bench, 'Atlassian 429, X-RateLimit-Reset only (3 s)', { kind: 'rateLimit', retryAfterSeconds: 3 }, 1, 11)
      );
    }

    // Phase 2: Atlassian without a bucket, Retry-After on its 429s. Atlassian faults belong to one org each, so
    // those scenarios run side by side; Datadog's faults answer whichever request comes next, so those run alone.
    await bench.replaceAtlassian({});
    if (selected('atlassian')) {
      await run('Atlassian faults, side by side', async () => {
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
      await run('Datadog 503 ×20', () =>
        datadogFaultScenario(bench, 'Datadog 503 in a row, Retry-After 1 s', { kind: 'status', status: 503, retryAfterSeconds: 1 }, 20, 31)
      );
      await run('Datadog 500 ×3', () => datadogFaultScenario(bench, 'Datadog 500, no Retry-After', { kind: 'status', status: 500 }, 3, 32));
      await run('Datadog 408 ×3', () => datadogFaultScenario(bench, 'Datadog 408', { kind: 'status', status: 408 }, 3, 33));
      await run('Datadog 429 ×5', () =>
        datadogFaultScenario(bench, 'Datadog 429, Retry-After 1 s', { kind: 'status', status: 429, retryAfterSeconds: 1 }, 5, 34)
      );
      await run('Datadog 413 ×2', () => datadogFaultScenario(bench, 'Datadog 413 (chunk split)', { kind: 'status', status: 413 }, 2, 35));
    }
    if (selected('outage')) {
      await run(`Datadog outage: 503 on every request for ${settings.outageSeconds} s`, async () => {
        const result = await datadogOutageScenario(bench, settings);
        outage = result.figures;
        return result.row;
      });
    }
    // Last, since it restarts the dev server.
    if (selected('kills')) {
      await run(`backfill of ${settings.killEvents} events: ${settings.kills} worker SIGKILLs and one Temporal restart`, async () => {
        faults = await backfillUnderFaultsScenario(bench, random, settings);
        return faults.row;
      });
    }

    console.log('');
    printTable(rows);
    console.log('');
    if (budget) printBudget(budget, settings);
    if (outage) printOutage(outage);
    if (faults) printFaults(faults.row, faults.figures, settings);
    lost = rows.reduce((sum, r) => sum + r.lost, 0);
    const expected = rows.reduce((sum, r) => sum + r.expected, 0);
    const duplicated = rows.reduce((sum, r) => sum + r.duplicated, 0);
    const aheadOfDatadog = outage !== undefined && (outage.moved > 0 || outage.ahead > 0);
    console.log(
      `\nwhole run: ${seconds(Date.now() - runStartedAt)}, ${rows.length} scenarios, ${expected} events expected, ` +
        `${lost} lost, ${duplicated} duplicated` +
        (outage ? `; cursor ${aheadOfDatadog ? 'MOVED PAST events Datadog had not accepted' : 'never ahead of Datadog'}` : '')
    );
    if (lost > 0 || aheadOfDatadog) process.exitCode = 1;
  } finally {
    await bench.close(process.exitCode === 1);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
