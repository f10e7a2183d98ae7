import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { DataConverter } from '@temporalio/common';
import type { NativeConnection, State, WorkerOptions } from '@temporalio/worker';
import { Worker } from '@temporalio/worker';
import { createActivities, type ActivityDependencies } from '../activities';
import { PageStore, type PageStoreOptions } from '../activities/page-store';
import { paceGroupTaskQueue } from '../shared/pace-groups';

/** What the activities need from outside; the page store is made with the workers. */
export type WorkerActivityDependencies = Omit<ActivityDependencies, 'pageStore'>;

export interface AuditWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  activities: WorkerActivityDependencies;
  /** Bounds of the page store (activities/page-store.ts). */
  pageStore?: Omit<PageStoreOptions, 'taskQueue'>;
  /** Requests per minute of each pace group whose polls this worker serves (shared/pace-groups.ts). @default {} */
  paceGroups?: Record<string, number>;
  /** A prebuilt bundle (production, tests); without it the workflows are bundled from source at start-up. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  dataConverter?: DataConverter;
  /** How long in-flight activities may finish after a shutdown signal. @default 30_000 */
  shutdownGraceMs?: number;
  /** Extra worker options for tests and benchmarks (identity, cache sizes); they apply to both workers. */
  overrides?: Partial<WorkerOptions>;
}

export const WORKFLOWS_PATH = require.resolve('../workflows');

/**
 * The workers of one process, run and stopped together (samples-typescript `worker-specific-task-queues`):
 * `shared` polls the task queue every process polls (workflows, polls, resends, verifies); `pages` polls this
 * process's own task queue, where map and ship run next to the page store that holds the pages they work on; one
 * more per pace group polls that group's queue, whose rate the server caps for all workers together.
 */
export class AuditWorker {
  private readonly all: Worker[];

  constructor(
    readonly shared: Worker,
    readonly pages: Worker,
    readonly pageStore: PageStore,
    readonly paceGroups: Worker[] = []
  ) {
    this.all = [shared, pages, ...paceGroups];
  }

  /** Runs both until `shutdown` or until either fails, which stops the other too. */
  async run(): Promise<void> {
    const stopOthersOnFailure = (worker: Worker) =>
      worker.run().catch((err: unknown) => {
        this.shutdown();
        throw err;
      });
    const results = await Promise.allSettled(this.all.map(stopOthersOnFailure));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /** Runs both while `work` runs, as `Worker.runUntil` does for one. */
  async runUntil<T>(work: () => Promise<T>): Promise<T> {
    const running = this.run();
    try {
      return await Promise.race([work(), running.then(() => Promise.reject(new Error('The worker stopped before the work ended')))]);
    } finally {
      this.shutdown();
      await running.catch(() => undefined);
    }
  }

  shutdown(): void {
    for (const worker of this.all) if (worker.getState() === 'RUNNING') worker.shutdown();
  }

  getState(): State {
    return this.shared.getState();
  }
}

/** The one place where the workers' options are decided, shared by `npm run worker`, the demo and the tests. */
export async function createAuditWorker(options: AuditWorkerOptions): Promise<AuditWorker> {
  const pageStore = new PageStore({ ...options.pageStore, taskQueue: `${options.taskQueue}/${hostname()}/${randomUUID().slice(0, 8)}` });
  const { mapEvents, shipLogs, ...sharedActivities } = createActivities({ ...options.activities, pageStore });
  const { pollEventsPage } = sharedActivities;
  const common = {
    connection: options.connection,
    namespace: options.namespace,
    dataConverter: options.dataConverter,
    shutdownGraceTime: options.shutdownGraceMs ?? 30_000,
  };
  const shared = await Worker.create({
    ...common,
    taskQueue: options.taskQueue,
    activities: sharedActivities,
    ...(options.workflowBundle ? { workflowBundle: options.workflowBundle } : { workflowsPath: WORKFLOWS_PATH }),
    ...options.overrides,
  });
  const pages = await Worker.create({ ...common, taskQueue: pageStore.taskQueue, activities: { mapEvents, shipLogs }, ...options.overrides });
  const paceGroups = await Promise.all(
    Object.entries(options.paceGroups ?? {}).map(([group, requestsPerMinute]) =>
      Worker.create({
        ...common,
        taskQueue: paceGroupTaskQueue(options.taskQueue, group),
        activities: { pollEventsPage },
        ...options.overrides,
        // Enforced by the server for the whole queue; every worker must give the same value (the last poller's wins).
        maxTaskQueueActivitiesPerSecond: requestsPerMinute / 60,
      })
    )
  );
  return new AuditWorker(shared, pages, pageStore, paceGroups);
}
