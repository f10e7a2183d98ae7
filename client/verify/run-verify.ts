/**
 * Starting a verify run and waiting for its report: shared by the command line and the tests, so the tests run the
 * code an operator runs.
 */
import { WorkflowFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { orgIdSearchAttribute } from '../../shared/search-attributes';
import { iso } from '../../workflows/backfill-ranges';
import { verifiedRange, verifyWorkflowId, type VerifyRangeInput } from '../../shared/verify/verify-input';
import type { VerifyRangeResult } from '../../shared/verify/verify-report';
import { verifyRangeWorkflow } from '../../workflows/verify-range-workflow';

export interface VerifyOptions {
  orgId: string;
  /** Event time, epoch ms; the run covers the whole UTC hours that hold it. */
  from: number;
  to: number;
  /** @default false */
  repair?: boolean;
  /** Datadog indexes to search. @default ['*'] */
  indexes?: string[];
  /** Test hooks; the workflow's defaults apply when unset (see verifyRangeInputSchema). */
  indexingDelayMs?: number;
  maxRequestsPerMinute?: number;
}

/** The run failed (a key refused, a fault no retry fixed): its message is the cause, as the workflow gave it. */
export class VerifyRunFailedError extends Error {
  override readonly name = 'VerifyRunFailedError';
  constructor(
    readonly workflowId: string,
    cause: string
  ) {
    super(`verify ${workflowId} failed: ${cause}`);
  }
}

/**
 * Starts the org's verify of the range, or joins the run of the same org, range and mode that is going (its ID is
 * derived from them); a finished run of it is started afresh.
 */
export async function startVerify(client: Client, taskQueue: string, options: VerifyOptions): Promise<WorkflowHandle<typeof verifyRangeWorkflow>> {
  const { orgId, repair = false } = options;
  const range = verifiedRange({ from: options.from, to: options.to }, Date.now());
  const input: VerifyRangeInput = {
    orgId,
    range,
    repair,
    ...(options.indexes && { indexes: options.indexes }),
    ...(options.indexingDelayMs !== undefined && { indexingDelayMs: options.indexingDelayMs }),
    ...(options.maxRequestsPerMinute !== undefined && { maxRequestsPerMinute: options.maxRequestsPerMinute }),
  };
  return client.workflow.start(verifyRangeWorkflow, {
    workflowId: verifyWorkflowId(orgId, range, repair),
    taskQueue,
    args: [input],
    workflowIdConflictPolicy: 'USE_EXISTING',
    typedSearchAttributes: [{ key: orgIdSearchAttribute, value: orgId }],
    staticSummary: `${repair ? 'Verify and repair' : 'Verify'} Atlassian org ${orgId} in Datadog: ${iso(range.from)} → ${iso(range.to)}`,
  });
}

/** The run's report, or VerifyRunFailedError with its cause. */
export async function verifyResult(handle: WorkflowHandle<typeof verifyRangeWorkflow>): Promise<VerifyRangeResult> {
  try {
    return await handle.result();
  } catch (err) {
    if (err instanceof WorkflowFailedError) throw new VerifyRunFailedError(handle.workflowId, err.cause?.message ?? err.message);
    throw err;
  }
}
