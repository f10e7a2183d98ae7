/**
 * Where each page's time goes in the workflow, from history: a page's cycle runs from the scheduling of its poll to
 * the scheduling of the next poll, and holds the poll's, the map's and the ship's own execution (map and ship on the
 * worker's own task queue, next to its page store), the waits for a worker to pick each up, and the workflow tasks
 * that decide what comes next, with continue-as-new where it happens. One poll reads a batch of pages (up to 1000
 * events, one Datadog request) when its budget allows: a cycle is one batch.
 */
import type { ActivityExecution, TimerStart, WorkflowTaskTiming } from './history-timeline';

export const ACTIVITY_TYPES = { poll: 'pollEventsPage', map: 'mapEvents', ship: 'shipLogs' } as const;

export interface PageCycle {
  cycleMs: number;
  pollMs: number;
  mapMs: number;
  shipMs: number;
  /** Schedule-to-start of the page's activities: waiting for a worker slot and the task's dispatch. */
  activityDispatchMs: number;
  /** Workflow tasks inside the cycle, from scheduled to completed. */
  workflowTaskMs: number;
  /** The workflow continued as new inside this cycle. */
  crossesRuns: boolean;
  /** Whole cycle minus the activities' own execution (poll, map, ship): what Temporal adds to a page. */
  overheadMs: number;
}

/**
 * One cycle per poll that has a next poll, leaving out cycles in which a timer of the workflow ran out: those waited
 * on purpose (pacing, the tail's poll interval), which is not overhead. The ship's stall watch is a timer too, but
 * it is cancelled when the ship completes in time.
 */
export function pageCycles(executions: readonly ActivityExecution[], tasks: readonly WorkflowTaskTiming[], timers: readonly TimerStart[]): PageCycle[] {
  const polls = executions.filter((execution) => execution.type === ACTIVITY_TYPES.poll);
  const cycles: PageCycle[] = [];
  for (let index = 0; index + 1 < polls.length; index++) {
    const poll = polls[index]!;
    const from = poll.scheduledAt;
    const to = polls[index + 1]!.scheduledAt;
    if (timers.some((timer) => timer.fired && timer.startedAt >= from && timer.startedAt < to)) continue;
    const inside = executions.filter((execution) => execution.scheduledAt >= from && execution.scheduledAt < to);
    const execution = (type: string) => inside.filter((each) => each.type === type).reduce((sum, each) => sum + each.endedAt - each.startedAt, 0);
    const pollMs = execution(ACTIVITY_TYPES.poll);
    const mapMs = execution(ACTIVITY_TYPES.map);
    const shipMs = execution(ACTIVITY_TYPES.ship);
    const cycleMs = to - from;
    cycles.push({
      cycleMs,
      pollMs,
      mapMs,
      shipMs,
      activityDispatchMs: inside.reduce((sum, each) => sum + each.startedAt - each.scheduledAt, 0),
      workflowTaskMs: tasks
        .filter((task) => task.scheduledAt >= from && task.scheduledAt < to)
        .reduce((sum, task) => sum + task.completedAt - task.scheduledAt, 0),
      crossesRuns: polls[index + 1]!.runIndex !== poll.runIndex,
      overheadMs: cycleMs - pollMs - mapMs - shipMs,
    });
  }
  return cycles;
}
