/**
 * The daily verify of an org: a Temporal Schedule that verifies the previous UTC day every day at 03:00 UTC, late
 * enough that the collector has delivered what Atlassian processed of that day in its first hours.
 */
import { ScheduleAlreadyRunning, ScheduleNotFoundError, ScheduleOverlapPolicy, type Client, type ScheduleOptions } from '@temporalio/client';
import { orgIdSearchAttribute } from '../../shared/search-attributes';
import { verifyScheduleId, type VerifyRangeInput } from '../../shared/verify/verify-input';
import { verifyRangeWorkflow } from '../../workflows/verify-range-workflow';

/** The hour of day (UTC) at which the previous day is verified. */
export const DAILY_VERIFY_HOUR_UTC = 3;

export interface VerifyScheduleOptions {
  orgId: string;
  /** @default ['*'] */
  indexes?: string[];
}

/** What the Schedule of an org is: the same for the same options, so that creating it again changes nothing. */
function verifyScheduleOptions(taskQueue: string, options: VerifyScheduleOptions) {
  const input: VerifyRangeInput = { orgId: options.orgId, range: { previousUtcDay: true }, ...(options.indexes && { indexes: options.indexes }) };
  return {
    scheduleId: verifyScheduleId(options.orgId),
    spec: { calendars: [{ hour: DAILY_VERIFY_HOUR_UTC, comment: 'verify the previous UTC day' }] },
    action: {
      type: 'startWorkflow',
      workflowType: verifyRangeWorkflow,
      workflowId: verifyScheduleId(options.orgId),
      taskQueue,
      args: [input] as const,
      typedSearchAttributes: [{ key: orgIdSearchAttribute, value: options.orgId }],
      staticSummary: `Daily verify of Atlassian org ${options.orgId} in Datadog (the previous UTC day)`,
    },
    // A day still being verified when the next is due is not verified twice at once; a day missed while the
    // server was down is verified when it is back, within a day.
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 day' },
  } satisfies ScheduleOptions;
}

/** Creates the org's Schedule, or brings an existing one in line with the options. */
export async function ensureVerifySchedule(client: Client, taskQueue: string, options: VerifyScheduleOptions): Promise<'created' | 'updated'> {
  const wanted = verifyScheduleOptions(taskQueue, options);
  try {
    await client.schedule.create(wanted);
    return 'created';
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
  await client.schedule.getHandle(wanted.scheduleId).update((current) => ({ ...current, spec: wanted.spec, action: wanted.action, policies: wanted.policies }));
  return 'updated';
}

/** Deletes the org's Schedule; false when it had none. Runs it started are left to finish. */
export async function deleteVerifySchedule(client: Client, orgId: string): Promise<boolean> {
  try {
    await client.schedule.getHandle(verifyScheduleId(orgId)).delete();
    return true;
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) return false;
    throw err;
  }
}
