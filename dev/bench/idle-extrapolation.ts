/**
 * Actions of an idle org per hour at the default poll interval, extrapolated from a short observation at a short
 * interval. The workflow's own backoff rule (tailPollDelay: the interval doubles after a few empty polls, up to a
 * ceiling) decides when an idle org polls; the observation checks that the timers follow that rule and measures
 * what one idle poll costs. The hour is then laid out with the same rule at the default interval.
 */
import { tailPollDelay } from '../../shared/request-pacing';
import type { TimerStart } from './history-timeline';

export interface TailIntervals {
  pollIntervalMs: number;
  maxPollIntervalMs: number;
}

/** The waits the workflow should choose after its 1st, 2nd, … empty poll. */
export function expectedIdleWaits(intervals: TailIntervals, polls: number): number[] {
  return Array.from({ length: polls }, (_, index) => tailPollDelay(intervals.pollIntervalMs, intervals.maxPollIntervalMs, index + 1));
}

/** Whether each observed timer asked for the wait the rule gives (to the millisecond the workflow computes it). */
export function followsBackoffRule(intervals: TailIntervals, timers: readonly TimerStart[]): boolean {
  const expected = expectedIdleWaits(intervals, timers.length);
  return timers.every((timer, index) => Math.abs(timer.durationMs - expected[index]!) <= 1);
}

/** How many polls an idle org makes in the hour after it starts, its first poll included. */
export function idlePollsInFirstHour(intervals: TailIntervals): number {
  const hourMs = 3_600_000;
  let at = 0;
  let polls = 0;
  while (at < hourMs) {
    polls += 1;
    at += tailPollDelay(intervals.pollIntervalMs, intervals.maxPollIntervalMs, polls);
  }
  return polls;
}

/** Polls per hour once the interval has reached its ceiling. */
export function idlePollsPerSteadyHour(intervals: TailIntervals): number {
  return 3_600_000 / Math.max(intervals.pollIntervalMs, intervals.maxPollIntervalMs);
}
