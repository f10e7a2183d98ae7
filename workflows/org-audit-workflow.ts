/**
 * One long-lived workflow per Atlassian organization: poll the next pages of `events-stream`, map them, ship them
 * to Datadog, and only then advance the cursor. The state and its transitions live in `OrgAudit`; this function
 * wires messages, activities and publishing. Handlers only record intent; the loop acts between polls, so no page
 * is left half done by a pause, a rotation or a stop.
 */
import * as wf from '@temporalio/workflow';
import { RetryState, TimeoutFailure, TimeoutType } from '@temporalio/common';
import { ActivityFailure, ApplicationFailure } from '@temporalio/workflow';
import type { StoredPage } from '../activities/page-store';
import { FailureType, pageLostFailureTypes } from '../shared/failure-types';
import { paceGroupTaskQueue } from '../shared/pace-groups';
import type { Activities } from '../activities';
import { AuditPhase } from '../shared/phase';
import { orgIdSearchAttribute, phaseSearchAttribute } from '../shared/search-attributes';
import { InvalidBackfillRangeError, rangeErrorMessage } from './backfill-ranges';
import { renderCurrentDetails } from './current-details';
import * as messages from './messages';
import { OrgAudit, type ActivityFailureInfo, type Job } from './org-audit';
import type { OrgAuditInput, OrgAuditResult } from './org-audit-state';
import { tailLagMs } from './org-audit-state';
import { recordCursorRecovery, recordDeadLettered, recordPageLost, recordPagesDelivered, recordPhaseAndLag, recordRateLimited } from './workflow-metrics';

export type { OrgAuditResult } from './org-audit-state';

const retry = { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' } as const;
// Poll and ship heartbeat every 5 s while they run: a short heartbeat timeout finds a dead worker quickly.
const heartbeating = { startToCloseTimeout: '10 minutes', heartbeatTimeout: '20 seconds' } as const;
/**
 * A poll gives up after about a minute of retries, so an Atlassian outage reaches the workflow, which shows it
 * (stalled, with Atlassian's answer) and polls again a minute later. Ship keeps retrying inside one activity: its
 * heartbeated progress keeps what Datadog accepted from being sent again; a watch timer shows its outage instead.
 */
const pollOptions = { ...heartbeating, retry: { ...retry, maximumAttempts: 6 } } as const;
const { pollEventsPage } = wf.proxyActivities<Activities>(pollOptions);

/**
 * A pace group's polls wait their turn on its queue (a few seconds each for the orgs before them); one not taken
 * in this long means no worker serves the group, which the org then shows (stalled, naming AUDIT_PACE_GROUPS).
 */
const PACE_GROUP_START_TIMEOUT = '5 minutes';

function pollOf(org: OrgAudit) {
  const group = org.config.paceGroup;
  if (group === undefined) return pollEventsPage;
  const taskQueue = paceGroupTaskQueue(wf.workflowInfo().taskQueue, group);
  return wf.proxyActivities<Activities>({ ...pollOptions, taskQueue, scheduleToStartTimeout: PACE_GROUP_START_TIMEOUT }).pollEventsPage;
}
const { resendDeadLetters } = wf.proxyActivities<Activities>({ ...heartbeating, retry });

/**
 * Map and ship run where the poll left the page: on its worker's own task queue (activities/page-store.ts). A
 * worker that is gone leaves that queue without a poller, which the schedule-to-start timeout finds; the workflow
 * then reads the page again. Long enough for a busy worker to take the task, short enough that a lost page costs
 * less than a minute.
 */
const PAGE_WORKER_START_TIMEOUT = '30 seconds';

function onPageWorker(page: StoredPage) {
  const there = { taskQueue: page.taskQueue, scheduleToStartTimeout: PAGE_WORKER_START_TIMEOUT } as const;
  const { mapEvents } = wf.proxyActivities<Activities>({ ...there, startToCloseTimeout: '20 seconds', retry: { ...retry, maximumInterval: '30 seconds' } });
  const { shipLogs } = wf.proxyActivities<Activities>({ ...there, ...heartbeating, retry });
  return { mapEvents, shipLogs };
}

export async function orgAuditWorkflow(input: OrgAuditInput): Promise<OrgAuditResult> {
  const org = new OrgAudit(input, Date.now());
  const { config, state } = org;
  const publish = phasePublisher(org);

  wf.setHandler(messages.pauseSignal, (raw) => org.pause(raw, Date.now()));
  wf.setHandler(messages.resumeSignal, () => org.resume());
  wf.setHandler(messages.stopSignal, (raw) => org.stop(raw, Date.now()));
  wf.setHandler(messages.rotateCredentialsSignal, (raw) => org.rotate(raw, Date.now()));
  wf.setHandler(messages.backfillSignal, (raw) => org.backfill(raw, Date.now()));
  wf.setHandler(messages.seekSignal, (raw) => org.seek(raw, Date.now()));
  wf.setHandler(messages.resendDeadLettersSignal, (raw) => org.requestResend(raw, Date.now()));
  wf.setHandler(messages.requestBackfillUpdate, (raw) => asCallerFailure(() => org.queueBackfill(raw, Date.now())), {
    validator: (raw) => asCallerFailure(() => org.checkBackfill(raw, Date.now())),
  });
  wf.setHandler(messages.statusQuery, () => org.status(Date.now()));
  wf.setHandler(messages.positionQuery, () => org.position());

  // Messages grow the history of a waiting run too: every wait also ends when it should continue as new.
  const canContinue = () => shouldContinueAsNew(config.continueAsNewAfterHistoryLength);
  for (;;) {
    publish();
    const step = org.nextStep(Date.now());
    if (step.kind === 'stop') break;
    if (canContinue()) {
      await wf.condition(wf.allHandlersFinished);
      // A stop that arrived meanwhile is not carried by the new run's input: honour it here.
      if (org.stopReason !== null) break;
      return wf.continueAsNew<typeof orgAuditWorkflow>({ ...org.position(), state: { ...state, run: state.run + 1 } });
    }
    if (step.kind === 'paused') {
      await wf.condition(() => state.paused === null || org.stopReason !== null || canContinue());
    } else if (step.kind === 'awaitCredentials') {
      await wf.condition(() => state.credentials[step.owner].version > step.version || org.interrupted() || canContinue());
    } else if (step.kind === 'wait') {
      if (step.ms > 0) await wf.condition(() => org.interrupted() || canContinue(), step.ms, { summary: step.summary });
    } else {
      try {
        if (step.kind === 'poll') await deliver(org, step.job, publish);
        else {
          const resend = resendDeadLetters({ orgId: config.orgId, credential: state.credentials.datadog, eventIds: step.eventIds });
          org.afterResend(await stallWatched(org, resend, 'resend of dead letters', publish), Date.now());
        }
      } catch (err) {
        if (!(err instanceof ActivityFailure)) throw err;
        const failure = failureInfo(err, config.paceGroup);
        org.afterFailure(step.kind === 'poll' ? step.job : 'resend', failure, Date.now());
        if (failure.type && pageLostFailureTypes.has(failure.type)) recordPageLost(config.orgId);
        wf.log.warn('Activity failed in a way its retries do not fix', { orgId: config.orgId, error: failure.message });
      }
    }
  }
  publish();
  return org.result();
}

/**
 * Poll, map and ship one job's next pages; the stream's position moves only once Datadog has accepted them. The
 * pages stay on the worker that read them; history carries their reference, their events' dedupe keys and counts.
 */
async function deliver(org: OrgAudit, job: Job, publish: () => void): Promise<void> {
  const { config, state } = org;
  const label = job.kind === 'tail' ? 'tail' : `backfill #${job.range.id}`;
  const outcome = await pollOf(org).executeWithOptions({ summary: `poll ${label}` }, [org.pollInput(job, Date.now())]);
  const recoveriesBefore = state.stats.cursorRecoveries;
  const fresh = org.afterPoll(outcome, Date.now());
  if (outcome.kind === 'rateLimited' || fresh === null) return recordRateLimited(config.orgId);
  let mapped = null;
  let shipped = null;
  if (outcome.stored !== null && fresh.keys.length > 0) {
    const page = { ref: outcome.stored.ref, taskQueue: outcome.stored.taskQueue };
    const { mapEvents, shipLogs } = onPageWorker(page);
    mapped = await mapEvents.executeWithOptions({ summary: `map ${fresh.keys.length} events (${label})` }, [
      { orgId: config.orgId, origin: job.kind, page, skipKeys: fresh.skipKeys, atlassianCredential: state.credentials.atlassian },
    ]);
    const what = `ship ${mapped.logs} logs (${label})`;
    const ship = shipLogs.executeWithOptions({ summary: what }, [{ orgId: config.orgId, credential: state.credentials.datadog, page }]);
    shipped = await stallWatched(org, ship, what, publish);
    if (shipped.deadLettered.length > 0) recordDeadLettered(config.orgId, shipped.deadLettered.length);
  }
  org.afterShip(job, outcome, fresh, mapped, shipped, Date.now());
  recordPagesDelivered(config.orgId, job.kind, outcome.pages, fresh.keys.length);
  if (outcome.rateLimitedForMs !== undefined) recordRateLimited(config.orgId);
  if (state.stats.cursorRecoveries > recoveriesBefore) recordCursorRecovery(config.orgId);
}

/** Awaits an activity; one still running past the stall threshold (an outage its retries wait out) shows as stalled. */
async function stallWatched<T>(org: OrgAudit, activity: Promise<T>, what: string, publish: () => void): Promise<T> {
  let settled = false;
  activity.then(
    () => (settled = true),
    () => (settled = true)
  );
  const { stallAfterMs } = org.config;
  if (!(await wf.condition(() => settled, stallAfterMs, { summary: `stall watch: ${what}` }))) {
    org.stall(`${what} has not finished after ${Math.round(stallAfterMs / 1000)} s (its retries are waiting out a fault)`, Date.now());
    publish();
  }
  return activity;
}

/** Publishes the org's phase (search attribute, only when it changes), current details and metrics. */
function phasePublisher(org: OrgAudit): () => void {
  let published = wf.workflowInfo().typedSearchAttributes.get(phaseSearchAttribute) as AuditPhase | undefined;
  return () => {
    const phase = org.phase(Date.now());
    if (phase !== published) {
      // Each upsert is a history event: only when the phase really changes.
      wf.upsertSearchAttributes([
        { key: orgIdSearchAttribute, value: org.config.orgId },
        { key: phaseSearchAttribute, value: phase },
      ]);
      published = phase;
    }
    wf.setCurrentDetails(renderCurrentDetails(org.config, org.state, phase, Date.now()));
    recordPhaseAndLag(org.config.orgId, phase, tailLagMs(org.state.tail, Date.now()));
  };
}

function failureInfo(err: ActivityFailure, paceGroup: string | undefined): ActivityFailureInfo {
  const cause = err.cause;
  const retriesExhausted = err.retryState === RetryState.MAXIMUM_ATTEMPTS_REACHED;
  if (cause instanceof TimeoutFailure && cause.timeoutType === TimeoutType.SCHEDULE_TO_START && err.activityType === 'pollEventsPage') {
    return {
      type: FailureType.PaceGroupUnserved,
      message: `no worker took the poll from the queue of pace group "${paceGroup}" in ${PACE_GROUP_START_TIMEOUT}: start the workers with AUDIT_PACE_GROUPS=${paceGroup}=<requests per minute>`,
    };
  }
  if (cause instanceof TimeoutFailure && cause.timeoutType === TimeoutType.SCHEDULE_TO_START) {
    return { type: FailureType.PageWorkerGone, message: `${err.activityType} did not start on the worker holding its page (${err.message})`, retriesExhausted };
  }
  if (cause instanceof ApplicationFailure) {
    return { type: cause.type ?? undefined, message: cause.message, details: cause.details ?? undefined, retriesExhausted };
  }
  return { message: cause?.message ?? err.message, retriesExhausted };
}

/** A refused backfill reaches its caller as a failure naming the problem, not as a failed workflow task. */
function asCallerFailure<T>(work: () => T): T {
  try {
    return work();
  } catch (err) {
    if (err instanceof InvalidBackfillRangeError) throw ApplicationFailure.create({ type: 'InvalidBackfillRange', message: rangeErrorMessage(err), nonRetryable: true });
    throw err;
  }
}

/** Only when Temporal suggests it (history length or size): with pages out of history that is rare. */
function shouldContinueAsNew(testThreshold: number | undefined): boolean {
  const info = wf.workflowInfo();
  return info.continueAsNewSuggested || (testThreshold !== undefined && info.historyLength >= testThreshold);
}
