import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { startOrg, type StartOrgOptions, type StartOrgResult } from '../../client/org-control';
import { failureConverterPath } from '../../codec/data-converter';
import { workflowIdForOrg } from '../../shared/org-workflow';
import { AtlassianStandin, type AtlassianStandinOptions } from '../standins/atlassian-standin';
import type { DatadogStandin } from '../standins/datadog-standin';
import { stopSignal } from '../../workflows/messages';
import type { OrgAuditResult, OrgAuditStatus } from '../../workflows/org-audit-state';
import { orgStatus, startHarnessOrg, workflowBundle } from '../harness/collector';
import { startDevServer, temporalCliPath, type DevServerOptions, type RunningDevServer } from '../harness/dev-server';
import { WORKER_ENV } from '../harness/keys';
import { freePort } from '../harness/ports';
import { startEntryPoint, stopChild, type RunningProcess } from '../harness/processes';
import { addTestOrg, deliveryOf, startHarnessStandins } from '../harness/standins';
import type { Row } from './table';

const TASK_QUEUE = 'atlassian-audit-reliability';
export const WORKER_COUNT = 2;
/** How long a scenario may go without a new event arriving before what is missing counts as lost. */
export const STALL_TIMEOUT_MS = 180_000;
/** A worker process loads the prebuilt bundle and connects: seconds, more on a busy machine. */
const WORKER_READY_TIMEOUT_MS = 120_000;
/** Beyond the workers' own shutdown grace (AUDIT_SHUTDOWN_GRACE_SECONDS) before a SIGKILL. */
const WORKER_STOP_GRACE_MS = 15_000;

interface Delivery {
  at: number;
  eventId: string;
}

/** Per org: every delivery in arrival order (repeats kept) and the distinct event IDs among them. */
interface OrgDeliveries {
  all: Delivery[];
  distinct: Set<string>;
}

/**
 * Everything the run drives: the dev server, the stand-ins (the Atlassian one restartable on its port with other
 * options), the worker processes, and a record of when each log reached Datadog.
 */
export class Bench {
  private readonly deliveries = new Map<string, OrgDeliveries>();
  private workers: RunningProcess[] = [];
  /** Every worker process the run started, killed ones included, for their output should the run lose events. */
  private readonly startedWorkers: RunningProcess[] = [];
  private watchTimer: NodeJS.Timeout | undefined;
  private orgCount = 0;

  private constructor(
    private readonly dataDir: string,
    private readonly serverOptions: DevServerOptions & { port: number },
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
    // The same port, database and CLI at every start: a restarted server resumes where the stopped one was.
    const serverOptions = { port: await freePort(), dataDir, cli: temporalCliPath() };
    const bundlePath = path.join(dataDir, 'workflow-bundle.js');
    const [server, { atlassian, datadog }] = await Promise.all([
      startDevServer(serverOptions),
      startHarnessStandins(atlassianOptions),
      workflowBundle(failureConverterPath).then(({ code }) => writeFile(bundlePath, code)),
    ]);
    const connection = await Connection.connect({ address: server.address });
    const bench = new Bench(dataDir, serverOptions, server, new Client({ connection }), connection, datadog, atlassian, bundlePath);
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

  /** Named by its place in the run, so that worker output kept for a post-mortem reads in order. */
  newOrg(): string {
    return addTestOrg(this.atlassian, `reliability-${++this.orgCount}-${Date.now().toString(36)}`);
  }

  /** With the client's default request budget, which the scenarios that measure pacing set for themselves. */
  startCollecting(options: Partial<StartOrgOptions> & { orgId: string }) {
    return startHarnessOrg(this.client, TASK_QUEUE, options);
  }

  /** The client's `start` as an operator runs it, without the harness's `since`: an org whose last run ended resumes. */
  startAsOperator(options: StartOrgOptions): Promise<StartOrgResult> {
    return startOrg(this.client, TASK_QUEUE, options);
  }

  status(orgId: string): Promise<OrgAuditStatus> {
    return orgStatus(this.client, orgId);
  }

  /**
   * Stops the org's workflow after its page in flight and returns its result; one that does not stop in time is
   * terminated (null). `payload` is the stop signal's, sent as is: the liveness cases send odd ones.
   */
  async stopCollecting(orgId: string, payload: unknown = { reason: 'reliability scenario done' }): Promise<OrgAuditResult | null> {
    const handle = this.client.workflow.getHandle(workflowIdForOrg(orgId));
    await handle.signal<[unknown]>(stopSignal.name, payload);
    // Unreferenced, so that a pending timeout never holds the script open at its end.
    const timeout = sleep(30_000, null, { ref: false });
    const result = await Promise.race([handle.result() as Promise<OrgAuditResult>, timeout]);
    if (result === null) await handle.terminate('did not stop within 30 s');
    return result;
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

  /** `npm run worker` as a process of its own; resolves once it polls its task queue. */
  async startWorker(): Promise<void> {
    const worker = startEntryPoint('worker/main.ts', [], {
      ...WORKER_ENV,
      TEMPORAL_ADDRESS: this.address,
      AUDIT_TASK_QUEUE: TASK_QUEUE,
      ATLASSIAN_API_BASE_URL: this.atlassian.url,
      DD_LOGS_INTAKE_URL: this.datadog.url,
      AUDIT_WORKFLOW_BUNDLE: this.bundlePath,
      AUDIT_METRICS_ADDRESS: 'off',
      AUDIT_SHUTDOWN_GRACE_SECONDS: '2',
      // One store for both workers, so that a resend finds a dead letter whichever worker stored it.
      AUDIT_DEAD_LETTER_DIR: path.join(this.dataDir, 'dead-letters'),
    });
    this.workers.push(worker);
    this.startedWorkers.push(worker);
    await worker.waitForOutput(/Worker polling task queue/, WORKER_READY_TIMEOUT_MS);
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
    this.server = await startDevServer(this.serverOptions);
  }

  /**
   * Stops the whole run. With `keepData`, the dev server's database and log and every worker's output stay in the
   * data directory for a post-mortem (`temporal server start-dev --db-filename <dir>/temporal.db` reopens it).
   */
  async close(keepData = false): Promise<void> {
    clearInterval(this.watchTimer);
    await Promise.all(this.workers.map((worker) => stopChild(worker.child, WORKER_STOP_GRACE_MS)));
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
        const log = received[seen]!;
        const delivery = deliveryOf(log);
        if (!delivery) continue;
        // A dead letter's stub stands in for a log Datadog refused: the event is delivered once its own log arrives.
        if ((log['atlassian'] as { dead_letter?: unknown }).dead_letter !== undefined) continue;
        const org = this.deliveriesFor(delivery.orgId);
        org.all.push({ at: now, eventId: delivery.eventId });
        org.distinct.add(delivery.eventId);
      }
    }, 25);
  }
}

/**
 * Waits until `check()` holds; false when the org delivered no new event for `STALL_TIMEOUT_MS` meanwhile.
 * `each` runs on every turn of the wait.
 */
export async function waitForProgress(bench: Bench, orgId: string, check: () => boolean, each?: () => Promise<void>): Promise<boolean> {
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
