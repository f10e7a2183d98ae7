/**
 * What the client does with Temporal, apart from parsing flags: shared by the command line, the demo and the
 * tests, so the tests exercise the same code an operator runs.
 */
import type { Client, WorkflowHandle } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { DEFAULT_ATLASSIAN_CREDENTIAL, DEFAULT_DATADOG_CREDENTIAL, type CredentialRef } from '../shared/credential-ref';
import { WORKFLOW_ID_PREFIX, workflowIdForOrg } from '../shared/org-workflow';
import { paceGroupTaskQueue } from '../shared/pace-groups';
import { AuditPhase } from '../shared/phase';
import { orgIdSearchAttribute, phaseSearchAttribute } from '../shared/search-attributes';
import type { OrgAuditConfig, OrgAuditInput, OrgAuditResult, OrgAuditState, OrgAuditStatus } from '../workflows/org-audit-state';
import { positionQuery, statusQuery } from '../workflows/messages';
import { orgAuditWorkflow } from '../workflows/org-audit-workflow';

export const START_DEFAULTS = {
  pollIntervalMs: 60_000,
  /** A quiet org's interval grows up to this multiple of the poll interval. */
  maxPollIntervalFactor: 4,
  /**
   * events-stream has no published limit; a peer documents 50 requests/minute per API path (60 per user), below
   * the 1 request/second of Atlassian's own Sentinel connector (reference §11): stay under the lower one.
   */
  maxRequestsPerMinute: 50,
  /** The documented default page size of events-stream. */
  pageSize: 200,
  recentIdsLimit: 1000,
  /** Without --since the tail starts an hour back, so events Atlassian processes up to an hour late are kept. */
  sinceLookbackMs: 3_600_000,
} as const;

export interface StartOrgOptions {
  orgId: string;
  atlassianKey?: string;
  datadogKey?: string;
  since?: number;
  pollIntervalMs?: number;
  /** @default four times the poll interval */
  maxPollIntervalMs?: number;
  maxRequestsPerMinute?: number;
  pageSize?: number;
  recentIdsLimit?: number;
  /** Share the budget of this pace group (shared/pace-groups.ts); a worker must serve it. @default none */
  paceGroup?: string;
  /** Tuning and test hooks; the workflow's defaults apply when unset (see OrgAuditConfig). */
  cursorRecoveryOverlapMs?: number;
  backfillSettleMs?: number;
  stallAfterMs?: number;
  continueAsNewAfterHistoryLength?: number;
}

export interface StartOrgResult {
  workflowId: string;
  /** False when the org's workflow was already running and was left as it is. */
  started: boolean;
  /** How the last run ended when its cursor and queue were taken over (`COMPLETED` after `stop`); undefined for a first start. */
  resumedFrom?: string;
}

/**
 * The org's last run ended without `stop` (terminated, failed, timed out) and its position could not be read back:
 * starting afresh would skip or repeat events, so `start` refuses and says how to choose.
 */
export class UnrecoverablePositionError extends Error {
  override readonly name = 'UnrecoverablePositionError';
  constructor(
    readonly orgId: string,
    readonly lastStatus: string,
    cause: string
  ) {
    super(
      `the last run of organization ${orgId} ended ${runEnding(lastStatus)} and its position could not be read (${cause}); ` +
        `is a worker running? To start afresh anyway, give --since with the event time to deliver from`
    );
  }
}

/** An org was to join a pace group that no worker serves: its polls would wait on a queue nobody reads. */
export class PaceGroupNotServedError extends Error {
  override readonly name = 'PaceGroupNotServedError';
  constructor(readonly group: string) {
    super(`no worker serves pace group "${group}": start the workers with AUDIT_PACE_GROUPS=${group}=<requests per minute> (the same value on each)`);
  }
}

export class OrgNotRunningError extends Error {
  override readonly name = 'OrgNotRunningError';
  constructor(readonly orgId: string) {
    super(`organization ${orgId} has no running collector (start it with: atlassian-audit start --org ${orgId})`);
  }
}

/**
 * Ensures the org's workflow runs. Idempotent. An org whose last run ended resumes from that run's position: its
 * result after `stop`, or (terminated, failed, timed out) the position its history replays to, read with the
 * `position` query. Only an explicit `--since` starts such an org afresh.
 */
export async function startOrg(client: Client, taskQueue: string, options: StartOrgOptions, now = Date.now()): Promise<StartOrgResult> {
  const workflowId = workflowIdForOrg(options.orgId);
  const previous = await describeOrNull(client, workflowId);
  if (previous?.status.name === 'RUNNING') return { workflowId, started: false };
  if (options.paceGroup !== undefined && !(await hasPollers(client, paceGroupTaskQueue(taskQueue, options.paceGroup)))) {
    throw new PaceGroupNotServedError(options.paceGroup);
  }

  let state: OrgAuditState | undefined;
  let since = options.since ?? now - START_DEFAULTS.sinceLookbackMs;
  const lastPosition = previous && !(options.since !== undefined && previous.status.name !== 'COMPLETED') ? await positionOf(client, workflowId, previous.status.name, options.orgId) : undefined;
  if (lastPosition) {
    // An operator's start retries at once whatever waited in the last run (a failure's retry, a missing plan).
    state = { ...lastPosition.state, paused: null, awaitingCredentials: null, rateLimitedUntil: null, stalled: null, retryAt: null, awaitingEntitlement: null };
    state.credentials = {
      atlassian: withNewRef(state.credentials.atlassian, options.atlassianKey),
      datadog: withNewRef(state.credentials.datadog, options.datadogKey),
    };
    // The tail's start must not move, or events between the two would be skipped or repeated.
    since = lastPosition.config.since;
  }
  const pollIntervalMs = options.pollIntervalMs ?? START_DEFAULTS.pollIntervalMs;
  const config: OrgAuditConfig = {
    orgId: options.orgId,
    initialCredentials: {
      atlassian: options.atlassianKey ?? DEFAULT_ATLASSIAN_CREDENTIAL,
      datadog: options.datadogKey ?? DEFAULT_DATADOG_CREDENTIAL,
    },
    since,
    pollIntervalMs,
    maxPollIntervalMs: options.maxPollIntervalMs ?? pollIntervalMs * START_DEFAULTS.maxPollIntervalFactor,
    maxRequestsPerMinute: options.maxRequestsPerMinute ?? START_DEFAULTS.maxRequestsPerMinute,
    pageSize: options.pageSize ?? START_DEFAULTS.pageSize,
    recentIdsLimit: options.recentIdsLimit ?? START_DEFAULTS.recentIdsLimit,
    ...(options.paceGroup !== undefined && { paceGroup: options.paceGroup }),
    ...(options.cursorRecoveryOverlapMs !== undefined && { cursorRecoveryOverlapMs: options.cursorRecoveryOverlapMs }),
    ...(options.backfillSettleMs !== undefined && { backfillSettleMs: options.backfillSettleMs }),
    ...(options.stallAfterMs !== undefined && { stallAfterMs: options.stallAfterMs }),
    continueAsNewAfterHistoryLength: options.continueAsNewAfterHistoryLength,
  };
  await client.workflow.start(orgAuditWorkflow, {
    workflowId,
    taskQueue,
    args: [{ config, state }],
    // A race with another `start` is settled by the server: the first run stays.
    workflowIdConflictPolicy: 'USE_EXISTING',
    typedSearchAttributes: [
      { key: orgIdSearchAttribute, value: options.orgId },
      { key: phaseSearchAttribute, value: AuditPhase.Running },
    ],
    staticSummary: `Atlassian org ${options.orgId} audit log → Datadog`,
  });
  return { workflowId, started: true, resumedFrom: lastPosition ? previous?.status.name : undefined };
}

/** Whether any worker polled this activity task queue lately (the server keeps pollers of the last few minutes). */
async function hasPollers(client: Client, taskQueue: string): Promise<boolean> {
  const { pollers } = await client.workflowService.describeTaskQueue({
    namespace: client.options.namespace,
    taskQueue: { name: taskQueue, kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
    taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
  });
  return (pollers ?? []).length > 0;
}

/** How a run's end reads in a sentence: `stopped` for a run that completed after `stop`. */
export function runEnding(status: string): string {
  return status === 'COMPLETED' ? 'stopped' : status.toLowerCase().replace('_', ' ');
}

/** The config and state the last run ended with. */
async function positionOf(client: Client, workflowId: string, status: string, orgId: string): Promise<Required<OrgAuditInput>> {
  const handle = client.workflow.getHandle(workflowId);
  if (status === 'COMPLETED') return (await handle.result()) as OrgAuditResult;
  try {
    // A closed run answers queries by replaying its history on a worker: the position as of its last event, which
    // moved only after Datadog accepted a page.
    return await handle.query(positionQuery);
  } catch (err) {
    throw new UnrecoverablePositionError(orgId, status, err instanceof Error ? err.message.split('\n')[0]!.slice(0, 200) : String(err));
  }
}

/** The handle of a running org workflow, or OrgNotRunningError. */
export async function runningOrg(client: Client, orgId: string): Promise<WorkflowHandle<typeof orgAuditWorkflow>> {
  const workflowId = workflowIdForOrg(orgId);
  const description = await describeOrNull(client, workflowId);
  if (description?.status.name !== 'RUNNING') throw new OrgNotRunningError(orgId);
  return client.workflow.getHandle<typeof orgAuditWorkflow>(workflowId);
}

export interface OrgListing {
  orgId: string;
  workflowId: string;
  phase: string;
  status?: OrgAuditStatus;
}

/** Every running org found through the project's search attributes, with its live status where it answers. */
export async function listOrgs(client: Client): Promise<OrgListing[]> {
  const listings: OrgListing[] = [];
  const query = `WorkflowType = 'orgAuditWorkflow' AND ExecutionStatus = 'Running' AND WorkflowId STARTS_WITH '${WORKFLOW_ID_PREFIX}'`;
  for await (const execution of client.workflow.list({ query })) {
    const orgId = execution.typedSearchAttributes.get(orgIdSearchAttribute) ?? execution.workflowId.slice(WORKFLOW_ID_PREFIX.length);
    const phase = execution.typedSearchAttributes.get(phaseSearchAttribute) ?? 'unknown';
    const status = await client.workflow
      .getHandle(execution.workflowId)
      .query(statusQuery)
      .catch(() => undefined);
    listings.push({ orgId, workflowId: execution.workflowId, phase: status?.phase ?? phase, status });
  }
  return listings.sort((a, b) => a.orgId.localeCompare(b.orgId));
}

/** A credential given explicitly on a resumed start replaces the stopped run's, as a rotation would. */
function withNewRef(current: CredentialRef, ref: string | undefined): CredentialRef {
  return ref === undefined || ref === current.ref ? current : { ref, version: current.version + 1 };
}

async function describeOrNull(client: Client, workflowId: string) {
  try {
    return await client.workflow.getHandle(workflowId).describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return null;
    throw err;
  }
}
