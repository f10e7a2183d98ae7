/**
 * STAND-IN for the Datadog Logs intake (`POST /api/v2/logs`), for tests and the demo. It follows
 * reference/datadog-logs.md §1 and §5; where Datadog's documentation is silent the choice made here is written next
 * to the code and marked "Choice:".
 *
 * Like the real intake, 202 means "accepted for processing", not "kept": a log whose official time lies outside
 * Datadog's window (18 h past, 2 h future) is answered 202 and then dropped, and a log over 1 MB is kept but counted
 * as truncated. That makes both of Datadog's silent behaviours observable in tests. Accepted logs can be appended to
 * an NDJSON file so the demo can show what "arrived in Datadog". Told which logs are malformed, it refuses them with
 * 400 every time, as the real intake does, so that what a client does with such a log can be tested.
 */
import { appendFile, mkdir } from 'node:fs/promises';
import { STATUS_CODES } from 'node:http';
import path from 'node:path';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { z } from 'zod';
import { jsonReply, listenStandin, type HttpOutcome, type StandinHttpRequest, type StandinHttpServer } from './standin-http-server';

export const DATADOG_INTAKE_LIMITS = {
  /** Uncompressed request body; 413 above. */
  maxPayloadBytes: 5_000_000,
  maxEntriesPerRequest: 1000,
  /** A single log above this is accepted but truncated. */
  maxLogBytes: 1_000_000,
  maxAgeMs: 18 * 3_600_000,
  maxFutureMs: 2 * 3_600_000,
} as const;

export const datadogFaultSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('status'),
    status: z.literal([500, 503, 408, 429, 413, 400, 401, 403]),
    /** Sent as `Retry-After` when given. */
    retryAfterSeconds: z.number().int().min(0).optional(),
  }),
  z.object({ kind: z.literal('reset') }),
  z.object({ kind: z.literal('hang'), ms: z.number().int().min(0) }),
]);
export type DatadogFault = z.infer<typeof datadogFaultSchema>;

/** A log as the stand-in parsed it from the request; the stand-in does not judge its attributes. */
export type ReceivedLog = Record<string, unknown>;

export interface DatadogStandinRequest {
  /** null when a fault reset the connection or left it hanging. */
  status: number | null;
  /** Logs in the body, or null when the body was not read as logs (auth failure, fault, bad payload). */
  entries: number | null;
  /** Bytes on the wire (compressed size when compressed). */
  bytes: number;
  /** Stand-in clock, epoch ms. */
  at: number;
}

export interface DatadogStandinOptions {
  /** Keys accepted in `DD-API-KEY`. */
  apiKeys: string[];
  /**
   * TCP port on 127.0.0.1.
   * @default 0 (a free port)
   */
  port?: number;
  /**
   * Each accepted (not dropped) log is appended here as one JSON line.
   * @default undefined (nothing is written)
   */
  ndjsonPath?: string;
  /**
   * Clock for the time window and the request log.
   * @default Date.now
   */
  now?: () => number;
  /**
   * Logs refused as malformed; see `MalformedLogs`.
   * @default undefined (no log is refused for what it holds)
   */
  malformedLogs?: MalformedLogs;
}

/**
 * Which logs the stand-in refuses with 400, as the real intake refuses a malformed log: a list of
 * `atlassian.event_id`s, or a predicate on the whole log. One such log refuses the whole request.
 *
 * Choice: the list stands for "the log of this event is malformed", so it does not catch the dead-letter stub the
 * ship activity sends in that log's place (a different log, marked by `atlassian.dead_letter`). A re-sent original
 * is caught until its ID leaves the list, as a log stays malformed until someone repairs it. A predicate sees every
 * log, stubs included.
 */
export type MalformedLogs = readonly string[] | ((log: ReceivedLog) => boolean);

export interface DatadogStandinStats {
  received: number;
  dropped: number;
  truncated: number;
  requests: number;
  requestsByStatus: Record<string, number>;
}

const gunzip = promisify(zlib.gunzip);
const inflate = promisify(zlib.inflate);

const controlFaultBodySchema = z.object({ fault: datadogFaultSchema, times: z.number().int().min(1).default(1) });
const controlOutageBodySchema = z.object({ fault: datadogFaultSchema, durationMs: z.number().int().min(1) });
const controlKeysBodySchema = z.object({ apiKeys: z.array(z.string().min(1)).min(1) });
const controlMalformedBodySchema = z.object({ eventIds: z.array(z.string().min(1)) });

export class DatadogStandin {
  /** The full intake URL, `http://127.0.0.1:<port>/api/v2/logs`. */
  readonly url: string;
  /** `http://127.0.0.1:<port>`, where the `/_standin/` control endpoints live. */
  readonly origin: string;
  readonly requests: DatadogStandinRequest[] = [];

  private readonly receivedLogs: ReceivedLog[] = [];
  private readonly droppedLogs: ReceivedLog[] = [];
  private truncated = 0;
  private apiKeys: Set<string>;
  private readonly faults: { fault: DatadogFault; remaining: number }[] = [];
  private outage: { fault: DatadogFault; until: number } | undefined;
  private isMalformed: (log: ReceivedLog) => boolean = () => false;
  private readonly now: () => number;
  /** NDJSON appends are chained so concurrent requests never interleave their lines. */
  private ndjsonQueue: Promise<void> = Promise.resolve();

  private constructor(
    private readonly options: DatadogStandinOptions,
    private readonly server: StandinHttpServer
  ) {
    this.origin = server.origin;
    this.url = `${server.origin}/api/v2/logs`;
    this.now = options.now ?? Date.now;
    this.apiKeys = new Set(options.apiKeys);
    this.setMalformedLogs(options.malformedLogs);
  }

  static async start(options: DatadogStandinOptions): Promise<DatadogStandin> {
    if (options.ndjsonPath) await mkdir(path.dirname(options.ndjsonPath), { recursive: true });
    return listenStandin(
      (server) => new DatadogStandin(options, server),
      (standin, request) => standin.handle(request),
      { port: options.port }
    );
  }

  async close(): Promise<void> {
    await this.server.close();
    await this.ndjsonQueue;
  }

  /** Accepted logs in arrival order (truncated ones included, dropped ones not). */
  get received(): readonly ReceivedLog[] {
    return this.receivedLogs;
  }

  /** Logs answered 202 but discarded because their official time was outside Datadog's window. */
  get dropped(): readonly ReceivedLog[] {
    return this.droppedLogs;
  }

  /** Like Datadog's `truncated_count`: accepted logs larger than 1 MB. */
  get truncatedCount(): number {
    return this.truncated;
  }

  /** `atlassian.event_id` of every received log, in arrival order (repeats kept, so duplicates can be counted). */
  receivedEventIds(): string[] {
    return this.receivedLogs.flatMap((log) => {
      const eventId = eventIdOf(log);
      return eventId === undefined ? [] : [eventId];
    });
  }

  /** Replaces the accepted keys: a key no longer listed gets 403 from the next request on. */
  setApiKeys(apiKeys: string[]): void {
    this.apiKeys = new Set(apiKeys);
  }

  /** Replaces which logs are refused as malformed, from the next request on; undefined refuses none. */
  setMalformedLogs(malformed: MalformedLogs | undefined): void {
    if (typeof malformed === 'function') {
      this.isMalformed = malformed;
      return;
    }
    const eventIds = new Set(malformed ?? []);
    this.isMalformed = (log) => {
      const eventId = eventIdOf(log);
      const atlassian = log['atlassian'];
      const isStub = isPlainObject(atlassian) && atlassian['dead_letter'] !== undefined;
      return eventId !== undefined && eventIds.has(eventId) && !isStub;
    };
  }

  /** Queues a fault for the next `times` intake requests, first in first out. */
  injectFault(fault: DatadogFault, times = 1): void {
    this.faults.push({ fault: datadogFaultSchema.parse(fault), remaining: times });
  }

  /**
   * An outage: every intake request gets `fault` until the stand-in's clock reaches `until` (epoch ms), however
   * many there are; queued faults wait until it is over. A later call replaces the outage; `until` in the past ends it.
   */
  startOutage(fault: DatadogFault, until: number): void {
    this.outage = { fault: datadogFaultSchema.parse(fault), until };
  }

  /** Resolves once `predicate(received)` holds, checking every 20 ms of real time; rejects after `timeoutMs`. */
  async waitFor(predicate: (received: readonly ReceivedLog[]) => boolean, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this.receivedLogs)) {
      if (Date.now() >= deadline) {
        const received = this.receivedLogs.length;
        throw new Error(`DatadogStandin.waitFor: condition not met within ${timeoutMs} ms (${received} logs received)`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  stats(): DatadogStandinStats {
    const requestsByStatus: Record<string, number> = {};
    for (const { status } of this.requests) {
      const key = status === null ? 'none' : String(status);
      requestsByStatus[key] = (requestsByStatus[key] ?? 0) + 1;
    }
    return {
      received: this.receivedLogs.length,
      dropped: this.droppedLogs.length,
      truncated: this.truncated,
      requests: this.requests.length,
      requestsByStatus,
    };
  }

  private async handle(request: StandinHttpRequest): Promise<HttpOutcome> {
    if (request.url.pathname.startsWith('/_standin/')) return this.handleControl(request);
    if (request.url.pathname !== '/api/v2/logs') return intakeError(404);
    if (request.method !== 'POST') return intakeError(405);
    const { outcome, entries } = await this.intake(request);
    this.requests.push({
      status: outcome.kind === 'reply' ? outcome.status : null,
      entries,
      bytes: request.bodyBytes,
      at: this.now(),
    });
    return outcome;
  }

  private async intake(request: StandinHttpRequest): Promise<{ outcome: HttpOutcome; entries: number | null }> {
    const refused = (outcome: HttpOutcome) => ({ outcome, entries: null });
    const fault = this.takeFault();
    if (fault) return refused(faultOutcome(fault));

    const apiKey = request.headers['dd-api-key'];
    if (typeof apiKey !== 'string' || apiKey === '') return refused(intakeError(401, 'API key is missing'));
    if (!this.apiKeys.has(apiKey)) return refused(intakeError(403, 'Forbidden: invalid API key'));

    const decoded = await decodeBody(request);
    if ('error' in decoded) return refused(decoded.error);

    let payload: unknown;
    try {
      payload = JSON.parse(decoded.body.toString('utf8'));
    } catch {
      return refused(intakeError(400, 'body is not valid JSON'));
    }
    // Datadog takes one object as a single log, and an array as a batch.
    const logs = Array.isArray(payload) ? (payload as unknown[]) : isPlainObject(payload) ? [payload] : undefined;
    if (!logs) return refused(intakeError(400, 'body must be a JSON array of logs or a single log object'));
    // Choice: over 1000 entries the whole request is refused (400) rather than partly kept, so a client that
    // does not split its batches fails loudly.
    if (logs.length > DATADOG_INTAKE_LIMITS.maxEntriesPerRequest) {
      const detail = `more than ${DATADOG_INTAKE_LIMITS.maxEntriesPerRequest} logs in one request`;
      return { outcome: intakeError(400, detail), entries: logs.length };
    }
    // Choice: a non-object element (a bare string or number) is refused with 400; logs here are JSON objects.
    if (!logs.every(isPlainObject)) {
      return { outcome: intakeError(400, 'every log must be a JSON object'), entries: logs.length };
    }

    const malformed = logs.find((log) => this.isMalformed(log));
    if (malformed) {
      // Choice: the detail names the event, as a client's operator would need; Datadog's own wording is not documented.
      const eventId = eventIdOf(malformed);
      const detail = eventId === undefined ? 'malformed log' : `malformed log of event ${eventId}`;
      return { outcome: intakeError(400, detail), entries: logs.length };
    }

    const receivedAt = this.now();
    const accepted: ReceivedLog[] = [];
    for (const log of logs) {
      const age = receivedAt - officialTime(log, receivedAt);
      if (age > DATADOG_INTAKE_LIMITS.maxAgeMs || -age > DATADOG_INTAKE_LIMITS.maxFutureMs) {
        this.droppedLogs.push(log);
        continue;
      }
      if (Buffer.byteLength(JSON.stringify(log)) > DATADOG_INTAKE_LIMITS.maxLogBytes) this.truncated += 1;
      accepted.push(log);
    }
    await this.appendNdjson(accepted);
    this.receivedLogs.push(...accepted);
    return { outcome: jsonReply(202, {}), entries: logs.length };
  }

  private async appendNdjson(logs: readonly ReceivedLog[]): Promise<void> {
    const { ndjsonPath } = this.options;
    if (!ndjsonPath || logs.length === 0) return;
    const lines = logs.map((log) => `${JSON.stringify(log)}\n`).join('');
    const write = this.ndjsonQueue.then(() => appendFile(ndjsonPath, lines, 'utf8'));
    // A failed write fails this request (500 from the server) but must not block the writes after it.
    this.ndjsonQueue = write.catch(() => undefined);
    await write;
  }

  private takeFault(): DatadogFault | undefined {
    if (this.outage) {
      if (this.now() < this.outage.until) return this.outage.fault;
      this.outage = undefined;
    }
    const queued = this.faults[0];
    if (!queued) return undefined;
    queued.remaining -= 1;
    if (queued.remaining <= 0) this.faults.shift();
    return queued.fault;
  }

  private async handleControl(request: StandinHttpRequest): Promise<HttpOutcome> {
    const { pathname } = request.url;
    if (request.method === 'GET' && pathname === '/_standin/stats') return jsonReply(200, this.stats());
    if (request.method === 'GET' && pathname === '/_standin/logs') return jsonReply(200, { data: this.receivedLogs });
    const posts = ['/_standin/faults', '/_standin/outage', '/_standin/keys', '/_standin/malformed'];
    if (request.method === 'POST' && posts.includes(pathname)) {
      try {
        const body: unknown = JSON.parse(request.body.toString('utf8'));
        if (pathname === '/_standin/faults') {
          const { fault, times } = controlFaultBodySchema.parse(body);
          this.injectFault(fault, times);
          return jsonReply(200, { queued: times });
        }
        if (pathname === '/_standin/outage') {
          const { fault, durationMs } = controlOutageBodySchema.parse(body);
          const until = this.now() + durationMs;
          this.startOutage(fault, until);
          return jsonReply(200, { until: new Date(until).toISOString() });
        }
        if (pathname === '/_standin/malformed') {
          const { eventIds } = controlMalformedBodySchema.parse(body);
          this.setMalformedLogs(eventIds);
          return jsonReply(200, { eventIds: eventIds.length });
        }
        const { apiKeys } = controlKeysBodySchema.parse(body);
        this.setApiKeys(apiKeys);
        return jsonReply(200, { apiKeys: apiKeys.length });
      } catch (error) {
        const detail = error instanceof z.ZodError ? z.prettifyError(error) : 'body must be JSON';
        return jsonReply(400, { error: detail });
      }
    }
    return jsonReply(404, { error: `no control endpoint ${request.method} ${pathname}` });
  }
}

/** Decompresses per `Content-Encoding` and enforces the 5 MB uncompressed limit without inflating past it. */
async function decodeBody(request: StandinHttpRequest): Promise<{ body: Buffer } | { error: HttpOutcome }> {
  const tooLarge = {
    error: intakeError(413, `payload over ${DATADOG_INTAKE_LIMITS.maxPayloadBytes} bytes uncompressed`),
  };
  if (request.bodyTooLarge) return tooLarge;
  const encoding = (request.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  // One byte over the limit is enough to know the payload is too large; a zip bomb never inflates further.
  const inflateOptions = { maxOutputLength: DATADOG_INTAKE_LIMITS.maxPayloadBytes + 1 };
  let body: Buffer;
  try {
    switch (encoding) {
      case 'identity':
        body = request.body;
        break;
      case 'gzip':
        body = await gunzip(request.body, inflateOptions);
        break;
      // HTTP's `deflate` is the zlib format (RFC 9110 §8.4.1.2), not a raw deflate stream.
      case 'deflate':
        body = await inflate(request.body, inflateOptions);
        break;
      default:
        return { error: intakeError(400, `unsupported Content-Encoding ${encoding}`) };
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') return tooLarge;
    return { error: intakeError(400, `body is not valid ${encoding} data`) };
  }
  return body.length > DATADOG_INTAKE_LIMITS.maxPayloadBytes ? tooLarge : { body };
}

/** Datadog's official time: `timestamp` as epoch ms or ISO-8601; without a usable one, the time of receipt. */
function officialTime(log: ReceivedLog, receivedAt: number): number {
  const timestamp = log['timestamp'];
  if (typeof timestamp === 'number' && Number.isFinite(timestamp)) return timestamp;
  if (typeof timestamp === 'string') {
    const parsed = Date.parse(timestamp);
    if (!Number.isNaN(parsed)) return parsed;
  }
  return receivedAt;
}

function faultOutcome(fault: DatadogFault): HttpOutcome {
  switch (fault.kind) {
    case 'status': {
      const headers: Record<string, string> =
        fault.retryAfterSeconds === undefined ? {} : { 'retry-after': String(fault.retryAfterSeconds) };
      return intakeError(fault.status, 'injected fault', headers);
    }
    case 'reset':
      return { kind: 'reset' };
    case 'hang':
      return { kind: 'hang', ms: fault.ms };
  }
}

/** Error body in the shape of the v2 API's `HTTPLogErrors`. */
function intakeError(status: number, detail?: string, headers: Record<string, string> = {}): HttpOutcome {
  const error = { status: String(status), title: STATUS_CODES[status] ?? 'Error', ...(detail ? { detail } : {}) };
  return jsonReply(status, { errors: [error] }, headers);
}

function eventIdOf(log: ReceivedLog): string | undefined {
  const atlassian = log['atlassian'];
  const eventId = isPlainObject(atlassian) ? atlassian['event_id'] : undefined;
  return typeof eventId === 'string' ? eventId : undefined;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
