/**
 * What one benchmark runs against: its own Temporal dev server, the stand-ins in their own process, a client, and
 * workers built by the project's own factory (the same options as `npm run worker`), in this process.
 */
import { Client, Connection } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { NativeConnection } from '@temporalio/worker';
import type { Dispatcher } from 'undici';
import { createHttpAgent } from '../../activities/http-client';
import { startOrg, type StartOrgOptions } from '../../client/org-control';
import { workflowIdForOrg } from '../../shared/org-workflow';
import type { RateLimitOptions } from '../standins/atlassian-standin';
import { createAuditWorker } from '../../worker/create-worker';
import { statusQuery } from '../../workflows/messages';
import type { OrgAuditStatus } from '../../workflows/org-audit-state';
import type { BenchmarkContext } from './benchmark';
import { TemporalDevServer, type DevServerOptions } from './dev-server';
import { StandinProcess } from './standin-process';

const BENCH_KEYS = { atlassian: 'bench-atlassian-key', datadog: 'bench-datadog-key' } as const;

/** The worker resolves the default `env:` credential references against this, never the benchmark's environment. */
const WORKER_ENV = { ATLASSIAN_API_KEY: BENCH_KEYS.atlassian, DD_API_KEY: BENCH_KEYS.datadog };

export interface RunningWorker {
  /** Shuts the worker down and waits for it; in-flight activities get a short grace. */
  stop(): Promise<void>;
}

export class BenchEnvironment {
  private readonly workers: RunningWorker[] = [];
  private readonly clients = new Map<DataConverter | undefined, Client>();

  private constructor(
    private readonly context: BenchmarkContext,
    readonly server: TemporalDevServer,
    readonly standins: StandinProcess,
    private readonly nativeConnection: NativeConnection,
    private readonly connection: Connection,
    private readonly dispatcher: Dispatcher
  ) {}

  static async start(
    context: BenchmarkContext,
    options: { rateLimit?: RateLimitOptions; server?: DevServerOptions } = {}
  ): Promise<BenchEnvironment> {
    const server = await TemporalDevServer.start(options.server);
    let standins: StandinProcess | undefined;
    try {
      standins = await StandinProcess.start({
        atlassianKey: BENCH_KEYS.atlassian,
        datadogKey: BENCH_KEYS.datadog,
        rateLimit: options.rateLimit,
      });
      const nativeConnection = await NativeConnection.connect({ address: server.address });
      const connection = await Connection.connect({ address: server.address });
      return new BenchEnvironment(context, server, standins, nativeConnection, connection, createHttpAgent());
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
  get activityDependencies() {
    return {
      atlassianBaseUrl: this.standins.atlassianUrl,
      datadogIntakeUrl: this.standins.datadogIntakeUrl,
      dispatcher: this.dispatcher,
      env: WORKER_ENV,
    };
  }

  async startWorker(taskQueue: string, dataConverter?: DataConverter): Promise<RunningWorker> {
    const worker = await createAuditWorker({
      connection: this.nativeConnection,
      namespace: 'default',
      taskQueue,
      workflowBundle: await this.context.workflowBundle(dataConverter?.failureConverterPath),
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

  /** Starts an org through the client's own code, as `atlassian-audit start` does. */
  async startOrg(taskQueue: string, options: StartOrgOptions, dataConverter?: DataConverter): Promise<void> {
    await startOrg(this.client(dataConverter), taskQueue, options);
  }

  status(orgId: string): Promise<OrgAuditStatus> {
    return this.client().workflow.getHandle(workflowIdForOrg(orgId)).query(statusQuery);
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.workers.map((running) => running.stop()));
    await Promise.allSettled([this.nativeConnection.close(), this.connection.close(), this.dispatcher.close()]);
    await Promise.allSettled([this.standins.stop(), this.server.stop()]);
  }
}
