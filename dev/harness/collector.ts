/**
 * The collector as the harness runs it: real workers built by the project's own factory (the same options as
 * `npm run worker`) holding the harness's keys, and orgs started through the client's own code.
 */
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { bundleWorkflowCode, type NativeConnection, type WorkerOptions, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { startOrg, type StartOrgOptions } from '../../client/org-control';
import { workflowIdForOrg } from '../../shared/org-workflow';
import { createAuditWorker, WORKFLOWS_PATH, type AuditWorker, type AuditWorkerOptions, type WorkerActivityDependencies } from '../../worker/create-worker';
import { statusQuery } from '../../workflows/messages';
import type { OrgAuditStatus } from '../../workflows/org-audit-state';
import type { orgAuditWorkflow } from '../../workflows/org-audit-workflow';
import { WORKER_ENV } from './keys';

const bundles = new Map<string | undefined, Promise<WorkflowBundleWithSourceMap>>();

/** The bundler reports every module at INFO; only its errors matter here. */
const quietBundlerLogger = { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} };

/**
 * Bundling takes seconds: once per process and failure converter. A prebuilt bundle carries its own copy of the
 * failure converter (the worker ignores `failureConverterPath` for it), so each converter needs its own bundle.
 */
export function workflowBundle(failureConverterPath?: string): Promise<WorkflowBundleWithSourceMap> {
  let bundle = bundles.get(failureConverterPath);
  if (bundle === undefined) {
    bundle = bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, failureConverterPath, logger: quietBundlerLogger });
    bundles.set(failureConverterPath, bundle);
  }
  return bundle;
}

export interface HarnessWorkerOptions {
  connection: NativeConnection;
  /** @default 'default' */
  namespace?: string;
  taskQueue: string;
  /** Where the activities reach Atlassian and Datadog (the stand-ins); `env` defaults to WORKER_ENV. */
  activities: WorkerActivityDependencies;
  dataConverter?: DataConverter;
  shutdownGraceMs: number;
  /** Bounds of the worker's page store (createAuditWorker's `pageStore`). @default the factory's */
  pageStore?: AuditWorkerOptions['pageStore'];
  /** Pace groups it serves (createAuditWorker's `paceGroups`). @default none */
  paceGroups?: AuditWorkerOptions['paceGroups'];
  overrides?: Partial<WorkerOptions>;
}

/** A worker from createAuditWorker with the prebuilt bundle that matches its data converter. */
export async function createHarnessWorker(options: HarnessWorkerOptions): Promise<AuditWorker> {
  const { namespace = 'default', activities, dataConverter, ...rest } = options;
  return createAuditWorker({
    ...rest,
    namespace,
    dataConverter,
    workflowBundle: await workflowBundle(dataConverter?.failureConverterPath),
    activities: { env: WORKER_ENV, ...activities },
  });
}

/**
 * Starts the org through the client's own code, polling every second and from a day back: demo events may have
 * been processed up to six hours after they happened (generateDemoEvents).
 */
export async function startHarnessOrg(
  client: Client,
  taskQueue: string,
  options: Partial<StartOrgOptions> & { orgId: string }
): Promise<WorkflowHandle<typeof orgAuditWorkflow>> {
  await startOrg(client, taskQueue, { pollIntervalMs: 1_000, since: Date.now() - 24 * 3_600_000, ...options });
  return client.workflow.getHandle<typeof orgAuditWorkflow>(workflowIdForOrg(options.orgId));
}

export function orgStatus(client: Client, orgId: string): Promise<OrgAuditStatus> {
  return client.workflow.getHandle(workflowIdForOrg(orgId)).query(statusQuery);
}
