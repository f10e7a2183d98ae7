/**
 * Benchmark 6: CPU cost of the map step alone (mapPolledEvents), warm, per event, beside JSON.parse +
 * JSON.stringify of the same events as the baseline that any step handling these events pays at least once.
 * The measured kinds of work alternate round by round, so that a neighbour's load on the shared machine falls on
 * all of them alike; each figure is the median round.
 */
import { actionCatalogueFrom } from '../../activities/action-catalogue';
import { atlassianEventSchema, eventActionsSchema } from '../../activities/atlassian-schema';
import { mapPolledEvents, type MapContext } from '../../activities/map-event';
import { cutOversizedLog } from '../../activities/oversized-log';
import type { PolledEvent } from '../../activities/polled-event';
import { AtlassianStandin } from '../standins/atlassian-standin';
import { demoEventActions } from '../standins/demo-event-actions';
import { generateDemoEvents } from '../standins/demo-events';
import type { Benchmark, BenchmarkContext, BenchmarkOutcome } from './benchmark';
import { fixed } from './number-format';
import { median, minimum } from './statistics';

const PAGE_SIZE = 200;

interface Sizes {
  events: number;
  warmupMs: number;
  roundMs: number;
  rounds: number;
}

const FULL: Sizes = { events: 2_000, warmupMs: 2_000, roundMs: 1_000, rounds: 9 };
const QUICK: Sizes = { events: 400, warmupMs: 200, roundMs: 150, rounds: 3 };

interface Workload {
  label: string;
  /** Handles one page of events; returns something derived from all of them, so no work can be optimised away. */
  handlePage(page: number): number;
}

export const mapCostBenchmark: Benchmark = {
  name: 'map',
  title: '6. Map cost',
  async run(context: BenchmarkContext): Promise<BenchmarkOutcome> {
    const sizes = context.quick ? QUICK : FULL;
    const polled = await servedEvents(sizes.events);
    const pages = chunk(polled, PAGE_SIZE);
    const mapContext: MapContext = { orgId: 'bench-map-org', origin: 'tail', now: Date.now(), actions: demoCatalogue() };
    const rawPages = pages.map((page) => page.map((element) => (element.kind === 'event' ? element.event : element.raw)));
    const logPages = pages.map((page) => mapPolledEvents(page, mapContext));

    const workloads: Workload[] = [
      { label: 'mapPolledEvents (the map activity\'s work)', handlePage: (i) => mapPolledEvents(pages[i]!, mapContext).length },
      { label: 'JSON.parse(JSON.stringify(event)) (baseline)', handlePage: (i) => (JSON.parse(JSON.stringify(rawPages[i])) as unknown[]).length },
      { label: 'JSON round trip of the Datadog logs produced', handlePage: (i) => (JSON.parse(JSON.stringify(logPages[i])) as unknown[]).length },
      { label: 'cutOversizedLog alone (part of mapping: attribute limits, size check)', handlePage: (i) => logPages[i]!.map((log) => cutOversizedLog(log)).length },
      { label: 'atlassianEventSchema validation (the poll activity\'s work)', handlePage: (i) => rawPages[i]!.filter((raw) => atlassianEventSchema.safeParse(raw).success).length },
    ];

    context.log(`map: ${polled.length} events, ${sizes.rounds} rounds of ${sizes.roundMs} ms per kind of work`);
    const pageLengths = pages.map((page) => page.length);
    for (const workload of workloads) timedRound(workload, pageLengths, sizes.warmupMs);
    const rounds = new Map<string, number[]>(workloads.map((workload) => [workload.label, []]));
    for (let round = 0; round < sizes.rounds; round++) {
      for (const workload of workloads) {
        const { events, ms } = timedRound(workload, pageLengths, sizes.roundMs);
        rounds.get(workload.label)!.push((ms * 1000) / events);
      }
    }

    const typicalOf = (workload: Workload) => median(rounds.get(workload.label)!);
    const baseline = typicalOf(workloads[1]!);
    const mapMicros = typicalOf(workloads[0]!);
    const limitsMicros = typicalOf(workloads[3]!);
    const rows = workloads.map((workload) => {
      const samples = rounds.get(workload.label)!;
      const typical = median(samples);
      return [workload.label, fixed(typical, 2), fixed(minimum(samples), 2), fixed(Math.max(...samples), 2), `${fixed(typical / baseline, 2)}×`];
    });
    const logBytes = Buffer.byteLength(JSON.stringify(logPages.flat())) / polled.length;
    const eventBytes = Buffer.byteLength(JSON.stringify(rawPages.flat())) / polled.length;
    return {
      settings: { events: polled.length, pageSize: PAGE_SIZE, rounds: sizes.rounds, roundMs: sizes.roundMs },
      tables: [
        {
          title: 'Microseconds per event (median round; min and max rounds beside it)',
          columns: ['work', 'µs/event', 'min', 'max', 'vs baseline'],
          rows,
        },
      ],
      targets: [],
      findings: [
        `Mapping costs ${fixed(mapMicros, 1)} µs per event, ${fixed(mapMicros / baseline, 1)}× one JSON round trip of the ` +
          `same event (${fixed(eventBytes / 1024, 1)} KiB). Of that, ${fixed(limitsMicros, 1)} µs is the final check against ` +
          `Datadog's limits (a walk of the whole ${fixed(logBytes / 1024, 1)} KiB log, which holds the original event, and one ` +
          'JSON.stringify for its size); the rest builds the log: subjects, sentence, tags, summaries.',
        `At ${fixed(mapMicros, 1)} µs per event one core maps about ${fixed(1e6 / mapMicros / 1000, 0)} thousand events per ` +
          'second; benchmark 1 shows how that compares with the rest of a page\'s cycle.',
      ],
      data: { microsecondsPerEventByRound: Object.fromEntries(rounds), checksum },
    };
  },
};

/** Demo events in the shape `events-stream` serves them, read the way the poll activity reads them. */
async function servedEvents(count: number): Promise<PolledEvent[]> {
  const standin = await AtlassianStandin.start();
  try {
    standin.addOrg('bench-map-org', { apiKeys: ['unused'] });
    const inputs = generateDemoEvents({ seed: 2026, orgId: 'bench-map', count, startTime: Date.now() - count * 1_000, spacingMs: 1_000 });
    return standin.addEvents('bench-map-org', inputs).map((raw) => {
      const event = atlassianEventSchema.parse(raw);
      return { kind: 'event', id: event.id, event };
    });
  } finally {
    await standin.close();
  }
}

function demoCatalogue() {
  return actionCatalogueFrom(
    eventActionsSchema.parse({
      data: demoEventActions.map(({ id, displayName, groupDisplayName }) => ({ id, type: 'event-actions', attributes: { displayName, groupDisplayName } })),
    })
  );
}

/** Sink for what the workloads return, read once at the end so the work stays observable. */
let checksum = 0;

/** Runs whole pages for at least `budgetMs`; returns the events handled and the time it took. */
function timedRound(workload: Workload, pageLengths: readonly number[], budgetMs: number): { events: number; ms: number } {
  const started = process.hrtime.bigint();
  const budgetNs = BigInt(Math.round(budgetMs * 1e6));
  let events = 0;
  let page = 0;
  while (process.hrtime.bigint() - started < budgetNs) {
    checksum += workload.handlePage(page);
    events += pageLengths[page]!;
    page = (page + 1) % pageLengths.length;
  }
  return { events, ms: Number(process.hrtime.bigint() - started) / 1e6 };
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let start = 0; start < items.length; start += size) chunks.push(items.slice(start, start + size));
  return chunks;
}
