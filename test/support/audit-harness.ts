/**
 * Everything a workflow test needs: the shared dev server (started by the global setup), the two stand-ins, a
 * task queue of its own, and a real worker built by the same factory as `npm run worker`.
 */
import { randomUUID } from 'node:crypto';
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, type Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { createHttpAgent } from '../../activities/http-client';
import { AtlassianStandin, type AtlassianStandinOptions } from '../../dev/standins/atlassian-standin';
import { DatadogStandin } from '../../dev/standins/datadog-standin';
import { statusQuery } from '../../workflows/messages';
import type { OrgAuditStatus } from '../../workflows/org-audit-state';
import type { orgAuditWorkflow } from '../../workflows/org-audit-workflow';
import { createAuditWorker, WORKFLOWS_PATH } from '../../worker/create-worker';
import { startOrg, type StartOrgOptions } from '../../client/org-control';
import { workflowIdForOrg } from '../../shared/org-workflow';
import { TEMPORAL_ADDRESS_VARIABLE } from './temporal-global-setup';

/** Test keys: recognisable strings, so tests can search history and output for them. */
export const TEST_KEYS = {
  atlassian: 'atlassian-test-key-5f2c9e0d7a',
  atlassianRotated: 'atlassian-rotated-key-81b4c3',
  datadog: 'datadog-test-key-0c1d2e3f4a',
  datadogRotated: 'datadog-rotated-key-9e8d7c',
} as const;

/** The worker resolves `env:` references against this environment, never the test process's own. */
export const WORKER_ENV = {
  ATLASSIAN_API_KEY: TEST_KEYS.atlassian,
  ATLASSIAN_API_KEY_ROTATED: TEST_KEYS.atlassianRotated,
  DD_API_KEY: TEST_KEYS.datadog,
  DD_API_KEY_ROTATED: TEST_KEYS.datadogRotated,
};

const bundles = new Map<string | undefined, Promise<WorkflowBundleWithSourceMap>>();

/**
 * Bundling takes seconds: once per test file and failure converter. A prebuilt bundle carries its own copy of the
 * failure converter (the worker ignores `failureConverterPath` for it), so each converter needs its own bundle.
 */
export function workflowBundle(failureConverterPath?: string): Promise<WorkflowBundleWithSourceMap> {
  let bundle = bundles.get(failureConverterPath);
  if (bundle === undefined) {
    bundle = bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, failureConverterPath, logger: quietLogger });
    bundles.set(failureConverterPath, bundle);
  }
  return bundle;
}

const quietLogger = { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} };

export interface HarnessOptions {
  atlassian?: AtlassianStandinOptions;
  /**
   * The data converter of the harness's client and workers, as `loadDataConverter` builds it from
   * `AUDIT_PAYLOAD_KEY`. @default none: payloads and failure messages in clear
   */
  dataConverter?: DataConverter;
}

export class AuditHarness {
  readonly taskQueue = `audit-test-${randomUUID()}`;
  private readonly dispatcher = createHttpAgent({ headersTimeoutMs: 5_000, bodyTimeoutMs: 5_000 });

  private constructor(
    readonly env: TestWorkflowEnvironment,
    readonly atlassian: AtlassianStandin,
    readonly datadog: DatadogStandin,
    readonly dataConverter: DataConverter | undefined
  ) {}

  static async create(options: HarnessOptions = {}): Promise<AuditHarness> {
    const address = process.env[TEMPORAL_ADDRESS_VARIABLE];
    if (!address) throw new Error(`${TEMPORAL_ADDRESS_VARIABLE} is not set: run workflow tests through jest's workflow project`);
    const env = await TestWorkflowEnvironment.createFromExistingServer({
      address,
      client: { dataConverter: options.dataConverter },
    });
    const atlassian = await AtlassianStandin.start(options.atlassian);
    const datadog = await DatadogStandin.start({ apiKeys: [TEST_KEYS.datadog] });
    return new AuditHarness(env, atlassian, datadog, options.dataConverter);
  }

  get client(): Client {
    return this.env.client;
  }

  /** A new org in the Atlassian stand-in, accepting the test key. */
  newOrg(): string {
    const orgId = randomUUID();
    this.atlassian.addOrg(orgId, { apiKeys: [TEST_KEYS.atlassian] });
    return orgId;
  }

  /** A worker with the harness's data converter, unless `dataConverter` replaces it (a worker restarted after a key rotation). */
  async createWorker(overrides: { identity?: string; dataConverter?: DataConverter } = {}): Promise<Worker> {
    const { dataConverter = this.dataConverter, ...workerOverrides } = overrides;
    return createAuditWorker({
      connection: this.env.nativeConnection,
      namespace: this.env.namespace ?? 'default',
      taskQueue: this.taskQueue,
      workflowBundle: await workflowBundle(dataConverter?.failureConverterPath),
      dataConverter,
      activities: {
        atlassianBaseUrl: this.atlassian.url,
        datadogIntakeUrl: this.datadog.url,
        dispatcher: this.dispatcher,
        env: WORKER_ENV,
      },
      shutdownGraceMs: 5_000,
      overrides: workerOverrides,
    });
  }

  /** Starts the org through the client's own code, with test-sized defaults. */
  async startOrg(options: Partial<StartOrgOptions> & { orgId: string }): Promise<WorkflowHandle<typeof orgAuditWorkflow>> {
    await startOrg(this.client, this.taskQueue, {
      pollIntervalMs: 1_000,
      maxRequestsPerMinute: 6_000,
      // Demo events may have been processed up to six hours after they happened (generateDemoEvents).
      since: Date.now() - 24 * 3_600_000,
      ...options,
    });
    return this.client.workflow.getHandle<typeof orgAuditWorkflow>(workflowIdForOrg(options.orgId));
  }

  status(orgId: string): Promise<OrgAuditStatus> {
    return this.client.workflow.getHandle(workflowIdForOrg(orgId)).query(statusQuery);
  }

  /** Event IDs of one org that reached the Datadog stand-in, in arrival order. */
  deliveredIds(orgId: string): string[] {
    return this.datadog.received
      .filter((log) => (log as { atlassian?: { org_id?: string } }).atlassian?.org_id === orgId)
      .map((log) => (log as { atlassian: { event_id: string } }).atlassian.event_id);
  }

  async waitForDelivered(orgId: string, count: number, timeoutMs = 60_000): Promise<void> {
    // Distinct IDs: a repeat (e.g. after a SIGKILL) must not make the wait end before every event has arrived.
    const distinct = () => new Set(this.deliveredIds(orgId)).size;
    await waitUntil(() => distinct() >= count, timeoutMs, () => `${distinct()}/${count} distinct events delivered for ${orgId}`);
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.atlassian.close(), this.datadog.close(), this.dispatcher.close()]);
    await this.env.teardown();
  }
}

/** Polls a condition; the failure says what was last seen, so a timeout explains itself. */
export async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs: number, describe: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${describe()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Counts of each ID: the test's exactly-once check reads better as "no ID twice, none missing". */
export function duplicatesOf(ids: readonly string[]): string[] {
  const seen = new Set<string>();
  return ids.filter((id) => (seen.has(id) ? true : (seen.add(id), false)));
}
