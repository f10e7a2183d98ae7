/**
 * `atlassian-audit verify`: proves, hour by hour of event time, that Datadog holds a log of every event Atlassian
 * lists for a range, and with `repair` re-ships exactly what is missing, then looks again.
 *
 * A pass counts Atlassian's events per hour (reading `events-stream` at the verify's own budget) and Datadog's logs
 * per hour (Logs Aggregate), then compares IDs only in the hours whose counts differ: Logs Search for Datadog's, the
 * hour read again for Atlassian's. Only counts and the IDs of compared hours pass through history; the events stay
 * in the activities that read them. Waits for a spent budget, of either side, are timers shown in the UI.
 */
import * as wf from '@temporalio/workflow';
import { ActivityFailure, ApplicationFailure } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { AtlassianPacing } from '../activities/verify-atlassian';
import type { Waiting } from '../activities/verify-activities';
import { iso } from './backfill-ranges';
import { describeIssues } from './messages';
import { renderVerifyDetails, type VerifyProgress } from './verify-details';
import { verifiedRange, verifyRangeInputSchema, type VerifyRangeInput } from '../shared/verify/verify-input';
import {
  addCounts,
  hoursToCompare,
  passReport,
  REPORT_IDS_PER_HOUR,
  type DatadogHourCounts,
  type HourComparison,
  type HourCounts,
  type PassReport,
  type RepairSummary,
  type VerifyRangeResult,
} from '../shared/verify/verify-report';
import { verifySettings } from '../shared/verify/verify-settings';

/** A collector that does not answer within a few tries is not waited for: the verify goes on with the defaults. */
const { verifyOrgSettings } = wf.proxyActivities<Activities>({ startToCloseTimeout: '30 seconds', retry: { maximumAttempts: 3 } });
/**
 * Reading activities heartbeat every 5 s. An hour of many events read at a small budget takes minutes; transient
 * faults are retried for about ten minutes, then the run fails with the fault rather than hiding it.
 */
const readers = wf.proxyActivities<Activities>({
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 15 },
});

/**
 * Missing IDs of an hour that one repair re-ships, and so lists in the first pass: about 200 KB of IDs in history
 * per hour at most. An hour missing more is repaired this far, and the report says how many are left for the next run.
 */
const MAX_REPAIRED_PER_HOUR = 5_000;

export async function verifyRangeWorkflow(input: VerifyRangeInput): Promise<VerifyRangeResult> {
  const parsed = verifyRangeInputSchema.safeParse(input);
  if (!parsed.success) {
    throw ApplicationFailure.create({ type: 'InvalidVerifyInput', message: `invalid verify input: ${describeIssues(parsed.error)}`, nonRetryable: true });
  }
  const request = parsed.data;
  const { orgId, indexes } = request;
  const range = verifiedRange(request.range, Date.now());
  const org = await verifyOrgSettings.executeWithOptions({ summary: "read the org collector's keys and budget" }, [{ orgId }]).catch((err: unknown) => {
    if (err instanceof ActivityFailure) return null;
    throw err;
  });
  const settings = verifySettings(request, org);
  let pacing: AtlassianPacing = { maxRequestsPerMinute: settings.maxRequestsPerMinute, nextRequestAt: Date.now(), pageLimit: settings.pageLimit };
  const progress: VerifyProgress = {
    orgId,
    range,
    indexes,
    repair: request.repair,
    settings,
    pass: 1,
    step: 'starting',
    eventsCounted: 0,
    atlassianRequests: 0,
    hoursToCompare: 0,
    hoursCompared: 0,
    waiting: null,
    passes: [],
    repaired: null,
  };
  const publish = (step?: string) => {
    if (step !== undefined) progress.step = step;
    wf.setCurrentDetails(renderVerifyDetails(progress));
  };
  const credentials = { atlassianCredential: settings.atlassian, datadogCredential: settings.datadog };

  /** Records what an activity sent to Atlassian and where its pacing stands. */
  function track(outcome: { pacing: AtlassianPacing; requests: number }): void {
    pacing = outcome.pacing;
    progress.atlassianRequests += outcome.requests;
  }

  async function waitFor(service: Waiting['service'], ms: number): Promise<void> {
    const until = Date.now() + ms;
    progress.waiting = { service, until };
    publish();
    await wf.sleep(ms, { summary: `rate-limited by ${service === 'atlassian' ? 'Atlassian' : 'Datadog'} until ${iso(until)}` });
    progress.waiting = null;
  }

  async function countExpected(): Promise<{ counts: HourCounts; undated: number }> {
    let counts: HourCounts = {};
    let undated = 0;
    let cursor: string | null = null;
    for (;;) {
      publish("counting Atlassian's events per hour");
      const slice = await readers.verifyCountAtlassian.executeWithOptions({ summary: `count Atlassian events (pass ${progress.pass})` }, [
        { orgId, credential: settings.atlassian, from: range.from, to: range.to, cursor, pacing },
      ]);
      track(slice);
      counts = addCounts(counts, slice.counts);
      progress.eventsCounted += Object.values(slice.counts).reduce((sum, count) => sum + count, 0);
      undated += slice.undated;
      cursor = slice.cursor;
      if (slice.kind === 'end') return { counts, undated };
      if (slice.kind === 'waiting') await waitFor('atlassian', Math.max(0, pacing.nextRequestAt - Date.now()));
    }
  }

  async function countHeld(): Promise<DatadogHourCounts> {
    for (;;) {
      publish("counting Datadog's logs per hour");
      const answer = await readers.verifyCountDatadog.executeWithOptions({ summary: `count Datadog logs (pass ${progress.pass})` }, [
        { orgId, credential: settings.datadog, from: range.from, to: range.to, indexes },
      ]);
      if (answer.kind === 'answered') return answer.value;
      await waitFor('datadog', answer.retryAfterMs);
    }
  }

  async function compare(hour: string, listUpTo: number): Promise<HourComparison> {
    for (;;) {
      publish(`comparing the event IDs of ${hour}`);
      const outcome = await readers.verifyCompareHour.executeWithOptions({ summary: `compare IDs of ${hour}` }, [
        { orgId, ...credentials, hour, indexes, pacing, listUpTo },
      ]);
      track(outcome);
      if (outcome.kind === 'compared') return outcome.comparison;
      await waitFor(outcome.service, outcome.retryAfterMs);
    }
  }

  async function runPass(pass: number, listUpTo: number): Promise<{ report: PassReport; comparisons: HourComparison[] }> {
    Object.assign(progress, { pass, eventsCounted: 0, hoursToCompare: 0, hoursCompared: 0 });
    const expected = await countExpected();
    const held = await countHeld();
    const hours = hoursToCompare(expected.counts, held);
    progress.hoursToCompare = hours.length;
    const comparisons: HourComparison[] = [];
    for (const hour of hours) {
      comparisons.push(await compare(hour, listUpTo));
      progress.hoursCompared++;
    }
    const report = passReport(pass, Date.now(), expected.counts, held, comparisons, expected.undated);
    progress.passes.push(report);
    return { report, comparisons };
  }

  async function repair(comparisons: readonly HourComparison[]): Promise<RepairSummary> {
    const summary: RepairSummary = { shipped: 0, redated: 0, deadLettered: 0, notFound: 0, leftForNextRun: 0 };
    progress.repaired = summary;
    for (const { hour, missingIds, missingCount } of comparisons) {
      summary.leftForNextRun += missingCount - missingIds.length;
      if (missingIds.length === 0) continue;
      for (;;) {
        publish(`re-shipping ${missingIds.length} missing events of ${hour}`);
        const outcome = await readers.verifyRepairHour.executeWithOptions({ summary: `repair ${missingIds.length} events of ${hour}` }, [
          { orgId, ...credentials, hour, eventIds: missingIds, pacing },
        ]);
        track(outcome);
        if (outcome.kind === 'waiting') {
          await waitFor(outcome.service, outcome.retryAfterMs);
          continue;
        }
        summary.shipped += outcome.shipped;
        summary.redated += outcome.redated;
        summary.deadLettered += outcome.deadLettered;
        summary.notFound += outcome.notFound;
        break;
      }
    }
    return summary;
  }

  try {
    const first = await runPass(1, request.repair ? MAX_REPAIRED_PER_HOUR : REPORT_IDS_PER_HOUR);
    if (request.repair && first.report.totals.missing > 0) {
      await repair(first.comparisons);
      publish('letting Datadog index the repaired logs');
      if (request.indexingDelayMs > 0) await wf.sleep(request.indexingDelayMs, { summary: 'let Datadog index the repaired logs' });
      await runPass(2, REPORT_IDS_PER_HOUR);
    }
  } catch (err) {
    // The cause (a refused key, a fault its retries did not outlast), not "activity task failed": the client prints
    // this message as it is.
    if (err instanceof ActivityFailure && err.cause) {
      const type = err.cause instanceof ApplicationFailure ? (err.cause.type ?? undefined) : err.cause.name;
      throw ApplicationFailure.create({ type, message: err.cause.message, nonRetryable: true });
    }
    throw err;
  }
  publish('done');
  return {
    orgId,
    workflowId: wf.workflowInfo().workflowId,
    from: iso(range.from),
    to: iso(range.to),
    indexes,
    repair: request.repair,
    settings: { source: settings.source, maxRequestsPerMinute: settings.maxRequestsPerMinute },
    passes: progress.passes,
    repaired: progress.repaired,
  };
}
