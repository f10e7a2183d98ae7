/**
 * Benchmark 4: latency from an event becoming visible in the Atlassian stand-in to its arrival in the Datadog
 * stand-in, at the default poll interval and at a short one. Events arrive one at a time at random (about one a
 * second per org) while both orgs run on one worker; the injection starts right after each org's first poll and
 * lasts a whole number of default intervals, so every moment of the poll cycle is sampled equally.
 */
import { START_DEFAULTS } from '../../client/org-control';
import type { Benchmark, BenchmarkContext, BenchmarkOutcome } from './benchmark';
import { BenchEnvironment } from './bench-environment';
import { placeEvents } from './event-placement';
import { fixed, integer, milliseconds } from './number-format';
import type { EventJourney } from './standin-protocol';
import { percentile } from './statistics';

const TASK_QUEUE = 'bench-latency';
const MEAN_GAP_MS = 1_000;

interface Interval {
  label: string;
  orgId: string;
  pollIntervalMs: number;
}

const FULL = {
  intervals: [
    { label: 'default poll interval', orgId: 'latency-default', pollIntervalMs: START_DEFAULTS.pollIntervalMs },
    { label: 'short poll interval', orgId: 'latency-short', pollIntervalMs: 2_000 },
  ],
  /** Three default intervals. */
  injectMs: 3 * START_DEFAULTS.pollIntervalMs,
};
const QUICK = {
  intervals: [
    { label: 'quick stand-in for the default interval', orgId: 'latency-default', pollIntervalMs: 10_000 },
    { label: 'short poll interval', orgId: 'latency-short', pollIntervalMs: 2_000 },
  ],
  injectMs: 20_000,
};

interface IntervalResult {
  interval: Interval;
  latenciesMs: number[];
  missing: number;
  /** Gaps between the org's consecutive requests while events arrived: the adaptive tail should not stretch them. */
  pollGapsMs: number[];
}

export const deliveryLatencyBenchmark: Benchmark = {
  name: 'latency',
  title: '4. Latency (visible in Atlassian → received by Datadog)',
  async run(context: BenchmarkContext): Promise<BenchmarkOutcome> {
    const sizes = context.quick ? QUICK : FULL;
    return BenchEnvironment.run({}, async (environment) => {
      const orgIds = sizes.intervals.map((interval) => interval.orgId);
      await environment.standins.request('addOrgs', { orgIds });
      await environment.startWorker(TASK_QUEUE);
      const { tailSince } = placeEvents(Date.now());
      for (const interval of sizes.intervals) {
        await environment.startOrg(TASK_QUEUE, { orgId: interval.orgId, since: tailSince, pollIntervalMs: interval.pollIntervalMs });
      }
      await waitForFirstPolls(environment, orgIds);
      context.log(`latency: events at random, about one a second per org, for ${sizes.injectMs / 1000} s`);
      const injectionStart = Date.now();
      await environment.standins.request('startTrickle', { orgIds, meanGapMs: MEAN_GAP_MS, seed: 17 });
      await sleep(sizes.injectMs);
      await environment.standins.request('stopTrickle', {});
      const injectionEnd = Date.now();
      const longestInterval = Math.max(...sizes.intervals.map((interval) => interval.pollIntervalMs));
      context.log('latency: waiting for the last events to arrive');
      const journeys = await waitForArrivals(environment, orgIds, longestInterval + 30_000);
      const traffic = await environment.standins.request('traffic', { orgIds });
      const results = sizes.intervals.map((interval): IntervalResult => {
        const served = traffic.find((org) => org.orgId === interval.orgId)!.servedAt.filter((at) => at >= injectionStart && at <= injectionEnd);
        const own = journeys.get(interval.orgId) ?? [];
        return {
          interval,
          latenciesMs: own.flatMap((journey) => (journey.arrivedAt === null ? [] : [journey.arrivedAt - journey.visibleAt])),
          missing: own.filter((journey) => journey.arrivedAt === null).length,
          pollGapsMs: served.slice(1).map((at, index) => at - served[index]!),
        };
      });
      return report(results, sizes.injectMs);
    });
  },
};

async function waitForFirstPolls(environment: BenchEnvironment, orgIds: string[]): Promise<void> {
  for (;;) {
    const traffic = await environment.standins.request('traffic', { orgIds });
    if (traffic.every((org) => org.servedAt.length > 0)) return;
    await sleep(100);
  }
}

async function waitForArrivals(environment: BenchEnvironment, orgIds: string[], timeoutMs: number): Promise<Map<string, EventJourney[]>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const journeys = new Map<string, EventJourney[]>();
    for (const orgId of orgIds) journeys.set(orgId, await environment.standins.request('journeys', { orgId }));
    const pending = [...journeys.values()].flat().filter((journey) => journey.arrivedAt === null).length;
    if (pending === 0 || Date.now() > deadline) return journeys;
    await sleep(1_000);
  }
}

function report(results: IntervalResult[], injectMs: number): BenchmarkOutcome {
  const at = (values: number[], fraction: number) => milliseconds(percentile(values, fraction));
  return {
    settings: {
      intervals: results.map((result) => `${result.interval.pollIntervalMs / 1000} s`).join(' / '),
      injectionSeconds: injectMs / 1000,
      meanGapBetweenEventsMs: MEAN_GAP_MS,
    },
    tables: [
      {
        title: 'Latency per event, measured, beside what waiting for the next poll alone would give (uniform over one interval)',
        columns: ['poll interval', 'events', 'missing', 'p50', 'p95', 'p99', 'max', 'interval alone: p50 / p95 / p99', 'gap between polls p50 / max'],
        rows: results.map((result) => {
          const interval = result.interval.pollIntervalMs;
          return [
            `${result.interval.label} (${interval / 1000} s)`,
            integer(result.latenciesMs.length),
            integer(result.missing),
            at(result.latenciesMs, 0.5),
            at(result.latenciesMs, 0.95),
            at(result.latenciesMs, 0.99),
            milliseconds(Math.max(...result.latenciesMs)),
            `${milliseconds(interval * 0.5)} / ${milliseconds(interval * 0.95)} / ${milliseconds(interval * 0.99)}`,
            `${at(result.pollGapsMs, 0.5)} / ${milliseconds(Math.max(...result.pollGapsMs))}`,
          ];
        }),
      },
    ],
    targets: [],
    findings: [
      ...results.map((result) => {
        const { period, pass, expectedP50, medianError } = latencyModel(result);
        return (
          `${result.interval.label} (${result.interval.pollIntervalMs / 1000} s): p50 ${at(result.latenciesMs, 0.5)} against ` +
          `${milliseconds(expectedP50)} ± ${milliseconds(medianError)} expected (half the ${milliseconds(period)} between polls, plus one ` +
          `${milliseconds(pass)} pass of the pipeline; ± is the spread of a median of ${result.latenciesMs.length} uniform waits); ` +
          `p95 ${at(result.latenciesMs, 0.95)} against ${milliseconds(0.95 * period + pass)}.`
        );
      }),
      'Latency is the wait for the next poll, uniform over one period, plus one pass of poll → map → ship. The period is ' +
        'the interval plus that pass, because the next interval starts when the previous page is delivered. At any ' +
        'interval I, expect p50 ≈ I/2 and p95 ≈ 0.95·I plus the pass (a few hundred milliseconds at most, benchmark 1). The ' +
        `tail lengthens its interval only after empty polls (benchmark 5); with an event about every ${fixed(MEAN_GAP_MS / 1000, 0)} s ` +
        'it stays at the configured interval, as the gaps between polls show.',
    ],
    data: results.map((result) => ({ ...result, interval: result.interval })),
  };
}

/**
 * What waiting for the next poll predicts. The pipeline's pass is what the period between polls adds to the
 * interval; an event waits a uniform share of that period and then one pass. The median of n uniform waits over a
 * period P spreads by about P / (2·√n).
 */
function latencyModel(result: IntervalResult): { period: number; pass: number; expectedP50: number; medianError: number } {
  const period = result.pollGapsMs.length > 0 ? percentile(result.pollGapsMs, 0.5) : result.interval.pollIntervalMs;
  const pass = Math.max(0, period - result.interval.pollIntervalMs);
  return {
    period,
    pass,
    expectedP50: period / 2 + pass,
    medianError: period / (2 * Math.sqrt(Math.max(1, result.latenciesMs.length))),
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}
