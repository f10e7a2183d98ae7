/**
 * Timings read back from workflow histories: when each activity was scheduled, started and completed, when each
 * workflow task waited and ran, and which timers were started. All times are the server's event times (epoch ms),
 * so they measure what Temporal did, not what a client saw.
 */
import { tsToMs } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';

const { EventType } = temporal.api.enums.v1;
type History = temporal.api.history.v1.IHistory;
type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

export interface ActivityExecution {
  type: string;
  /** Index of the run (in the histories given) it belongs to: runs change at continue-as-new. */
  runIndex: number;
  scheduledAt: number;
  startedAt: number;
  /** Completed, failed or timed out: when the last attempt ended. */
  endedAt: number;
  attempt: number;
}

export interface WorkflowTaskTiming {
  scheduledAt: number;
  startedAt: number;
  completedAt: number;
}

export interface TimerStart {
  startedAt: number;
  /** The duration the workflow asked for. */
  durationMs: number;
  /**
   * The timer ran out. A wait that ends early is cancelled: the stall watch beside every ship (cancelled when the
   * ship completes in time) and waits that a message interrupted.
   */
  fired: boolean;
}

export function eventTime(event: HistoryEvent): number {
  return tsToMs(event.eventTime);
}

function idOf(value: unknown): string {
  return String(value);
}

export function activityExecutions(histories: readonly History[]): ActivityExecution[] {
  const executions: ActivityExecution[] = [];
  histories.forEach((history, runIndex) => {
    const scheduled = new Map<string, { type: string; at: number }>();
    const started = new Map<string, { at: number; attempt: number }>();
    for (const event of history.events ?? []) {
      const attributesOfEnd =
        event.activityTaskCompletedEventAttributes ??
        event.activityTaskFailedEventAttributes ??
        event.activityTaskTimedOutEventAttributes;
      if (event.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED) {
        const type = event.activityTaskScheduledEventAttributes?.activityType?.name ?? 'unknown';
        scheduled.set(idOf(event.eventId), { type, at: eventTime(event) });
      } else if (event.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED) {
        const attributes = event.activityTaskStartedEventAttributes!;
        started.set(idOf(attributes.scheduledEventId), { at: eventTime(event), attempt: attributes.attempt ?? 1 });
      } else if (attributesOfEnd) {
        const scheduledId = idOf(attributesOfEnd.scheduledEventId);
        const schedule = scheduled.get(scheduledId);
        const start = started.get(scheduledId);
        if (!schedule || !start) continue;
        executions.push({
          type: schedule.type,
          runIndex,
          scheduledAt: schedule.at,
          startedAt: start.at,
          endedAt: eventTime(event),
          attempt: start.attempt,
        });
      }
    }
  });
  return executions.sort((a, b) => a.scheduledAt - b.scheduledAt);
}

export function workflowTaskTimings(histories: readonly History[]): WorkflowTaskTiming[] {
  const timings: WorkflowTaskTiming[] = [];
  for (const history of histories) {
    const scheduled = new Map<string, number>();
    const started = new Map<string, { scheduledAt: number; startedAt: number }>();
    for (const event of history.events ?? []) {
      if (event.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED) {
        scheduled.set(idOf(event.eventId), eventTime(event));
      } else if (event.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED) {
        const scheduledAt = scheduled.get(idOf(event.workflowTaskStartedEventAttributes?.scheduledEventId));
        if (scheduledAt !== undefined) started.set(idOf(event.eventId), { scheduledAt, startedAt: eventTime(event) });
      } else if (event.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED) {
        const start = started.get(idOf(event.workflowTaskCompletedEventAttributes?.startedEventId));
        if (start) timings.push({ ...start, completedAt: eventTime(event) });
      }
    }
  }
  return timings.sort((a, b) => a.scheduledAt - b.scheduledAt);
}

export function timerStarts(histories: readonly History[]): TimerStart[] {
  return histories
    .flatMap((history) => {
      const events = history.events ?? [];
      const fired = new Set(
        events.filter((event) => event.eventType === EventType.EVENT_TYPE_TIMER_FIRED).map((event) => idOf(event.timerFiredEventAttributes?.startedEventId))
      );
      return events
        .filter((event) => event.eventType === EventType.EVENT_TYPE_TIMER_STARTED)
        .map((event) => ({
          startedAt: eventTime(event),
          durationMs: tsToMs(event.timerStartedEventAttributes?.startToFireTimeout),
          fired: fired.has(idOf(event.eventId)),
        }));
    })
    .sort((a, b) => a.startedAt - b.startedAt);
}

export function historyEvents(histories: readonly History[]): HistoryEvent[] {
  return histories.flatMap((history) => history.events ?? []);
}

/**
 * For each run after the first: how long after its start its first workflow task was scheduled. The server holds a
 * continued run back when runs follow each other faster than `history.continueAsNewMinInterval` (1 s by default).
 */
export function continuedRunStartDelays(histories: readonly History[]): number[] {
  return histories.slice(1).flatMap((history) => {
    const events = history.events ?? [];
    const started = events.find((event) => event.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED);
    const firstTask = events.find((event) => event.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED);
    return started && firstTask ? [eventTime(firstTask) - eventTime(started)] : [];
  });
}
