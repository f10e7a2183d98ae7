/**
 * Benchmark 5: cost. What Temporal stores and bills for the collector's work:
 * - a backfill of N events, once with payloads in clear and once with the encryption + compression codec (what the
 *   worker runs with AUDIT_PAYLOAD_KEY): history events and bytes per 1,000 events, and billable actions per event;
 * - an idle org (no events) with a short poll interval, watched for a few minutes: what one idle poll costs and
 *   whether the interval grows as the workflow's backoff rule says; from that, actions per idle org-hour at the
 *   default interval, extrapolated with the same rule (./idle-extrapolation.ts).
 * Actions are counted from history (./billable-actions.ts). Heartbeats are billed too but leave no history event:
 * the ship activity reports its progress once per intake request, and the SDK sends a first heartbeat at once, so
 * each ship activity is counted as one heartbeat (an estimate, marked as such).
 */
import { randomBytes } from 'node:crypto';
import type { DataConverter } from '@temporalio/common';
import { START_DEFAULTS } from '../../client/org-control';
import { loadDataConverter } from '../../codec/data-converter';
import { workflowIdForOrg } from '../../shared/org-workflow';
import { requestBackfillUpdate } from '../../workflows/messages';
import { historiesOfEveryRun, payloadsIn, storedBytesOf, storedHistoryBytes } from '../harness/stored-history';
import type { Benchmark, BenchmarkContext, BenchmarkOutcome } from './benchmark';
import { BenchEnvironment } from './bench-environment';
import { countBillableActions, type ActionCount } from './billable-actions';
import { placeEvents, spacingOverAnHour } from './event-placement';
import { activityExecutions, eventTime, historyEvents, timerStarts } from './history-timeline';
import {
  expectedIdleWaits,
  followsBackoffRule,
  idlePollsInFirstHour,
  idlePollsPerSteadyHour,
  type TailIntervals,
} from './idle-extrapolation';
import { bytes, fixed, integer } from './number-format';
import { stopOrgAndReadHistories } from './org-histories';
import { ACTIVITY_TYPES } from './page-cycles';
import { sum } from './statistics';

/** Issue #15's targets. */
const ACTIONS_PER_IDLE_HOUR_TARGET = 40;
const ACTIONS_PER_BACKFILL_EVENT_TARGET = 0.01;
const HISTORY_BYTES_PER_EVENT_TARGET = 50;
const IDLE = { pollIntervalMs: 2_000, maxPollIntervalMs: 2_000 * START_DEFAULTS.maxPollIntervalFactor };
const DEFAULT_INTERVALS: TailIntervals = {
  pollIntervalMs: START_DEFAULTS.pollIntervalMs,
  maxPollIntervalMs: START_DEFAULTS.pollIntervalMs * START_DEFAULTS.maxPollIntervalFactor,
};
const ONE_OFF_ACTION_KINDS = ['workflow start or continue-as-new', 'search attribute upsert'];
/** Temporal's default continue-as-new suggestion by history length (limit.historyCount.suggestContinueAsNew). */
const SUGGESTED_CONTINUE_AS_NEW_EVENTS = 4_096;

const FULL = { backfillEvents: 10_000, idleObservationMs: 150_000 };
const QUICK = { backfillEvents: 1_000, idleObservationMs: 40_000 };

interface BackfillCost {
  label: string;
  pageSize: number;
  events: number;
  /** Largest stored payload in any of its runs. */
  largestPayloadBytes: number;
  pages: number;
  runs: number;
  historyEvents: number;
  historyBytes: number;
  actions: ActionCount;
  estimatedHeartbeats: number;
}

interface IdleCost {
  /** The workflow's start and its phase changes (running → idle): once per org, not per poll. */
  oneOffActions: number;
  observedWaitsMs: number[];
  followsRule: boolean;
  steadyPolls: number;
  actionsPerPoll: number;
  historyEventsPerPoll: number;
}

export const costBenchmark: Benchmark = {
  name: 'cost',
  title: '5. Cost (history and Temporal actions)',
  async run(context: BenchmarkContext): Promise<BenchmarkOutcome> {
    const sizes = context.quick ? QUICK : FULL;
    return BenchEnvironment.run({}, async (environment) => {
      const placement = placeEvents(Date.now());
      const codec = loadDataConverter({ AUDIT_PAYLOAD_KEY: randomBytes(32).toString('base64') });
      const modes: Array<{ label: string; orgId: string; taskQueue: string; pageSize: number; dataConverter?: DataConverter }> = [
        { label: 'plain JSON payloads', orgId: 'cost-plain', taskQueue: 'bench-cost-plain', pageSize: START_DEFAULTS.pageSize },
        { label: 'encryption + compression codec', orgId: 'cost-codec', taskQueue: 'bench-cost-codec', pageSize: START_DEFAULTS.pageSize, dataConverter: codec },
        { label: 'plain JSON payloads, page size 500', orgId: 'cost-plain-500', taskQueue: 'bench-cost-plain', pageSize: 500 },
      ];
      await environment.standins.request('addOrgs', { orgIds: [...modes.map((mode) => mode.orgId), 'cost-idle'] });
      for (const mode of modes) {
        await environment.standins.request('seedEvents', {
          orgId: mode.orgId,
          stream: 'cost',
          seed: 2026,
          count: sizes.backfillEvents,
          processedFrom: placement.backfillProcessedFrom,
          spacingMs: spacingOverAnHour(sizes.backfillEvents),
        });
      }
      for (const taskQueue of new Set(modes.map((mode) => mode.taskQueue))) {
        await environment.startWorker(taskQueue, modes.find((mode) => mode.taskQueue === taskQueue)!.dataConverter);
      }

      context.log(`cost: idle org polling every ${IDLE.pollIntervalMs / 1000} s (ceiling ${IDLE.maxPollIntervalMs / 1000} s), watched ${sizes.idleObservationMs / 1000} s`);
      const idleStartedAt = Date.now();
      await environment.startOrg(modes[0]!.taskQueue, { orgId: 'cost-idle', since: placement.tailSince, ...IDLE });

      context.log(`cost: backfill of ${sizes.backfillEvents} events, plain and with the codec side by side, default settings (and plain at page size 500)`);
      const backfills = await Promise.all(
        modes.map(async (mode): Promise<BackfillCost> => {
          await environment.startOrg(mode.taskQueue, { orgId: mode.orgId, since: placement.tailSince, pageSize: mode.pageSize }, mode.dataConverter);
          const client = environment.client(mode.dataConverter);
          await client.workflow.getHandle(workflowIdForOrg(mode.orgId)).executeUpdate(requestBackfillUpdate, { args: [placement.backfillRange] });
          await environment.standins.waitForDelivered(mode.orgId, sizes.backfillEvents, 15 * 60_000);
          const { result, histories } = await stopOrgAndReadHistories(client, mode.orgId);
          return {
            label: mode.label,
            pageSize: mode.pageSize,
            largestPayloadBytes: Math.max(0, ...payloadsIn(histories).map(({ payload }) => storedBytesOf(payload))),
            events: sizes.backfillEvents,
            pages: result.state.stats.pages,
            runs: histories.length,
            historyEvents: historyEvents(histories).length,
            historyBytes: sum(histories.map(storedHistoryBytes)),
            actions: countBillableActions(histories),
            estimatedHeartbeats: activityExecutions(histories).filter((activity) => activity.type === ACTIVITY_TYPES.ship).length,
          };
        })
      );

      await sleep(idleStartedAt + sizes.idleObservationMs - Date.now());
      const idleRuns = await historiesOfEveryRun(environment.client(), workflowIdForOrg('cost-idle'));
      const content = await environment.standins.request('eventContent', {});
      return report(backfills, observeIdle(idleRuns.map((run) => run.history)), sizes.idleObservationMs, content.eventBytes / content.events);
    });
  },
};

/**
 * What one idle poll costs once the interval reached its ceiling, and the waits the workflow chose. A poll's cycle
 * runs from one timer's start to the next; the cycles counted are the whole ones between the first timer at the
 * ceiling and the last timer started.
 */
function observeIdle(histories: Parameters<typeof timerStarts>[0]): IdleCost {
  const timers = timerStarts(histories);
  const steady = timers.filter((timer) => timer.durationMs >= IDLE.maxPollIntervalMs);
  const from = steady[0]?.startedAt ?? Number.POSITIVE_INFINITY;
  const to = steady.at(-1)?.startedAt ?? Number.NEGATIVE_INFINITY;
  const cycles = Math.max(0, steady.length - 1);
  const steadyEvents = historyEvents(histories).filter((event) => eventTime(event) >= from && eventTime(event) < to);
  const { byKind } = countBillableActions(histories);
  return {
    oneOffActions: ONE_OFF_ACTION_KINDS.reduce((total, kind) => total + (byKind[kind] ?? 0), 0),
    observedWaitsMs: timers.map((timer) => timer.durationMs),
    followsRule: followsBackoffRule(IDLE, timers),
    steadyPolls: cycles,
    actionsPerPoll: countBillableActions([{ events: steadyEvents }]).total / cycles,
    historyEventsPerPoll: steadyEvents.length / cycles,
  };
}

function report(backfills: BackfillCost[], idle: IdleCost, idleObservationMs: number, eventBytesPerEvent: number): BenchmarkOutcome {
  const perThousand = (value: number, cost: BackfillCost) => (value * 1000) / cost.events;
  const [plain] = backfills as [BackfillCost, BackfillCost, BackfillCost];
  const historyPerEvent = (cost: BackfillCost) => cost.historyBytes / cost.events;
  const actionsPerEvent = (cost: BackfillCost) => (cost.actions.total + cost.estimatedHeartbeats) / cost.events;
  const firstHourPolls = idlePollsInFirstHour(DEFAULT_INTERVALS);
  const steadyHourPolls = idlePollsPerSteadyHour(DEFAULT_INTERVALS);
  const firstHourActions = firstHourPolls * idle.actionsPerPoll + idle.oneOffActions;
  const steadyHourActions = steadyHourPolls * idle.actionsPerPoll;
  const hoursPerContinueAsNew = SUGGESTED_CONTINUE_AS_NEW_EVENTS / idle.historyEventsPerPoll / steadyHourPolls;
  const kinds = [...new Set(backfills.flatMap((cost) => Object.keys(cost.actions.byKind)))].sort();

  return {
    settings: {
      backfillEvents: plain.events,
      pageSize: START_DEFAULTS.pageSize,
      maxRequestsPerMinute: START_DEFAULTS.maxRequestsPerMinute,
      idlePollSeconds: IDLE.pollIntervalMs / 1000,
      idleCeilingSeconds: IDLE.maxPollIntervalMs / 1000,
      idleObservationSeconds: idleObservationMs / 1000,
    },
    tables: [
      {
        title: 'Backfill: history and actions per 1,000 events (all runs, continue-as-new included)',
        columns: ['payloads', 'events', 'pages', 'runs', 'history events / 1k', 'history bytes / 1k', 'history bytes / event', 'largest payload', 'actions / 1k (history)', '+ heartbeats / 1k (est.)', 'actions per event'],
        rows: backfills.map((cost) => [
          cost.label,
          integer(cost.events),
          integer(cost.pages),
          integer(cost.runs),
          fixed(perThousand(cost.historyEvents, cost), 1),
          bytes(perThousand(cost.historyBytes, cost)),
          fixed(historyPerEvent(cost), 1),
          bytes(cost.largestPayloadBytes),
          fixed(perThousand(cost.actions.total, cost), 1),
          fixed(perThousand(cost.estimatedHeartbeats, cost), 1),
          fixed(actionsPerEvent(cost), 4),
        ]),
      },
      {
        title: 'Backfill actions by kind',
        columns: ['kind', ...backfills.map((cost) => cost.label)],
        rows: [
          ...kinds.map((kind) => [kind, ...backfills.map((cost) => integer(cost.actions.byKind[kind] ?? 0))]),
          ['heartbeat (estimated, one per ship)', ...backfills.map((cost) => integer(cost.estimatedHeartbeats))],
        ],
      },
      {
        title: `Idle org: observed at a ${IDLE.pollIntervalMs / 1000} s interval, extrapolated to the default ${DEFAULT_INTERVALS.pollIntervalMs / 1000} s`,
        columns: ['', 'value'],
        rows: [
          ['waits chosen after each empty poll (observed)', idle.observedWaitsMs.map((ms) => fixed(ms / 1000, 0)).join(', ') + ' s'],
          ['same as the backoff rule (tailPollDelay)', idle.followsRule ? 'yes' : 'no'],
          ['actions per idle poll (measured over the polls at the ceiling)', `${fixed(idle.actionsPerPoll, 2)} (${idle.steadyPolls} polls)`],
          ['history events per idle poll', fixed(idle.historyEventsPerPoll, 1)],
          [
            `default: waits (first polls)`,
            expectedIdleWaits(DEFAULT_INTERVALS, 6).map((ms) => fixed(ms / 1000, 0)).join(', ') + ' s …',
          ],
          ['default: polls in the first hour / per hour after', `${integer(firstHourPolls)} / ${fixed(steadyHourPolls, 1)}`],
          ['default: actions in the first idle org-hour / per idle org-hour after', `${fixed(firstHourActions, 0)} / ${fixed(steadyHourActions, 0)}`],
          ['continue-as-new at Temporal\'s 4,096-event suggestion', `every ${fixed(hoursPerContinueAsNew, 0)} h (one more action)`],
        ],
      },
    ],
    targets: [
      {
        target: `≤ ${ACTIONS_PER_IDLE_HOUR_TARGET} actions per idle org-hour (default interval, extrapolated)`,
        measured: `${fixed(firstHourActions, 0)} in the first hour, ${fixed(steadyHourActions, 0)} per hour after`,
        met: firstHourActions <= ACTIONS_PER_IDLE_HOUR_TARGET && steadyHourActions <= ACTIONS_PER_IDLE_HOUR_TARGET,
        reason:
          `baseline: the hour of an org that polls at a fixed ${DEFAULT_INTERVALS.pollIntervalMs / 1000} s would cost ` +
          `${fixed((3_600_000 / DEFAULT_INTERVALS.pollIntervalMs) * idle.actionsPerPoll, 0)}; an idle poll costs ${fixed(idle.actionsPerPoll, 1)} actions (the poll activity and the timer until the next); the interval ` +
          `grows from ${DEFAULT_INTERVALS.pollIntervalMs / 1000} s to ${DEFAULT_INTERVALS.maxPollIntervalMs / 1000} s after ` +
          `empty polls, so the org polls ${fixed(steadyHourPolls, 0)} times an hour`,
      },
      ...backfills.map((cost) => ({
        target: `≤ ${ACTIONS_PER_BACKFILL_EVENT_TARGET} actions per event in backfill (${cost.label})`,
        measured: `${fixed(actionsPerEvent(cost), 4)} (${fixed(cost.actions.total / cost.events, 4)} from history alone)`,
        met: actionsPerEvent(cost) <= ACTIONS_PER_BACKFILL_EVENT_TARGET,
        reason:
          `baseline: one action per Atlassian page would be ${fixed(1 / cost.pageSize, 4)} per event; ` +
          `${fixed(cost.actions.total / cost.pages, 1)} actions per page of ${cost.pageSize} (poll, map and ship activities, the pacing timer, ` +
          `phase upserts; ${cost.runs} run(s)) plus about one heartbeat per ship`,
      })),
      ...backfills.map((cost) => ({
        target: `≤ ${HISTORY_BYTES_PER_EVENT_TARGET} history bytes per delivered event in backfill (${cost.label})`,
        measured: `${fixed(historyPerEvent(cost), 1)} bytes (${bytes(cost.historyBytes)} for ${integer(cost.events)} events, ${cost.runs} run(s))`,
        met: historyPerEvent(cost) <= HISTORY_BYTES_PER_EVENT_TARGET,
        reason:
          `baseline: the events are ${integer(eventBytesPerEvent)} bytes each as Atlassian serves them; history keeps ` +
          `${bytes(cost.historyBytes / cost.pages)} per page (${fixed(perThousand(cost.historyEvents, cost) / 1000 * cost.pageSize, 1)} history events), ` +
          `largest payload ${bytes(cost.largestPayloadBytes)}`,
      })),
    ],
    findings: [
      `History: ${bytes(perThousand(plain.historyBytes, plain))} per 1,000 events in clear, ` +
        `${bytes(perThousand(backfills[1]!.historyBytes, backfills[1]!))} with the codec and ${bytes(perThousand(backfills[2]!.historyBytes, backfills[2]!))} ` +
        `at page size 500: the events stay in the worker's page store, history holds references, dedupe keys and counts.`,
      `Idle: the observation ran ${idleObservationMs / 1000} s at a ${IDLE.pollIntervalMs / 1000} s interval; the per-hour figures ` +
        'at the default interval are computed, not observed: the measured actions per idle poll times the polls the ' +
        'workflow\'s own backoff rule makes in an hour at that interval.',
    ],
    data: { backfills, idle, firstHourActions, steadyHourActions, hoursPerContinueAsNew },
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}
