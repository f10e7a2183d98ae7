import type { DataConverter } from '@temporalio/common';
import type { NativeConnection, WorkerOptions } from '@temporalio/worker';
import { Worker } from '@temporalio/worker';
import { createActivities, type ActivityDependencies } from '../activities';

export interface AuditWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  activities: ActivityDependencies;
  /** A prebuilt bundle (production, tests); without it the workflows are bundled from source at start-up. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  dataConverter?: DataConverter;
  /** How long in-flight activities may finish after a shutdown signal. @default 30_000 */
  shutdownGraceMs?: number;
  /** Extra worker options for tests and benchmarks (identity, cache sizes). */
  overrides?: Partial<WorkerOptions>;
}

export const WORKFLOWS_PATH = require.resolve('../workflows');

/** The one place where the worker's options are decided, shared by `npm run worker`, the demo and the tests. */
export function createAuditWorker(options: AuditWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    activities: createActivities(options.activities),
    ...(options.workflowBundle ? { workflowBundle: options.workflowBundle } : { workflowsPath: WORKFLOWS_PATH }),
    dataConverter: options.dataConverter,
    shutdownGraceTime: options.shutdownGraceMs ?? 30_000,
    ...options.overrides,
  });
}
