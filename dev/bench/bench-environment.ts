/**
 * What one benchmark runs against: its own Temporal dev server (so that no benchmark inherits the workflows,
 * history or task-queue backlog of another), the stand-ins in their own process, a client, and workers built by the
 * harness in this process (dev/harness/).
 */
import { Client, Connection } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { NativeConnection } from '@temporalio/worker';
import type { Dispatcher } from 'undici';
import { createHttpAgent } from '../../activities/http-client';
import { startOrg, type StartOrgOptions } from '../../client/org-control';
import type { RateLimitOptions } from '../standins/atlassian-standin';
import type { OrgAuditStatus } from '../../workflows/org-audit-state';
import { createHarnessWorker, orgStatus } from '../harness/collector';
import { WORKER_ENV } from '../harness/keys';
import { startDevServer, type DevServerOptions, type RunningDevServer } from '../harness/dev-server';
import { workflowIdForOrg } from '../../shared/org-workflow';
import type { WorkerActivityDependencies } from '../../worker/create-worker';
import { scanServerHistories, type HistoryContentScan } from './history-content';
import { StandinProcess } from './standin-process';

export interface BenchEnvironmentOptions {
  /** The Atlassian stand-in's per-org token bucket of `events-stream`; none = unlimited. */
  rateLimit?: RateLimitOptions;
  server?: DevServerOptions;
}

export interface RunningWorker {
  /** Shuts the worker down and waits for it; in-flight activities get a short grace. */
  stop(): Promise<void>;
}

export class BenchEnvironment {
  private readonly workers: RunningWorker[] = [];
  private readonly clients = new Map<DataConverter | undefined, Client>();
  /** The data converter each org's workflow was started with, to decode its history as its workers wrote it. */
  private readonly converters = new Map<string, DataConverter | undefined>();

  private constructor(
    readonly server: RunningDevServer,
    readonly standins: StandinProcess,
    private readonly nativeConnection: NativeConnection,
    private readonly connection: Connection,
    private readonly dispatcher: Dispatcher
  ) {}

  /** Runs `work` in an environment of its own, closed afterwards whatever happens. */
  static async run<T>(options: BenchEnvironmentOptions, work: (environment: BenchEnvironment) => Promise<T>): Promise<T> {
    const environment = await BenchEnvironment.start(options);
    try {
      const result = await work(environment);
      await environment.scanHistories();
      return result;
    } finally {
      await environment.close();
    }
  }

  private static async start(options: BenchEnvironmentOptions): Promise<BenchEnvironment> {
    const server = await startDevServer(options.server);
    let standins: StandinProcess | undefined;
    try {
      standins = await StandinProcess.start({ rateLimit: options.rateLimit });
      const nativeConnection = await NativeConnection.connect({ address: server.address });
      const connection = await Connection.connect({ address: server.address });
      return new BenchEnvironment(server, standins, nativeConnection, connection, createHttpAgent());
    } catch (error) {
      await standins?.stop();
      await server.stop();
      throw error;
    }
  }

  /** A client whose data converter matches the workers it talks to (a codec worker needs a codec client). */
  client(dataConverter?: DataConverter): Client {
    let client = this.clients.get(dataConverter);
    if (!client) {
      client = new Client({ connection: this.connection, namespace: 'default', dataConverter });
      this.clients.set(dataConverter, client);
    }
    return client;
  }

  /** Activity dependencies as the worker builds them, pointed at the stand-ins. */
  get activityDependencies(): WorkerActivityDependencies {
    return {
      atlassianBaseUrl: this.standins.atlassianUrl,
      datadogIntakeUrl: this.standins.datadogIntakeUrl,
      dispatcher: this.dispatcher,
      env: WORKER_ENV,
    };
  }

  async startWorker(taskQueue: string, dataConverter?: DataConverter): Promise<RunningWorker> {
    const worker = await createHarnessWorker({
      connection: this.nativeConnection,
      taskQueue,
      dataConverter,
      activities: this.activityDependencies,
      shutdownGraceMs: 2_000,
    });
    const running = worker.run();
    const handle: RunningWorker = {
      async stop() {
        if (worker.getState() === 'RUNNING') worker.shutdown();
        await running;
      },
    };
    this.workers.push(handle);
    return handle;
  }

  /** Starts an org through the client's own code, as `atlassian-audit start` does, with the client's defaults. */
  async startOrg(taskQueue: string, options: StartOrgOptions, dataConverter?: DataConverter): Promise<void> {
    this.converters.set(workflowIdForOrg(options.orgId), dataConverter);
    await startOrg(this.client(dataConverter), taskQueue, options);
  }

  /** Every run of every workflow on this server, searched for the audit content the stand-in served (./history-content.ts). */
  async scanHistories(): Promise<HistoryContentScan> {
    const content = await this.standins.request('eventContent', {});
    return scanServerHistories(this.client(), content, (workflowId) => this.converters.get(workflowId));
  }

  status(orgId: string): Promise<OrgAuditStatus> {
    return orgStatus(this.client(), orgId);
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.workers.map((running) => running.stop()));
    await Promise.allSettled([this.nativeConnection.close(), this.connection.close(), this.dispatcher.close()]);
    await Promise.allSettled([this.standins.stop(), this.server.stop()]);
  }
}
