/** A Datadog outage: 503 on every request for a while, the org's position sampled throughout. */
import { setTimeout as sleep } from 'node:timers/promises';
import { generateDemoEvents } from '../standins/demo-events';
import { statusQuery } from '../../workflows/messages';
import type { OrgAuditStatus } from '../../workflows/org-audit-state';
import { waitForProgress, type Bench } from './reliability-bench';
import { seconds } from '../bench/number-format';
import type { Settings } from './settings';
import type { Row } from './table';

const OUTAGE_PAGE_SIZE = 100;
/** Events before the outage; more arrive in Atlassian while Datadog is down. */
const OUTAGE_EVENTS_BEFORE = 1_000;
const OUTAGE_EVENTS_PER_BATCH = 100;
const OUTAGE_BATCH_EVERY_MS = 30_000;
const OUTAGE_SAMPLE_EVERY_MS = 5_000;

/** A page a second: slow enough that the faults land while pages flow, not after all of them arrived. */
const MID_RUN_PACE = { maxRequestsPerMinute: 60 };

interface StatusSample {
  at: number;
  /** Whether Datadog had refused a request of the outage before the query was sent. */
  afterFirstRefusal: boolean;
  pages: number;
  eventsShipped: number;
  watermark: string | null;
  /** Distinct events of the org Datadog had accepted, read after the answer. */
  delivered: number;
  /** Events at or before the watermark (processing order) that Datadog had not accepted. */
  unshippedBehindWatermark: number;
}

export interface OutageFigures {
  samples: StatusSample[];
  /** Samples after the first refusal whose position differs from the first such sample. */
  moved: number;
  /** Samples whose position was ahead of what Datadog had accepted. */
  ahead: number;
  refused: number;
  durationMs: number;
}

/**
 * Datadog answers 503, without Retry-After, to every request for `--outage-seconds`, so the ship activity's own
 * backoff (up to a minute) applies; Atlassian keeps producing events meanwhile. The org's `status` is sampled
 * throughout: its position (pages, events shipped, tail watermark) must not move while Datadog accepts nothing,
 * and must never be ahead of what Datadog accepted. Recovery is counted from the outage's end.
 */
export async function datadogOutageScenario(bench: Bench, settings: Settings): Promise<{ row: Row; figures: OutageFigures }> {
  const orgId = bench.newOrg();
  // Processing times strictly increasing and in the past, so "every event up to the watermark was delivered" is exact.
  let processedUpTo = 0;
  const addEvents = (count: number, seed: number): string[] => {
    const startTime = Math.max(processedUpTo + 1, Date.now() - count * 10 - 1_000);
    processedUpTo = startTime + (count - 1) * 10;
    const events = generateDemoEvents({ seed, count, startTime, spacingMs: 10, orgId });
    return bench.atlassian.addEvents(orgId, events).map((e) => e.id);
  };
  const expected = addEvents(OUTAGE_EVENTS_BEFORE, 8_001);
  const handle = await bench.startCollecting({ orgId, pageSize: OUTAGE_PAGE_SIZE, ...MID_RUN_PACE });
  await waitForProgress(bench, orgId, () => bench.distinctDelivered(orgId) >= OUTAGE_EVENTS_BEFORE * 0.3);

  const durationMs = settings.outageSeconds * 1_000;
  const requestsBefore = bench.datadog.requests.length;
  const startedAt = Date.now();
  const endsAt = startedAt + durationMs;
  bench.datadog.startOutage({ kind: 'status', status: 503 }, endsAt);
  console.log(`  outage from ${bench.distinctDelivered(orgId)}/${expected.length} delivered, for ${seconds(durationMs)}`);
  const refusedSoFar = () => bench.datadog.requests.slice(requestsBefore).filter((r) => r.status === 503).length;

  const samples: StatusSample[] = [];
  let nextBatchAt = startedAt + OUTAGE_BATCH_EVERY_MS;
  let batch = 0;
  while (Date.now() < endsAt - 250) {
    if (Date.now() >= nextBatchAt) {
      expected.push(...addEvents(OUTAGE_EVENTS_PER_BATCH, 8_002 + batch++));
      nextBatchAt += OUTAGE_BATCH_EVERY_MS;
    }
    const afterFirstRefusal = refusedSoFar() > 0;
    const status = await handle.query(statusQuery);
    if (Date.now() < endsAt) samples.push({ at: Date.now(), afterFirstRefusal, ...positionOf(bench, orgId, status) });
    await sleep(Math.min(OUTAGE_SAMPLE_EVERY_MS, Math.max(0, endsAt - Date.now())));
  }
  const refused = refusedSoFar();
  console.log(`  outage over: ${refused} requests refused, ${samples.length} status samples, ${bench.distinctDelivered(orgId)}/${expected.length} delivered`);

  const outcome = await bench.outcome(orgId, expected);
  await bench.stopCollecting(orgId);
  const held = samples.filter((s) => s.afterFirstRefusal);
  const key = (s: StatusSample) => `${s.pages}/${s.eventsShipped}/${s.watermark}`;
  const figures: OutageFigures = {
    samples,
    moved: held.filter((s) => key(s) !== key(held[0]!)).length,
    ahead: samples.filter((s) => s.eventsShipped > s.delivered || s.unshippedBehindWatermark > 0).length,
    refused,
    durationMs,
  };
  const row: Row = {
    fault: `Datadog outage ${settings.outageSeconds} s, 503 on every request (recovery from its end)`,
    injected: refused,
    ...outcome,
    recoveryMs: bench.recoveryAfter(orgId, endsAt),
  };
  return { row, figures };
}

/** The org's position as its status tells it, checked against what Datadog accepted (read after the answer). */
function positionOf(bench: Bench, orgId: string, status: OrgAuditStatus): Omit<StatusSample, 'at' | 'afterFirstRefusal'> {
  const watermark = status.tail.watermark;
  const watermarkMs = watermark === null ? -Infinity : Date.parse(watermark);
  const unshippedBehindWatermark = bench.atlassian
    .events(orgId)
    .filter((e) => Date.parse(e.attributes.processedAt ?? '') <= watermarkMs && !bench.wasDelivered(orgId, e.id)).length;
  return {
    pages: status.stats.pages,
    eventsShipped: status.stats.eventsShipped,
    watermark,
    delivered: bench.distinctDelivered(orgId),
    unshippedBehindWatermark,
  };
}

export function printOutage(outage: OutageFigures): void {
  const held = outage.samples.filter((s) => s.afterFirstRefusal);
  const first = held[0];
  const heldAnswer = first === undefined ? 'not sampled (no refusal seen)' : outage.moved === 0 ? 'yes' : `NO, moved in ${outage.moved} samples`;
  console.log(
    `Datadog outage: ${seconds(outage.durationMs)} of 503 without Retry-After, ${outage.refused} requests refused; ` +
      `cursor held during outage: ${heldAnswer} (${held.length} samples after the first refusal` +
      (first ? `: ${first.pages} pages, ${first.eventsShipped} events shipped, watermark ${first.watermark ?? 'none'}` : '') +
      `); ahead of what Datadog accepted: ${outage.ahead === 0 ? 'never' : `in ${outage.ahead} samples`} (${outage.samples.length} samples)`
  );
}
