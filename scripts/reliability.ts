/**
 * `npm run reliability`: the faults the collector must survive, injected one after another into a single run
 * against the stand-ins, with workers as real processes (`npm run worker`) on a Temporal dev server of the script's
 * own (SQLite file, so it can be stopped and started again). Prints, per fault: how many were injected, events
 * expected, delivered, lost, delivered twice, and the time from the fault until Datadog received the org's next
 * event. Also measures how much of Atlassian's rate-limit budget a long backfill uses.
 *
 *   npm run reliability [-- --budget-rpm 150 --budget-pages 300 --seed 42]
 *
 * Figures only: nothing here is timed against a threshold. The exit code is 1 when any event was lost.
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
import { generateDemoEvents } from '../src/standins/demo-events';
import { WORKFLOWS_PATH } from '../src/worker/create-worker';
import { requestBackfillUpdate, stopSignal } from '../src/workflows/messages';
import type { orgAuditWorkflow } from '../src/workflows/org-audit-workflow';
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
/** Longest a scenario may take before what is missing counts as lost. */
const SCENARIO_TIMEOUT_MS = 180_000;

interface Settings {
  budgetRequestsPerMinute: number;
  budgetPages: number;
  seed: number;
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
  orgId: string;
  eventId: string;
}

type Random = () => number;

function readSettings(): Settings {
  const { values } = parseArgs({
    options: {
      'budget-rpm': { type: 'string', default: '150' },
      'budget-pages': { type: 'string', default: '300' },
      seed: { type: 'string' },
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
  };
}

/** The same generator the demo events use: one seed replays the same kill and stop moments. */
function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/**
 * Everything the run drives: the dev server, the stand-ins (the Atlassian one restartable on its port with other
 * options), the worker processes, and a record of when each log reached Datadog.
 */
class Bench {
  readonly deliveries: Delivery[] = [];
  private workers: WorkerProcess[] = [];
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

  deliveredIds(orgId: string): string[] {
    return this.deliveries.filter((d) => d.orgId === orgId).map((d) => d.eventId);
  }

  /** Waits until every expected event has arrived (or the scenario times out) and reads the outcome. */
  async outcome(orgId: string, expectedIds: readonly string[]): Promise<Omit<Row, 'fault' | 'injected' | 'recoveryMs'>> {
    const expected = new Set(expectedIds);
    const arrived = () => new Set(this.deliveredIds(orgId).filter((id) => expected.has(id))).size;
    const deadline = Date.now() + SCENARIO_TIMEOUT_MS;
    while (arrived() < expected.size && Date.now() < deadline) await sleep(100);
    const delivered = this.deliveredIds(orgId);
    const unique = new Set(delivered);
    return {
      expected: expected.size,
      delivered: arrived(),
      lost: expected.size - arrived(),
      duplicated: delivered.length - unique.size,
    };
  }

  /** Milliseconds from `since` until Datadog received the org's next event; null if none came. */
  recoveryAfter(orgId: string, since: number): number | null {
    const next = this.deliveries.find((d) => d.orgId === orgId && d.at >= since);
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

  async close(): Promise<void> {
    clearInterval(this.watchTimer);
    await Promise.all(
      this.workers.map(async (worker) => {
        worker.child.kill('SIGTERM');
        await worker.exited;
      })
    );
    await this.connection.close();
    await Promise.allSettled([this.atlassian.close(), this.datadog.close(), this.server?.stop()]);
    await rm(this.dataDir, { recursive: true, force: true });
  }

  private watchDeliveries(): void {
    let seen = 0;
    this.watchTimer = setInterval(() => {
      const received = this.datadog.received;
      const now = Date.now();
      for (; seen < received.length; seen++) {
        const atlassian = (received[seen] as { atlassian?: { org_id?: string; event_id?: string } }).atlassian;
        if (atlassian?.org_id && atlassian.event_id) this.deliveries.push({ at: now, orgId: atlassian.org_id, eventId: atlassian.event_id });
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
 * A backfill of `pages` full pages against a token bucket, with our own cap far above it: only Atlassian's
 * headers pace the requests. Efficiency = pages served / requests the bucket allowed over the run.
 */
async function budgetScenario(bench: Bench, settings: Settings): Promise<{ row: Row; figures: BudgetFigures }> {
  const orgId = bench.newOrg();
  const since = Date.now() - 3_600_000;
  const from = since - 2 * 24 * 3_600_000;
  const count = settings.budgetPages * BUDGET_PAGE_SIZE;
  const events = generateDemoEvents({ seed: settings.seed, count, startTime: from, spacingMs: 1, orgId }).map((event, i) => ({
    ...event,
    time: from + Math.floor(((since - from) * i) / count),
    processedAt: undefined,
  }));
  const expected = bench.atlassian.addEvents(orgId, events).map((e) => e.id);
  const handle = await bench.startCollecting({
    orgId,
    since,
    pageSize: BUDGET_PAGE_SIZE,
    maxRequestsPerMinute: 1_200,
    pollIntervalMs: 60_000,
  });
  await handle.executeUpdate(requestBackfillUpdate, { args: [{ from, to: since }] });
  const outcome = await bench.outcome(orgId, expected);
  const lastDelivery = bench.deliveries.filter((d) => d.orgId === orgId).at(-1)?.at ?? Date.now();
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

/**
 * A page a second. Pacing waits are Temporal timers, and one shorter than a second fires after about a second
 * anyway (seen on the dev server 1.29.1): a faster cap would not make these scenarios shorter.
 */
const MID_RUN_PACE = { maxRequestsPerMinute: 60 };

/** Two workers; at random moments while pages flow, one of them is killed with SIGKILL and a new one started. */
async function workerKillScenario(bench: Bench, random: Random, kills: number): Promise<Row> {
  const orgId = bench.newOrg();
  const expected = addRecentEvents(bench, orgId, 1_500, 7_001);
  await bench.startCollecting({ orgId, pageSize: 100, ...MID_RUN_PACE });
  const recoveries: number[] = [];
  await waitFor(() => bench.deliveredIds(orgId).length > 0);
  for (let kill = 0; kill < kills; kill++) {
    // A random moment while pages flow: mid-poll, mid-map or mid-ship, whichever it is.
    await sleep(500 + random() * 3_000);
    const victim = Math.floor(random() * bench.workerCount());
    const killedAt = Date.now();
    await bench.killWorker(victim);
    console.log(`  SIGKILL worker ${victim + 1} of ${WORKER_COUNT} at ${bench.deliveredIds(orgId).length}/${expected.length} delivered`);
    await bench.startWorker();
    await waitFor(() => bench.recoveryAfter(orgId, killedAt) !== null);
    recoveries.push(bench.recoveryAfter(orgId, killedAt)!);
  }
  const outcome = await bench.outcome(orgId, expected);
  await bench.stopCollecting(orgId);
  return { fault: `worker SIGKILL at random points (2 workers)`, injected: kills, ...outcome, recoveryMs: Math.max(...recoveries) };
}

/** The dev server gets SIGTERM mid-run, stays down a few seconds, and comes back on the same port and database. */
async function temporalRestartScenario(bench: Bench, random: Random): Promise<Row> {
  const orgId = bench.newOrg();
  const expected = addRecentEvents(bench, orgId, 400, 7_002);
  await bench.startCollecting({ orgId, pageSize: 40, ...MID_RUN_PACE });
  await waitFor(() => bench.deliveredIds(orgId).length > 0);
  await sleep(1_000 + random() * 4_000);
  const stoppedAt = Date.now();
  await bench.stopTemporal();
  console.log(`  Temporal stopped in ${((Date.now() - stoppedAt) / 1000).toFixed(1)} s at ${bench.deliveredIds(orgId).length}/${expected.length} delivered; down for 3 s`);
  await sleep(3_000);
  const startingAt = Date.now();
  await bench.startTemporal();
  console.log(`  Temporal answering again after ${((Date.now() - startingAt) / 1000).toFixed(1)} s`);
  const outcome = await bench.outcome(orgId, expected);
  await bench.stopCollecting(orgId);
  const restarted = await bench.restartExitedWorkers();
  console.log(`  workers that exited because Temporal was down: ${restarted}`);
  return { fault: 'Temporal server SIGTERM + restart (3 s down)', injected: 1, ...outcome, recoveryMs: bench.recoveryAfter(orgId, stoppedAt) };
}

async function waitFor(check: () => boolean, timeoutMs = SCENARIO_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs / 1000} s`);
    await sleep(50);
  }
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
    r.recoveryMs === null ? '—' : `${(r.recoveryMs / 1000).toFixed(1)} s`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (values: string[]) => values.map((v, i) => (i === 0 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of cells) console.log(line(row));
}

async function main(): Promise<void> {
  const settings = readSettings();
  const random = seededRandom(settings.seed);
  const runStartedAt = Date.now();
  console.log(`reliability run: seed ${settings.seed}, ${cpus().length} CPUs, ${WORKER_COUNT} worker processes`);

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
    console.log(`  done in ${((Date.now() - startedAt) / 1000).toFixed(1)} s: ${delivered}/${expected} delivered, ${lost} lost`);
    rows.push(...done);
  };
  try {
    console.log(`ready after ${((Date.now() - runStartedAt) / 1000).toFixed(1)} s (dev server ${bench.address}, workflow bundle, workers)`);
    let budget: BudgetFigures | undefined;
    await run(`budget: ${settings.budgetPages} pages of ${BUDGET_PAGE_SIZE}, bucket ${settings.budgetRequestsPerMinute}/min`, async () => {
      const result = await budgetScenario(bench, settings);
      budget = result.figures;
      return result.row;
    });
    await run('Atlassian 429 with X-RateLimit-Reset only', () =>
      atlassianFaultScenario(bench, 'Atlassian 429, X-RateLimit-Reset only (3 s)', { kind: 'rateLimit', retryAfterSeconds: 3 }, 1, 11)
    );

    // Phase 2: Atlassian without a bucket, Retry-After on its 429s. Atlassian faults belong to one org each, so
    // those scenarios run side by side; Datadog's faults answer whichever request comes next, so those run alone.
    await bench.replaceAtlassian({});
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
    await run('Datadog 503 ×20', () =>
      datadogFaultScenario(bench, 'Datadog 503 in a row, Retry-After 1 s', { kind: 'status', status: 503, retryAfterSeconds: 1 }, 20, 31)
    );
    await run('Datadog 500 ×3', () => datadogFaultScenario(bench, 'Datadog 500, no Retry-After', { kind: 'status', status: 500 }, 3, 32));
    await run('Datadog 408 ×3', () => datadogFaultScenario(bench, 'Datadog 408', { kind: 'status', status: 408 }, 3, 33));
    await run('Datadog 429 ×5', () =>
      datadogFaultScenario(bench, 'Datadog 429, Retry-After 1 s', { kind: 'status', status: 429, retryAfterSeconds: 1 }, 5, 34)
    );
    await run('Datadog 413 ×2', () => datadogFaultScenario(bench, 'Datadog 413 (chunk split)', { kind: 'status', status: 413 }, 2, 35));
    await run('worker SIGKILL ×2', () => workerKillScenario(bench, random, 2));
    await run('Temporal restart', () => temporalRestartScenario(bench, random));

    console.log('');
    printTable(rows);
    if (budget) {
      console.log('');
      console.log(
        `Atlassian budget: ${budget.served} pages served in ${(budget.elapsedMs / 1000).toFixed(1)} s; the bucket allowed ` +
          `${budget.allowed.toFixed(1)} (${settings.budgetRequestsPerMinute}/min × elapsed + burst ${BUDGET_BURST}): ` +
          `efficiency ${(budget.served / budget.allowed).toFixed(3)}, ${budget.rateLimited} × 429`
      );
    }
    const lost = rows.reduce((sum, r) => sum + r.lost, 0);
    console.log(`\nwhole run: ${((Date.now() - runStartedAt) / 1000).toFixed(0)} s, ${lost} events lost`);
    if (lost > 0) process.exitCode = 1;
  } finally {
    await bench.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
