/**
 * What the bench's workflow histories hold of the audit events: every run of every workflow of every benchmark's
 * server (continue-as-new chains included, the idle and backfilling orgs alike) is read back before the server
 * goes, each payload decoded as a reader of the namespace would (the codec where the org was started with one, then
 * the default payload converter: plain JSON otherwise), and searched for the content of the events the stand-in
 * served: actor names, emails and IDs, IP addresses, context and container values, message texts. The same search
 * over the first logs Datadog received is the control that shows it finds content where there is some.
 * Also the largest stored payload of each org, by its page size.
 */
import type { Client } from '@temporalio/client';
import { defaultPayloadConverter, type DataConverter, type PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { storedBytesOf, storedHistoryBytes } from '../harness/stored-history';
import type { BenchmarkOutcome } from './benchmark';
import type { EventContent } from './standin-protocol';

const { Payload } = temporal.api.common.v1;
type History = temporal.api.history.v1.IHistory;
type IPayload = temporal.api.common.v1.IPayload;

/** Histories read at a time: enough to read 200 orgs in seconds without crowding a busy server. */
const FETCH_CONCURRENCY = 8;
const HITS_KEPT = 20;

export interface ContentHit {
  needle: string;
  workflowId: string;
  runId: string;
  /** Where in the history, e.g. `events.12.activityTaskCompletedEventAttributes.result.payloads.0`. */
  path: string;
}

export interface LargestPayload {
  bytes: number;
  workflowId: string;
  path: string;
}

export interface HistoryContentScan {
  /** The benchmark whose server this was, and which of its servers. */
  benchmark: string;
  workflows: number;
  runs: number;
  historyEvents: number;
  historyBytes: number;
  payloads: number;
  undecodable: number;
  needles: number;
  seededEvents: number;
  eventBytes: number;
  controlFound: number;
  controlLogs: number;
  hits: number;
  firstHits: ContentHit[];
  /** Largest stored payload (serialized, as Temporal keeps it) per page size of the orgs. */
  largestByPageSize: Record<string, LargestPayload>;
}

const scans: HistoryContentScan[] = [];
let currentBenchmark = 'none';

/** main.ts names the benchmark running, so that each server's scan is filed under it. */
export function scanningFor(benchmark: string): void {
  currentBenchmark = benchmark;
}

export function recordedScans(): readonly HistoryContentScan[] {
  return scans;
}

/**
 * Reads every run of every workflow on the server behind `client` and searches it for `content`.
 * `converterOf` gives the data converter an org's workflow was started with (undefined: payloads in clear).
 */
export async function scanServerHistories(
  client: Client,
  content: EventContent,
  converterOf: (workflowId: string) => DataConverter | undefined
): Promise<HistoryContentScan> {
  const runs: Array<{ workflowId: string; runId: string }> = [];
  for await (const execution of client.workflow.list()) runs.push({ workflowId: execution.workflowId, runId: execution.runId });
  const scan: HistoryContentScan = {
    benchmark: currentBenchmark,
    workflows: new Set(runs.map((run) => run.workflowId)).size,
    runs: runs.length,
    historyEvents: 0,
    historyBytes: 0,
    payloads: 0,
    undecodable: 0,
    needles: content.needles.length,
    seededEvents: content.events,
    eventBytes: content.eventBytes,
    controlFound: content.foundInDelivered,
    controlLogs: content.deliveredSearched,
    hits: 0,
    firstHits: [],
    largestByPageSize: {},
  };
  const pageSizes = new Map<string, string>();
  let next = 0;
  const readNext = async (): Promise<void> => {
    while (next < runs.length) {
      const run = runs[next++]!;
      const history = await client.workflow.getHandle(run.workflowId, run.runId).fetchHistory();
      const codecs = converterOf(run.workflowId)?.payloadCodecs ?? [];
      const texts: Array<{ path: string; text: string }> = [];
      const payloads: Array<{ path: string; payload: IPayload }> = [];
      collect(history, '', texts, payloads);
      scan.historyEvents += history.events?.length ?? 0;
      scan.historyBytes += storedHistoryBytes(history);
      scan.payloads += payloads.length;
      const pageSize = pageSizes.get(run.workflowId) ?? (await pageSizeOf(history, codecs));
      pageSizes.set(run.workflowId, pageSize);
      for (const { path, payload } of payloads) {
        const stored = storedBytesOf(payload);
        const largest = scan.largestByPageSize[pageSize];
        if (!largest || stored > largest.bytes) scan.largestByPageSize[pageSize] = { bytes: stored, workflowId: run.workflowId, path };
        const decoded = await decodedText(payload, codecs);
        if (decoded === null) scan.undecodable += 1;
        texts.push({ path, text: decoded ?? Buffer.from(payload.data ?? []).toString('utf8') });
      }
      for (const { path, text } of texts) {
        for (const needle of content.needles) {
          if (!text.includes(needle)) continue;
          scan.hits += 1;
          if (scan.firstHits.length < HITS_KEPT) scan.firstHits.push({ needle, workflowId: run.workflowId, runId: run.runId, path });
        }
      }
    }
  };
  await Promise.all(Array.from({ length: FETCH_CONCURRENCY }, readNext));
  scans.push(scan);
  return scan;
}

/** The org's page size, from its run's start input; '–' for another workflow. */
async function pageSizeOf(history: History, codecs: readonly PayloadCodec[]): Promise<string> {
  const input = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
  if (!input) return '–';
  try {
    const value = defaultPayloadConverter.fromPayload<{ config?: { pageSize?: number } }>(await decode(input, codecs));
    return value?.config?.pageSize !== undefined ? String(value.config.pageSize) : '–';
  } catch {
    return '–';
  }
}

async function decode(payload: IPayload, codecs: readonly PayloadCodec[]): Promise<IPayload> {
  let decoded = [payload];
  for (const codec of [...codecs].reverse()) decoded = await codec.decode(decoded);
  return decoded[0]!;
}

/** A payload's value as text: every string in it, joined; null when it cannot be decoded. */
async function decodedText(payload: IPayload, codecs: readonly PayloadCodec[]): Promise<string | null> {
  try {
    const value: unknown = defaultPayloadConverter.fromPayload(await decode(payload, codecs));
    const strings: string[] = [];
    stringsOf(value, strings);
    return strings.join('\n');
  } catch {
    return null;
  }
}

function stringsOf(value: unknown, into: string[]): void {
  if (typeof value === 'string') into.push(value);
  else if (value instanceof Uint8Array) into.push(Buffer.from(value).toString('utf8'));
  else if (Array.isArray(value)) for (const item of value) stringsOf(item, into);
  else if (value !== null && typeof value === 'object') for (const [key, item] of Object.entries(value)) (into.push(key), stringsOf(item, into));
}

/** Splits a history into its payloads and its other text (failure messages, summaries, identities, names). */
function collect(node: unknown, path: string, texts: Array<{ path: string; text: string }>, payloads: Array<{ path: string; payload: IPayload }>): void {
  if (typeof node === 'string') {
    texts.push({ path, text: node });
    return;
  }
  if (node === null || typeof node !== 'object') return;
  if (node instanceof Uint8Array) {
    texts.push({ path, text: Buffer.from(node).toString('utf8') });
    return;
  }
  // @temporalio/proto messages name their Type in `$type` (see dev/harness/stored-history.ts).
  if ((node as { $type?: unknown }).$type === Payload) {
    payloads.push({ path, payload: node as IPayload });
    return;
  }
  for (const [key, child] of Object.entries(node)) collect(child, path === '' ? key : `${path}.${key}`, texts, payloads);
}

const LARGEST_PAYLOAD_TARGET_BYTES = 64 * 1024;
const PAGE_SIZES_WITH_PAYLOAD_TARGET = ['200', '500'];

/** The section main.ts prints after the benchmarks: one row per server the run used, and the run's targets. */
export function historyContentOutcome(all: readonly HistoryContentScan[]): BenchmarkOutcome {
  const kib = (value: number) => `${(value / 1024).toFixed(1)} KiB`;
  const largestAt = (pageSize: string) =>
    all.flatMap((scan) => (scan.largestByPageSize[pageSize] ? [{ ...scan.largestByPageSize[pageSize]!, benchmark: scan.benchmark }] : [])).sort((a, b) => b.bytes - a.bytes)[0];
  const eventBytes = (scan: HistoryContentScan) => (scan.seededEvents > 0 ? scan.eventBytes / scan.seededEvents : Number.NaN);
  const meanEventBytes = sumOf(all.map((scan) => scan.eventBytes)) / sumOf(all.map((scan) => scan.seededEvents));
  const hits = sumOf(all.map((scan) => scan.hits));
  const pageSizes = [...new Set(all.flatMap((scan) => Object.keys(scan.largestByPageSize)))].sort((a, b) => Number(a) - Number(b));
  return {
    settings: { servers: all.length, largestPayloadTarget: `${LARGEST_PAYLOAD_TARGET_BYTES / 1024} KiB` },
    tables: [
      {
        title: 'Every run of every workflow, per benchmark server, searched for the seeded events\' content (payloads decoded)',
        columns: ['benchmark', 'workflows', 'runs', 'history events', 'history bytes', 'payloads', 'undecodable', 'needles', 'found in history', 'control: found in Datadog\'s logs', 'largest payload by page size'],
        rows: all.map((scan) => [
          scan.benchmark,
          String(scan.workflows),
          String(scan.runs),
          String(scan.historyEvents),
          kib(scan.historyBytes),
          String(scan.payloads),
          String(scan.undecodable),
          String(scan.needles),
          String(scan.hits),
          `${scan.controlFound} of ${scan.needles} (first ${scan.controlLogs} logs)`,
          Object.entries(scan.largestByPageSize).map(([size, largest]) => `${size}: ${kib(largest.bytes)}`).join(', '),
        ]),
      },
      ...(hits > 0
        ? [{ title: 'First hits', columns: ['needle', 'workflow', 'where'], rows: all.flatMap((scan) => scan.firstHits.map((hit) => [hit.needle, hit.workflowId, hit.path])) }]
        : []),
    ],
    targets: [
      {
        target: 'No audit event content (actor names, emails, IDs, IPs, context values, messages) in any history',
        measured: `${hits} hits over ${sumOf(all.map((scan) => scan.runs))} runs of ${sumOf(all.map((scan) => scan.workflows))} workflows`,
        met: hits === 0 && all.length > 0,
        reason:
          `baseline: the same search finds ${sumOf(all.map((scan) => scan.controlFound))} needle hits in the first logs Datadog received on ` +
          `these servers; ${sumOf(all.map((scan) => scan.undecodable))} payloads could not be decoded and were searched as raw bytes`,
      },
      ...PAGE_SIZES_WITH_PAYLOAD_TARGET.map((pageSize) => {
        const largest = largestAt(pageSize);
        return {
          target: `Largest payload in any history ≤ ${LARGEST_PAYLOAD_TARGET_BYTES / 1024} KiB at page size ${pageSize}`,
          measured: largest ? kib(largest.bytes) : 'no org ran at this page size',
          met: largest !== undefined && largest.bytes <= LARGEST_PAYLOAD_TARGET_BYTES,
          reason: largest
            ? `${largest.path.replace(/^events\.\d+\./, '')} of ${largest.workflowId} (${largest.benchmark}); baseline: one page of ${pageSize} ` +
              `events as Atlassian serves them is ${kib(Number(pageSize) * meanEventBytes)} (${meanEventBytes.toFixed(0)} bytes per event)`
            : 'not measured',
        };
      }),
    ],
    findings: [
      `Page sizes seen: ${pageSizes.join(', ')}. Seeded events average ${all.map((scan) => eventBytes(scan).toFixed(0)).join(' / ')} bytes per server.`,
    ],
    data: all,
  };
}

function sumOf(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0);
}
