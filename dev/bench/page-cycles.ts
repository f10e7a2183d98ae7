/**
 * Where each page's time goes in the workflow, from history: a page's cycle runs from the scheduling of its poll to
 * the scheduling of the next poll, and holds the poll's and the ship's own execution, the waits for a worker to pick
 * each up, and the workflow tasks that decide what comes next, the map (a local activity) inside one of them, with
 * continue-as-new where it happens.
 */
import type { ActivityExecution, TimerStart, WorkflowTaskTiming } from './history-timeline';

export const ACTIVITY_TYPES = { poll: 'pollEventsPage', ship: 'shipLogs' } as const;

export interface PageCycle {
  cycleMs: number;
  pollMs: number;
  shipMs: number;
  /** Schedule-to-start of the page's activities: waiting for a worker slot and the task's dispatch. */
  activityDispatchMs: number;
  /** Workflow tasks inside the cycle, from scheduled to completed. */
  workflowTaskMs: number;
  /** The workflow continued as new inside this cycle. */
  crossesRuns: boolean;
  /** Whole cycle minus the HTTP-bound activities (poll and ship): what Temporal and the map step add to a page. */
  overheadMs: number;
}

/**
 * One cycle per poll that has a next poll, leaving out cycles in which the workflow started a timer: those waited
 * on purpose (pacing, the tail's poll interval), which is not overhead.
 */
export function pageCycles(executions: readonly ActivityExecution[], tasks: readonly WorkflowTaskTiming[], timers: readonly TimerStart[]): PageCycle[] {
  const polls = executions.filter((execution) => execution.type === ACTIVITY_TYPES.poll);
  const cycles: PageCycle[] = [];
  for (let index = 0; index + 1 < polls.length; index++) {
    const poll = polls[index]!;
    const from = poll.scheduledAt;
    const to = polls[index + 1]!.scheduledAt;
    if (timers.some((timer) => timer.startedAt >= from && timer.startedAt < to)) continue;
    const inside = executions.filter((execution) => execution.scheduledAt >= from && execution.scheduledAt < to);
    const execution = (type: string) => inside.filter((each) => each.type === type).reduce((sum, each) => sum + each.endedAt - each.startedAt, 0);
    const pollMs = execution(ACTIVITY_TYPES.poll);
    const shipMs = execution(ACTIVITY_TYPES.ship);
    const cycleMs = to - from;
    cycles.push({
      cycleMs,
      pollMs,
      shipMs,
      activityDispatchMs: inside.reduce((sum, each) => sum + each.startedAt - each.scheduledAt, 0),
      workflowTaskMs: tasks
        .filter((task) => task.scheduledAt >= from && task.scheduledAt < to)
        .reduce((sum, task) => sum + task.completedAt - task.scheduledAt, 0),
      crossesRuns: polls[index + 1]!.runIndex !== poll.runIndex,
      overheadMs: cycleMs - pollMs - shipMs,
    });
  }
  return cycles;
}
