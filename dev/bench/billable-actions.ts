/**
 * Temporal Cloud actions counted from workflow history, following Temporal's list of what is billed: workflow starts
 * (continue-as-new included), activity attempts, timers, signals, updates, search-attribute and memo upserts,
 * markers, child workflows and signals sent. Heartbeats and queries are billed too but leave no history event, so
 * they are estimated by the caller where the workflow's own code makes them predictable.
 */
import { temporal } from '@temporalio/proto';
import { historyEvents } from './history-timeline';

const { EventType } = temporal.api.enums.v1;

const ACTION_KINDS: ReadonlyMap<number, string> = new Map([
  [EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, 'workflow start or continue-as-new'],
  [EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED, 'activity'],
  [EventType.EVENT_TYPE_TIMER_STARTED, 'timer'],
  [EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED, 'signal'],
  [EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED, 'update'],
  [EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES, 'search attribute upsert'],
  [EventType.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED, 'memo upsert'],
  [EventType.EVENT_TYPE_MARKER_RECORDED, 'marker'],
  [EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED, 'child workflow'],
  [EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED, 'signal sent'],
]);

const ACTIVITY_RETRY_KIND = 'activity retry';

export interface ActionCount {
  total: number;
  byKind: Record<string, number>;
}

export function countBillableActions(histories: readonly temporal.api.history.v1.IHistory[]): ActionCount {
  const byKind: Record<string, number> = {};
  const add = (kind: string, count = 1) => (byKind[kind] = (byKind[kind] ?? 0) + count);
  for (const event of historyEvents(histories)) {
    const kind = ACTION_KINDS.get(event.eventType ?? EventType.EVENT_TYPE_UNSPECIFIED);
    if (kind) add(kind);
    // Each retry is one more activity start; the started event carries the attempt that completed.
    const attempt = event.activityTaskStartedEventAttributes?.attempt ?? 1;
    if (attempt > 1) add(ACTIVITY_RETRY_KIND, attempt - 1);
  }
  return { total: Object.values(byKind).reduce((sum, count) => sum + count, 0), byKind };
}
