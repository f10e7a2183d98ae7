/**
 * Everything a workflow test (or a measurement that runs the collector end to end) needs in one process: a
 * Temporal server, the two stand-ins, a task queue of its own, real workers, and the org's start and status.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import type { AuditWorker, AuditWorkerOptions } from '../../worker/create-worker';
import { DEFAULT_CREDENTIAL_POLICY } from '../../activities/credentials';
import { createHttpAgent } from '../../activities/http-client';
import type { StartOrgOptions } from '../../client/org-control';
import type { AtlassianStandin, AtlassianStandinOptions } from '../standins/atlassian-standin';
import type { DatadogStandin } from '../standins/datadog-standin';
import type { OrgAuditStatus } from '../../workflows/org-audit-state';
import type { orgAuditWorkflow } from '../../workflows/org-audit-workflow';
import { createHarnessWorker, orgStatus, startHarnessOrg } from './collector';
import { addTestOrg, deliveredIds, startHarnessStandins } from './standins';
import { TEST_KEYS } from './keys';
import { waitUntil } from './wait';

/** Where jest's global setup (test/support/temporal-global-setup.ts) leaves the address of the shared dev server. */
export const TEMPORAL_ADDRESS_VARIABLE = 'AUDIT_TEST_TEMPORAL_ADDRESS';

export interface HarnessOptions {
  atlassian?: AtlassianStandinOptions;
  /**
   * The data converter of the harness's client and workers, as `loadDataConverter` builds it from
   * `AUDIT_PAYLOAD_KEY`. @default none: payloads and failure messages in clear
   */
  dataConverter?: DataConverter;
  /** The Temporal frontend. @default the workflow tests' shared dev server (TEMPORAL_ADDRESS_VARIABLE) */
  address?: string;
}

export class AuditHarness {
  readonly taskQueue = `audit-test-${randomUUID()}`;
  private readonly dispatcher = createHttpAgent({ headersTimeoutMs: 5_000, bodyTimeoutMs: 5_000 });

  private constructor(
    readonly env: TestWorkflowEnvironment,
    readonly atlassian: AtlassianStandin,
    readonly datadog: DatadogStandin,
    readonly dataConverter: DataConverter | undefined,
    /** The harness's own scratch directory: its workers' dead letters and secrets directory, removed on close. */
    private readonly scratchDir: string
  ) {}

  /** Where the harness's workers let `file:` references point (their AUDIT_SECRETS_DIR). */
  get secretsDir(): string {
    return path.join(this.scratchDir, 'secrets');
  }

  static async create(options: HarnessOptions = {}): Promise<AuditHarness> {
    const address = options.address ?? process.env[TEMPORAL_ADDRESS_VARIABLE];
    if (!address) throw new Error(`${TEMPORAL_ADDRESS_VARIABLE} is not set: run workflow tests through jest's workflow project`);
    const env = await TestWorkflowEnvironment.createFromExistingServer({
      address,
      client: { dataConverter: options.dataConverter },
    });
    const { atlassian, datadog } = await startHarnessStandins(options.atlassian);
    const scratchDir = await mkdtemp(path.join(tmpdir(), 'audit-harness-'));
    await mkdir(path.join(scratchDir, 'secrets'));
    return new AuditHarness(env, atlassian, datadog, options.dataConverter, scratchDir);
  }

  get client(): Client {
    return this.env.client;
  }

  /** A new org in the Atlassian stand-in, accepting the test key. */
  newOrg(): string {
    return addTestOrg(this.atlassian);
  }

  /**
   * A worker with the harness's data converter, unless `dataConverter` replaces it (a worker restarted after a key
   * rotation); `pageStore` bounds its page store (a tiny one lets pages go, as a worker short of memory does);
   * `paceGroups` are the pace groups it serves, as AUDIT_PACE_GROUPS gives them.
   */
  async createWorker(
    overrides: { identity?: string; dataConverter?: DataConverter } & Pick<AuditWorkerOptions, 'pageStore' | 'paceGroups'> = {}
  ): Promise<AuditWorker> {
    const { dataConverter = this.dataConverter, pageStore, paceGroups, ...workerOverrides } = overrides;
    return createHarnessWorker({
      connection: this.env.nativeConnection,
      namespace: this.env.namespace,
      taskQueue: this.taskQueue,
      dataConverter,
      activities: {
        atlassianBaseUrl: this.atlassian.url,
        datadogIntakeUrl: this.datadog.url,
        dispatcher: this.dispatcher,
        deadLetterDir: path.join(this.scratchDir, 'dead-letters'),
        credentialPolicy: { ...DEFAULT_CREDENTIAL_POLICY, secretsDir: this.secretsDir },
      },
      shutdownGraceMs: 5_000,
      pageStore,
      paceGroups,
      overrides: workerOverrides,
    });
  }

  /** Starts the org through the client's own code, with a request budget no test runs out of unless it sets one. */
  startOrg(options: Partial<StartOrgOptions> & { orgId: string }): Promise<WorkflowHandle<typeof orgAuditWorkflow>> {
    return startHarnessOrg(this.client, this.taskQueue, { maxRequestsPerMinute: 6_000, ...options });
  }

  /** The environment of `npm run worker` as a child process against this harness's server and stand-ins. */
  workerProcessEnv(): NodeJS.ProcessEnv {
    return {
      TEMPORAL_ADDRESS: this.env.address,
      AUDIT_TASK_QUEUE: this.taskQueue,
      ATLASSIAN_API_BASE_URL: this.atlassian.url,
      DD_LOGS_INTAKE_URL: this.datadog.url,
      ATLASSIAN_API_KEY: TEST_KEYS.atlassian,
      DD_API_KEY: TEST_KEYS.datadog,
      AUDIT_SHUTDOWN_GRACE_SECONDS: '2',
      // Tests run beside other workers (and a developer's demo): no fixed metrics port.
      AUDIT_METRICS_ADDRESS: 'off',
    };
  }

  status(orgId: string): Promise<OrgAuditStatus> {
    return orgStatus(this.client, orgId);
  }

  /** Event IDs of one org that reached the Datadog stand-in, in arrival order. */
  deliveredIds(orgId: string): string[] {
    return deliveredIds(this.datadog, orgId);
  }

  async waitForDelivered(orgId: string, count: number, timeoutMs = 60_000): Promise<void> {
    // Distinct IDs: a repeat (e.g. after a SIGKILL) must not make the wait end before every event has arrived.
    const distinct = () => new Set(this.deliveredIds(orgId)).size;
    await waitUntil(() => distinct() >= count, timeoutMs, () => `${distinct()}/${count} distinct events delivered for ${orgId}`);
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.atlassian.close(), this.datadog.close(), this.dispatcher.close()]);
    await this.env.teardown();
    await rm(this.scratchDir, { recursive: true, force: true });
  }
}
