/**
 * STAND-IN for the Datadog Logs intake (`POST /api/v2/logs`), for tests and the demo. It follows
 * reference/datadog-logs.md §1 and §5; where Datadog's documentation is silent the choice made here is written next
 * to the code and marked "Choice:".
 *
 * It also answers the two Logs query APIs over what it received (`POST /api/v2/logs/events/search`, paged with its
 * cursor, and `POST /api/v2/logs/analytics/aggregate`, counts and cardinalities by time or by a numeric histogram),
 * with the API key and an application key, and the `X-RateLimit-*` headers and 429 of Datadog's query rate limits
 * when told a limit. Their query language is a subset of Datadog's (see `parseLogQuery`); anything outside it is
 * refused with 400, so a client that relies on more fails loudly here rather than passing by luck. Tests and the demo
 * delete received logs (`deleteReceived`, `POST /_standin/delete`) to stand for logs Datadog lost on its side.
 *
 * Like the real intake, 202 means "accepted for processing", not "kept": a log whose official time lies outside
 * Datadog's window (18 h past, 2 h future) is answered 202 and then dropped, and a log over 1 MB is kept but counted
 * as truncated. That makes both of Datadog's silent behaviours observable in tests. Accepted logs can be appended to
 * an NDJSON file so the demo can show what "arrived in Datadog". Told which logs are malformed, it refuses them with
 * 400 every time, as the real intake does, so that what a client does with such a log can be tested.
 */
import { createHash } from 'node:crypto';
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

/**
 * The one index of the stand-in, named as Datadog's default index. Choice: every accepted log lands in it, so a
 * search of any other index finds nothing, as a search of the wrong index does in an account.
 */
export const DATADOG_STANDIN_INDEX = 'main';

/**
 * Page sizes of `POST /api/v2/logs/events/search`: 10 when not asked. Choice: at most 1000, refused above with 400, as
 * an open-source client of the API reports Datadog doing (not in Datadog's reference).
 */
export const DATADOG_SEARCH_PAGE_LIMIT = { default: 10, max: 1000 } as const;

/** Datadog's rate limit of the query APIs: `limit` requests per calendar-aligned period of `periodSeconds`. */
export interface DatadogQueryRateLimit {
  limit: number;
  periodSeconds: number;
}

/** One request to the query APIs, as answered. */
export interface DatadogStandinQuery {
  api: 'search' | 'aggregate';
  /** As in `requests`; no fault stands in front of the query APIs, so they always answer. */
  status: number | null;
  /** Stand-in clock, epoch ms. */
  at: number;
}

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
  /**
   * Keys accepted in `DD-APPLICATION-KEY` by the query APIs, which also need an accepted `DD-API-KEY`; the intake
   * needs none.
   * @default [] (every query is refused)
   */
  applicationKeys?: string[];
  /**
   * Rate limit of the two query APIs together; its `X-RateLimit-*` headers go with every query answer.
   * @default undefined (no limit, no headers)
   */
  queryRateLimit?: DatadogQueryRateLimit;
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
const controlDeleteBodySchema = z.object({ eventIds: z.array(z.string().min(1)).min(1) });

/**
 * A time of a query's `filter`: ISO-8601, epoch ms (a number or digits), `now`, or `now-<n><s|m|h|d>`, the forms
 * Datadog's documentation shows.
 */
const queryTimeSchema = z.union([z.number().int(), z.string().min(1)]);
const queryFilterSchema = z
  .object({
    query: z.string().default('*'),
    from: queryTimeSchema.default('now-15m'),
    to: queryTimeSchema.default('now'),
    indexes: z.array(z.string().min(1)).min(1).default(['*']),
  })
  .prefault({});
const searchBodySchema = z.object({
  filter: queryFilterSchema,
  page: z
    .object({
      limit: z.number().int().min(1).max(DATADOG_SEARCH_PAGE_LIMIT.max).default(DATADOG_SEARCH_PAGE_LIMIT.default),
      cursor: z.string().min(1).optional(),
    })
    .prefault({}),
  sort: z.enum(['timestamp', '-timestamp']).default('-timestamp'),
});
/** `interval` of a timeseries compute: `30s`, `5m`, `1h`, `1d`. */
const INTERVAL = /^(\d+)(s|m|h|d)$/;
const computeSchema = z
  .object({
    aggregation: z.enum(['count', 'cardinality']),
    metric: z.string().regex(/^@[\w.-]+$/).optional(),
    type: z.enum(['total', 'timeseries']).default('total'),
    interval: z.string().regex(INTERVAL).optional(),
  })
  .refine((compute) => compute.aggregation !== 'cardinality' || compute.metric !== undefined, {
    error: 'a cardinality needs a metric (an @attribute)',
  })
  .refine((compute) => compute.type !== 'timeseries' || compute.interval !== undefined, {
    error: 'a timeseries needs an interval such as 1h',
  });
const aggregateBodySchema = z.object({
  compute: z.array(computeSchema).min(1).max(10).default([{ aggregation: 'count', type: 'total' }]),
  filter: queryFilterSchema,
  // Choice: only histogram groups (numeric facets) are answered; a terms group is refused rather than faked.
  group_by: z
    .array(
      z.object({
        facet: z.string().regex(/^@[\w.-]+$/),
        histogram: z.object({ interval: z.number().positive(), min: z.number(), max: z.number() }),
      })
    )
    .max(1)
    .optional(),
});
/** The search cursor: where the next page starts, and which search it belongs to. */
const searchCursorSchema = z.object({ offset: z.number().int().min(0), search: z.string() });

/** Fields of a log that Datadog keeps as reserved attributes rather than under `attributes`. */
const RESERVED_LOG_FIELDS = new Set(['ddsource', 'ddtags', 'hostname', 'service', 'status', 'message', 'timestamp']);

/** What the stand-in knows of an accepted log beyond its body: its Datadog ID and its official time. */
interface LogRecord {
  readonly id: string;
  readonly time: number;
}

export class DatadogStandin {
  /** The full intake URL, `http://127.0.0.1:<port>/api/v2/logs`. */
  readonly url: string;
  /** `http://127.0.0.1:<port>`, where the `/_standin/` control endpoints live. */
  readonly origin: string;
  readonly requests: DatadogStandinRequest[] = [];
  /** Every request to the query APIs, in arrival order. */
  readonly queries: DatadogStandinQuery[] = [];

  private readonly receivedLogs: ReceivedLog[] = [];
  private readonly records = new WeakMap<ReceivedLog, LogRecord>();
  private nextLogNumber = 1;
  private applicationKeys: Set<string>;
  private queryWindow = { start: 0, used: 0 };
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
    this.applicationKeys = new Set(options.applicationKeys ?? []);
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

  /** Replaces the application keys the query APIs accept, from the next request on. */
  setApplicationKeys(applicationKeys: string[]): void {
    this.applicationKeys = new Set(applicationKeys);
  }

  /**
   * Removes the received logs `predicate` holds for, as if Datadog had lost them (retention, an exclusion filter):
   * the query APIs no longer find them. Choice: the NDJSON file keeps them, being the record of what arrived.
   * @returns how many were removed
   */
  deleteReceived(predicate: (log: ReceivedLog) => boolean): number {
    const kept = this.receivedLogs.filter((log) => !predicate(log));
    const deleted = this.receivedLogs.length - kept.length;
    this.receivedLogs.splice(0, this.receivedLogs.length, ...kept);
    return deleted;
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
    const queryApi = QUERY_APIS[request.url.pathname];
    if (queryApi) {
      if (request.method !== 'POST') return intakeError(405);
      const outcome = this.query(queryApi, request);
      this.queries.push({ api: queryApi, status: outcome.kind === 'reply' ? outcome.status : null, at: this.now() });
      return outcome;
    }
    if (request.url.pathname === '/api/v1/validate') {
      // `GET /api/v1/validate` (reference datadog-logs.md): whether the API key is one the stand-in accepts.
      if (request.method !== 'GET') return intakeError(405);
      const apiKey = request.headers['dd-api-key'];
      return typeof apiKey === 'string' && this.apiKeys.has(apiKey) ? jsonReply(200, { valid: true }) : queryError(403, 'Forbidden');
    }
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
    for (const log of accepted) {
      // Datadog's log IDs are opaque; these only need to be unique and stable.
      this.records.set(log, { id: `AQAAAZ${String(this.nextLogNumber++).padStart(12, '0')}`, time: officialTime(log, receivedAt) });
    }
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

  /** A request to one of the query APIs: keys first, then the rate limit, then the body. */
  private query(api: QueryApi, request: StandinHttpRequest): HttpOutcome {
    const apiKey = request.headers['dd-api-key'];
    const applicationKey = request.headers['dd-application-key'];
    // Choice: 403 for a missing key as for a wrong one, as Datadog's v2 APIs answer both.
    if (typeof apiKey !== 'string' || !this.apiKeys.has(apiKey)) return queryError(403, 'Forbidden');
    if (typeof applicationKey !== 'string' || !this.applicationKeys.has(applicationKey)) return queryError(403, 'Forbidden');
    const { headers, exceeded } = this.countQueryRequest();
    if (exceeded) return queryError(429, 'Too many requests', headers);

    let body: unknown;
    try {
      body = request.body.length === 0 ? {} : JSON.parse(request.body.toString('utf8'));
    } catch {
      return queryError(400, 'body is not valid JSON', headers);
    }
    try {
      const answer = api === 'search' ? this.search(body) : this.aggregate(body);
      return jsonReply(200, answer, headers);
    } catch (error) {
      if (error instanceof z.ZodError) return queryError(400, z.prettifyError(error).replace(/\s*\n\s*/g, ' '), headers);
      if (error instanceof LogQueryError) return queryError(400, error.message, headers);
      throw error;
    }
  }

  /** Counts a query request against the rate limit's current period; the headers describe the period after it. */
  private countQueryRequest(): { headers: Record<string, string>; exceeded: boolean } {
    const limit = this.options.queryRateLimit;
    if (!limit) return { headers: {}, exceeded: false };
    const periodMs = limit.periodSeconds * 1000;
    const now = this.now();
    const start = Math.floor(now / periodMs) * periodMs;
    if (this.queryWindow.start !== start) this.queryWindow = { start, used: 0 };
    this.queryWindow.used += 1;
    const headers = {
      'x-ratelimit-limit': String(limit.limit),
      'x-ratelimit-period': String(limit.periodSeconds),
      'x-ratelimit-remaining': String(Math.max(0, limit.limit - this.queryWindow.used)),
      // Datadog's reset is the number of seconds until the period ends (reference: API rate limits).
      'x-ratelimit-reset': String(Math.max(1, Math.ceil((start + periodMs - now) / 1000))),
      'x-ratelimit-name': 'logs_query',
    };
    return { headers, exceeded: this.queryWindow.used > limit.limit };
  }

  /** The received logs a query's `filter` selects, in time order (arrival order among equal times). */
  private selected(filter: z.output<typeof queryFilterSchema>): { log: ReceivedLog; record: LogRecord }[] {
    const now = this.now();
    const from = parseQueryTime(filter.from, now, 'from');
    const to = parseQueryTime(filter.to, now, 'to');
    const matches = parseLogQuery(filter.query);
    const searchesStandinIndex = filter.indexes.some((index) => index === '*' || index === DATADOG_STANDIN_INDEX);
    if (!searchesStandinIndex) return [];
    return this.receivedLogs
      .map((log) => ({ log, record: this.records.get(log)! }))
      .filter(({ log, record }) => record.time >= from && record.time < to && matches(log))
      .sort((a, b) => a.record.time - b.record.time);
  }

  private search(raw: unknown): unknown {
    const body = searchBodySchema.parse(raw);
    // A cursor belongs to one search: the same filter and sort.
    const search = createHash('sha256').update(JSON.stringify([body.filter, body.sort])).digest('hex').slice(0, 16);
    let offset = 0;
    if (body.page.cursor !== undefined) {
      const cursor = decodeSearchCursor(body.page.cursor);
      if (cursor?.search !== search) throw new LogQueryError('page.cursor does not belong to this search');
      offset = cursor.offset;
    }
    const hits = this.selected(body.filter);
    if (body.sort === '-timestamp') hits.reverse();
    const page = hits.slice(offset, offset + body.page.limit);
    const next = offset + page.length < hits.length ? encodeSearchCursor({ offset: offset + page.length, search }) : undefined;
    return {
      data: page.map(({ log, record }) => searchHit(log, record)),
      meta: { status: 'done', elapsed: 0, ...(next && { page: { after: next } }) },
      links: next ? { next: `${this.origin}/api/v2/logs/events?page[cursor]=${next}` } : {},
    };
  }

  private aggregate(raw: unknown): unknown {
    const body = aggregateBodySchema.parse(raw);
    const selected = this.selected(body.filter);
    const groupBy = body.group_by?.[0];
    const groups = new Map<number | undefined, typeof selected>();
    if (groupBy === undefined) {
      groups.set(undefined, selected);
    } else {
      const { interval, min, max } = groupBy.histogram;
      for (const hit of selected) {
        const value = attributeAt(hit.log, groupBy.facet.slice(1));
        if (typeof value !== 'number' || value < min || value > max) continue;
        const key = min + Math.floor((value - min) / interval) * interval;
        groups.set(key, [...(groups.get(key) ?? []), hit]);
      }
    }
    const buckets = [...groups.entries()]
      .sort(([a], [b]) => (a ?? 0) - (b ?? 0))
      .map(([key, hits]) => ({
        by: groupBy === undefined ? {} : { [groupBy.facet]: key },
        computes: Object.fromEntries(body.compute.map((compute, index) => [`c${index}`, computeOver(compute, hits)])),
      }));
    return { data: { buckets }, meta: { status: 'done', elapsed: 0 } };
  }

  private async handleControl(request: StandinHttpRequest): Promise<HttpOutcome> {
    const { pathname } = request.url;
    if (request.method === 'GET' && pathname === '/_standin/stats') return jsonReply(200, this.stats());
    if (request.method === 'GET' && pathname === '/_standin/logs') return jsonReply(200, { data: this.receivedLogs });
    const posts = ['/_standin/faults', '/_standin/outage', '/_standin/keys', '/_standin/malformed', '/_standin/delete'];
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
        if (pathname === '/_standin/delete') {
          const eventIds = new Set(controlDeleteBodySchema.parse(body).eventIds);
          const deleted = this.deleteReceived((log) => eventIds.has(eventIdOf(log) ?? ''));
          return jsonReply(200, { deleted });
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

type QueryApi = 'search' | 'aggregate';
const QUERY_APIS: Partial<Record<string, QueryApi>> = {
  '/api/v2/logs/events/search': 'search',
  '/api/v2/logs/analytics/aggregate': 'aggregate',
};

/** A query the stand-in cannot answer: outside its subset of the search syntax, or a bad time or cursor. */
export class LogQueryError extends Error {
  override readonly name = 'LogQueryError';
}

type LogPredicate = (log: ReceivedLog) => boolean;

/** One term: `[-][@]key:value`, the value a `[low TO high]` range, or a word standing alone (refused). */
const QUERY_TERM = /(-?)(@?)([\w.-]+):(\[[^\]]*\]|\S+)|(\S+)/g;
const RANGE_VALUE = /^\[\s*(\S+)\s+TO\s+(\S+)\s*\]$/;

/**
 * The subset of Datadog's log search syntax the stand-in answers: terms separated by spaces, every one of which must
 * hold (Datadog's implicit AND); `-` before a term negates it; `*` alone matches every log.
 * - `source:`, `service:`, `status:`, `host:` match those reserved attributes; any other `key:value` matches a tag
 *   of `ddtags` (case-insensitive, as Datadog lowercases tags); the value `*` matches any value of the key.
 * - `@path:value` matches an attribute by its dotted path, `@path:*` any value, and `@path:[low TO high]` a number
 *   within the bounds, both included (`*` leaves a bound open).
 * Choice: free text, OR, parentheses and wildcards inside values are refused (LogQueryError) rather than guessed.
 */
export function parseLogQuery(query: string): LogPredicate {
  const predicates: LogPredicate[] = [];
  for (const match of query.matchAll(QUERY_TERM)) {
    const [, negated, attribute, key, value, word] = match;
    if (word !== undefined) {
      if (word === '*') continue;
      throw new LogQueryError(`the stand-in answers key:value terms only, not "${word.slice(0, 40)}"`);
    }
    const predicate = attribute ? attributeTerm(key!, value!) : tagTerm(key!, value!);
    predicates.push(negated ? (log) => !predicate(log) : predicate);
  }
  return (log) => predicates.every((predicate) => predicate(log));
}

const RESERVED_TAG_KEYS: Record<string, string> = { source: 'ddsource', service: 'service', status: 'status', host: 'hostname' };

function tagTerm(key: string, value: string): LogPredicate {
  const wanted = value.toLowerCase();
  const reserved = RESERVED_TAG_KEYS[key.toLowerCase()];
  if (reserved !== undefined) {
    return (log) => typeof log[reserved] === 'string' && (wanted === '*' || (log[reserved] as string).toLowerCase() === wanted);
  }
  const prefix = `${key.toLowerCase()}:`;
  return (log) => tagsOf(log).some((tag) => tag.startsWith(prefix) && (wanted === '*' || tag === `${prefix}${wanted}`));
}

function attributeTerm(path: string, value: string): LogPredicate {
  const range = RANGE_VALUE.exec(value);
  if (range) {
    const bound = (text: string, open: number) => {
      if (text === '*') return open;
      const number = Number(text);
      if (!Number.isFinite(number)) throw new LogQueryError(`@${path}: range bounds must be numbers or *, not "${text.slice(0, 40)}"`);
      return number;
    };
    const low = bound(range[1]!, -Infinity);
    const high = bound(range[2]!, Infinity);
    return (log) => {
      const actual = attributeAt(log, path);
      return typeof actual === 'number' && actual >= low && actual <= high;
    };
  }
  if (value.startsWith('[')) throw new LogQueryError(`@${path}: a range is written [low TO high]`);
  return (log) => {
    const actual = attributeAt(log, path);
    if (actual === undefined || actual === null || typeof actual === 'object') return false;
    return value === '*' || String(actual) === value;
  };
}

/** The value at a dotted path of the log (`atlassian.event_id`), or undefined. */
function attributeAt(log: ReceivedLog, path: string): unknown {
  let value: unknown = log;
  for (const part of path.split('.')) {
    if (!isPlainObject(value)) return undefined;
    value = value[part];
  }
  return value;
}

/** The log's tags as Datadog lists them: those of `ddtags`, lowercased, and its source. */
function tagsOf(log: ReceivedLog): string[] {
  const ddtags = typeof log['ddtags'] === 'string' ? log['ddtags'].split(',') : [];
  const tags = ddtags.map((tag) => tag.trim().toLowerCase()).filter((tag) => tag !== '');
  return typeof log['ddsource'] === 'string' ? [...tags, `source:${log['ddsource'].toLowerCase()}`] : tags;
}

const TIME_UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A `filter.from`/`filter.to`: epoch ms, digits, ISO-8601, `now` or `now-<n><unit>`. */
function parseQueryTime(value: number | string, now: number, field: 'from' | 'to'): number {
  if (typeof value === 'number') return value;
  if (/^\d+$/.test(value)) return Number(value);
  if (value === 'now') return now;
  const relative = /^now-(\d+)(s|m|h|d)$/.exec(value);
  if (relative) return now - Number(relative[1]) * TIME_UNIT_MS[relative[2]!]!;
  const parsed = /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(parsed)) throw new LogQueryError(`filter.${field} must be epoch ms, ISO-8601, now or now-<n><s|m|h|d>`);
  return parsed;
}

function intervalMs(interval: string): number {
  const [, count, unit] = INTERVAL.exec(interval)!;
  return Number(count) * TIME_UNIT_MS[unit!]!;
}

/** One compute over a bucket's logs: a number for a total, `[{time, value}]` (non-empty time buckets only) for a timeseries. */
function computeOver(compute: z.output<typeof computeSchema>, hits: readonly { log: ReceivedLog; record: LogRecord }[]): unknown {
  const valueOf = (logs: readonly ReceivedLog[]) => {
    if (compute.aggregation === 'count') return logs.length;
    const path = compute.metric!.slice(1);
    return new Set(logs.map((log) => attributeAt(log, path)).filter((value) => value !== undefined).map((value) => JSON.stringify(value))).size;
  };
  if (compute.type === 'total') return valueOf(hits.map((hit) => hit.log));
  const size = intervalMs(compute.interval!);
  const series = new Map<number, ReceivedLog[]>();
  for (const { log, record } of hits) {
    const start = Math.floor(record.time / size) * size;
    series.set(start, [...(series.get(start) ?? []), log]);
  }
  return [...series.entries()].sort(([a], [b]) => a - b).map(([start, logs]) => ({ time: new Date(start).toISOString(), value: valueOf(logs) }));
}

/** A log as the search API returns it: reserved attributes at the top, the rest under `attributes`. */
function searchHit(log: ReceivedLog, record: LogRecord): unknown {
  const attributes = Object.fromEntries(Object.entries(log).filter(([key]) => !RESERVED_LOG_FIELDS.has(key)));
  return {
    id: record.id,
    type: 'log',
    attributes: {
      timestamp: new Date(record.time).toISOString(),
      ...(typeof log['hostname'] === 'string' && { host: log['hostname'] }),
      service: log['service'],
      status: log['status'],
      message: log['message'],
      tags: tagsOf(log),
      attributes,
    },
  };
}

function encodeSearchCursor(cursor: z.input<typeof searchCursorSchema>): string {
  return Buffer.from(JSON.stringify(cursor), 'utf8').toString('base64url');
}

function decodeSearchCursor(raw: string): z.output<typeof searchCursorSchema> | undefined {
  try {
    const parsed = searchCursorSchema.safeParse(JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** Error body of Datadog's query APIs: `{errors: ["…"]}`. */
function queryError(status: number, message: string, headers: Record<string, string> = {}): HttpOutcome {
  return jsonReply(status, { errors: [message] }, headers);
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
