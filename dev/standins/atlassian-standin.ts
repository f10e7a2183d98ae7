/**
 * STAND-IN for the Atlassian Organizations audit-log API (`https://api.atlassian.com/admin/v1/orgs/{orgId}/…`), for
 * tests and the demo. It follows reference/atlassian-org-audit-api.md; where Atlassian's documentation is silent the
 * choice made here is written next to the code and marked "Choice:".
 *
 * Model. Each org keeps its events in processing order. Atlassian's processing time only moves forward, so an event
 * added later is always processed after every existing one: its position is its insertion sequence and its
 * `processedAt` is max(given, previous processedAt). An event whose own `time` is old but which is added late is
 * therefore a late event, and an existing `events-stream` cursor sees it, as the real stream promises.
 *
 * Endpoints (all `GET`, `Authorization: Bearer <org API key>`):
 * - `events-stream`: ordered by processing time; opaque cursor that keeps sort order and filters and is returned
 *   even on the last (or an empty) page, so it can be reused to poll for newer events.
 * - `events`: the filtered query, newest first by event time, its own strict rate limit; filters are not kept in
 *   its cursor (Atlassian issue ACCESS-1603), so clients must resend them.
 * - `events/{eventId}`, `event-actions` (one unpaginated answer, or pages with `eventActionsPageSize`).
 * Control endpoints under `/_standin/` (no auth) let another process seed events, rotate keys, inject faults, cap the
 * stream's page size and expire cursors: `POST orgs/{orgId}/keys`, `POST orgs/{orgId}/events`, `POST faults`,
 * `POST stream-page-size` (`{ maxPageSize: n | null }`), `POST orgs/{orgId}/expire-cursors` (no body), `GET stats`.
 *
 * Knobs for pages a collector did not write itself (each off by default):
 * - `maxStreamPageSize` / `setMaxStreamPageSize()`: serve fewer events per page than asked, as Atlassian may;
 * - faults `stuckCursor` (the page comes back with the cursor it was asked with), `duplicateEvent` (an ID twice in
 *   one page), `overlappingCursor` (an ID on two pages in a row) and `unidentifiedElements` (identical elements
 *   without an ID);
 * - `expireCursors()`: every cursor issued so far is refused with 400 `ADMIN-400-1`;
 * - `usersContext()`: a `context` of many users, for events too large to pass through a workflow's history.
 */
import { randomUUID } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { mkdir, readFile, truncate } from 'node:fs/promises';
import { STATUS_CODES } from 'node:http';
import path from 'node:path';
import { z } from 'zod';
import { atlassianEventSchema, type AtlassianEntity, type AtlassianEvent } from '../../activities/atlassian-schema';
import { demoEventActions } from './demo-event-actions';
import { jsonReply, listenStandin, type HttpOutcome, type StandinHttpRequest, type StandinHttpServer } from './standin-http-server';
import { TokenBucket, type TokenBucketDecision } from './token-bucket';

export const AtlassianEndpoint = {
  eventsStream: 'events-stream',
  events: 'events',
  event: 'events/{eventId}',
  eventActions: 'event-actions',
} as const;
export type AtlassianEndpoint = (typeof AtlassianEndpoint)[keyof typeof AtlassianEndpoint];

export const STREAM_PAGE_SIZE = { default: 200, max: 500 } as const;
/** Choice: Atlassian's own sample page shows `page_size: 25`; the filtered endpoint uses that as its default. */
export const FILTERED_PAGE_SIZE = { default: 25, max: 500 } as const;

const timeInputSchema = z.union([
  z.number().finite(),
  z.string().refine((value) => !Number.isNaN(Date.parse(value)), 'not an ISO-8601 time'),
]);

const attributeShapes = atlassianEventSchema.shape.attributes.shape;

/** One event to add: only `action` and `time` are required; the rest gets realistic defaults. */
export const standinEventInputSchema = z.object({
  /** @default a random UUID */
  id: z.string().min(1).optional(),
  action: z.string().min(1),
  /** The event's own time: ISO-8601 (kept exactly as given) or epoch ms. */
  time: timeInputSchema,
  /** @default the stand-in's now(); never earlier than the previous event's (see the model above). */
  processedAt: timeInputSchema.optional(),
  /** @default a fixed "Stand-in Admin" actor */
  actor: attributeShapes.actor.optional(),
  /** @default [] */
  context: attributeShapes.context,
  container: attributeShapes.container,
  location: attributeShapes.location,
  message: atlassianEventSchema.shape.message,
});
export type StandinEventInput = z.input<typeof standinEventInputSchema>;

/**
 * A `context` of `count` users, about 120 bytes each, for events larger than a workflow's history should carry
 * whole (Atlassian's group events list the users acted on; the reference sets no bound). Deterministic, so a test
 * can tell an event's size in advance: `JSON.stringify(usersContext(n))` is the same for the same arguments.
 */
export function usersContext(count: number, idPrefix = 'user'): AtlassianEntity[] {
  return Array.from({ length: count }, (_, index) => ({
    id: `${idPrefix}-${String(index).padStart(6, '0')}`,
    type: 'users',
    attributes: { name: `Stand-in User ${index}`, email: `${idPrefix}-${index}@example.com`, accountType: 'atlassian' },
  }));
}

/** What the next matching `events-stream` request(s) get instead of (or on top of) the normal answer. */
export const atlassianFaultSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('status'), status: z.literal([500, 502, 503, 504]) }),
  z.object({ kind: z.literal('reset') }),
  z.object({ kind: z.literal('hang'), ms: z.number().int().min(0) }),
  /** 200 with an HTML body, like an error page from a proxy. */
  z.object({ kind: z.literal('malformedBody') }),
  /** 200 with JSON that is not a page. */
  z.object({ kind: z.literal('wrongShape') }),
  /** The next non-empty page carries its first event without `attributes.actor` (the `id` is kept). */
  z.object({ kind: z.literal('invalidEvent') }),
  /** 429 regardless of the bucket. @default retryAfterSeconds 1 */
  z.object({ kind: z.literal('rateLimit'), retryAfterSeconds: z.number().int().min(0).optional() }),
  /**
   * The next page (empty or not) is served as usual but its `meta.next` and `links.next` carry the cursor it was
   * asked with (for a request without one, a cursor at the start of its range): a client that follows it reads
   * the same page again. Queued `times` times, it models a stream that does not advance for that many requests.
   */
  z.object({ kind: z.literal('stuckCursor') }),
  /**
   * The next non-empty page serves its first event a second time, appended at its end (so the page may hold one
   * element more than its limit). The stream behind it is unchanged: the cursor moves past the page as usual.
   */
  z.object({ kind: z.literal('duplicateEvent') }),
  /**
   * The next non-empty page of two or more events returns a cursor one event short of its end, so the page after
   * it starts with this page's last event again: one ID on two pages in a row, nothing skipped.
   */
  z.object({ kind: z.literal('overlappingCursor') }),
  /**
   * The next page (empty or not) ends with `count` identical elements that are not events: no `id`, no time, no
   * actor. Nothing keys them by ID, yet each is an element of its own. @default count 2
   */
  z.object({ kind: z.literal('unidentifiedElements'), count: z.number().int().min(1).max(STREAM_PAGE_SIZE.max).optional() }),
]);
export type AtlassianFault = z.infer<typeof atlassianFaultSchema>;

/** Faults that shape a page the API serves, rather than standing in front of the API (see `handleApi`). */
const PAGE_FAULT_KINDS = ['invalidEvent', 'stuckCursor', 'duplicateEvent', 'overlappingCursor', 'unidentifiedElements'] as const;
type PageFault = Extract<AtlassianFault, { kind: (typeof PAGE_FAULT_KINDS)[number] }>;
type FrontFault = Exclude<AtlassianFault, PageFault>;

export interface RateLimitOptions {
  requestsPerMinute: number;
  burst: number;
}

export interface AtlassianStandinOptions {
  /**
   * TCP port on 127.0.0.1.
   * @default 0 (a free port)
   */
  port?: number;
  /**
   * Clock for `processedAt` defaults, rate limits and the request log; tests inject one to refill buckets
   * without sleeping.
   * @default Date.now
   */
  now?: () => number;
  /**
   * Per-org token bucket for `events-stream`. Atlassian publishes no number for the stream (reference §5).
   * @default undefined (no limit)
   */
  rateLimit?: RateLimitOptions;
  /**
   * Per-org token bucket for the filtered `events` endpoint, documented at 10 requests per minute.
   * @default { requestsPerMinute: 10, burst: 10 }
   */
  filteredEventsRateLimit?: RateLimitOptions;
  /**
   * Whether 429 answers carry `Retry-After`. Atlassian does not document it; `false` makes clients rely on
   * `X-RateLimit-Reset`.
   * @default true
   */
  retryAfterHeader?: boolean;
  /**
   * NDJSON file that keeps every added event, one `{ orgId, event }` line each, written before the event can be
   * served. At start its events are held back and return, in the same order and so at the same stream positions,
   * when their org is added: a restarted demo serves the stream a durable cursor was walking, instead of a new one.
   * @default undefined (events live in memory only)
   */
  eventsFile?: string;
  /**
   * The most events an `events-stream` page holds, whatever `limit` asks (up to the documented 500): Atlassian may
   * serve fewer than asked, and a client that reads a short page as the end of the stream stops early. `meta.page_size`
   * then says the size in effect. Changed at run time with `setMaxStreamPageSize()`.
   * @default undefined (the page holds `limit` events)
   */
  maxStreamPageSize?: number;
  /**
   * The largest `limit` an `events-stream` request may ask for; a larger one is refused with 400 `ADMIN-400-4`, as
   * an Atlassian whose page-size maximum is below the peers' 500 would (reference §11: UNCONFIRMED).
   * @default STREAM_PAGE_SIZE.max
   */
  maxAcceptedStreamLimit?: number;
  /**
   * Serve `event-actions` in pages of this many entries, with `meta.next` and `links.next` as the other endpoints
   * page, instead of one unpaginated answer (`links: {}`, `meta: null`, as in the one real dump seen).
   * @default undefined (one answer)
   */
  eventActionsPageSize?: number;
}

/** One request to the API (not to `/_standin/`), as answered. */
export interface AtlassianStandinRequest {
  orgId: string;
  /** null for a path under the org that is not one of the endpoints. */
  endpoint: AtlassianEndpoint | null;
  path: string;
  query: Record<string, string>;
  /** null when a fault reset the connection or left it hanging. */
  status: number | null;
  /** Stand-in clock, epoch ms. */
  at: number;
}

export interface AtlassianOrgStats {
  events: number;
  requests: number;
  requestsByEndpoint: Partial<Record<AtlassianEndpoint, number>>;
  /** 429 answers, from the bucket or from injected faults. */
  rateLimited: number;
}

interface StoredEvent {
  /** 1-based insertion order = processing order. */
  readonly sequence: number;
  readonly timeMs: number;
  readonly processedAtMs: number;
  /** The `events-stream` form (with `processedAt`). */
  readonly event: AtlassianEvent;
}

interface OrgState {
  apiKeys: Set<string>;
  readonly events: StoredEvent[];
  readonly eventsById: Map<string, StoredEvent>;
  readonly streamBucket: TokenBucket | undefined;
  readonly filteredBucket: TokenBucket;
  /** Stream cursors of an earlier generation are refused (`expireCursors`). */
  cursorGeneration: number;
}

interface QueuedFault {
  readonly target: string;
  readonly fault: AtlassianFault;
  remaining: number;
}

/**
 * The stream cursor: base64url JSON. It keeps sort order, filters and page size so that `?cursor=` alone
 * continues. `position` is the sequence of the last event delivered (asc: next is above it; desc: below it).
 */
const streamCursorSchema = z.object({
  kind: z.literal('events-stream'),
  sortOrder: z.enum(['asc', 'desc']),
  from: z.number().int().nullable(),
  to: z.number().int().nullable(),
  limit: z.number().int().min(1).max(STREAM_PAGE_SIZE.max).nullable(),
  position: z.number().int().min(0),
  /** The org's cursor generation when issued; cursors issued before this field existed are of generation 0. */
  generation: z.number().int().min(0).default(0),
});
type StreamCursor = z.infer<typeof streamCursorSchema>;

/** The filtered endpoint's cursor holds only the position (time desc, then sequence desc), no filters. */
const filteredCursorSchema = z.object({
  kind: z.literal('events'),
  timeMs: z.number(),
  sequence: z.number().int(),
});
type FilteredCursor = z.infer<typeof filteredCursorSchema>;

/** The paged `event-actions` cursor (`eventActionsPageSize`): where the next page starts. */
const eventActionsCursorSchema = z.object({ kind: z.literal('event-actions'), offset: z.number().int().min(0) });
type EventActionsCursor = z.infer<typeof eventActionsCursorSchema>;

const DEFAULT_ACTOR = { id: '5b10ac8d82e05b22cc7d4ef5', name: 'Stand-in Admin', email: 'standin-admin@example.com' };

const RATE_LIMIT_FAULT_DEFAULT_SECONDS = 1;

const controlFaultBodySchema = z.object({
  orgId: z.string().min(1),
  fault: atlassianFaultSchema,
  times: z.number().int().min(1).default(1),
});
const controlKeysBodySchema = z.object({ apiKeys: z.array(z.string().min(1)).min(1) });
const controlStreamPageSizeBodySchema = z.object({ maxPageSize: z.number().int().min(1).nullable() });

/** One line of `eventsFile`: the input that rebuilds the served event exactly, ID and processing time included. */
const persistedEventSchema = z.object({ orgId: z.string().min(1), event: standinEventInputSchema });
type ParsedEventInput = z.output<typeof standinEventInputSchema>;

export class AtlassianStandin {
  /** Base URL, e.g. `http://127.0.0.1:4321`; the API lives under `/admin/v1/orgs/{orgId}/…`. */
  readonly url: string;
  /** Every API request in arrival order (control requests excluded). */
  readonly requests: AtlassianStandinRequest[] = [];

  private readonly orgs = new Map<string, OrgState>();
  private readonly faults: QueuedFault[] = [];
  private readonly now: () => number;
  private readonly retryAfterHeader: boolean;
  private maxStreamPageSize: number | undefined;

  private constructor(
    private readonly options: AtlassianStandinOptions,
    private readonly server: StandinHttpServer,
    /** Events read from `eventsFile`, per org, until the org is added. */
    private readonly restoredEvents: Map<string, ParsedEventInput[]>
  ) {
    this.url = server.origin;
    this.now = options.now ?? Date.now;
    this.retryAfterHeader = options.retryAfterHeader ?? true;
    this.setMaxStreamPageSize(options.maxStreamPageSize);
  }

  static async start(options: AtlassianStandinOptions = {}): Promise<AtlassianStandin> {
    // Checked before listening, so a refused option leaves no server behind.
    const { eventActionsPageSize } = options;
    if (eventActionsPageSize !== undefined && !(Number.isInteger(eventActionsPageSize) && eventActionsPageSize >= 1)) {
      throw new Error(`eventActionsPageSize must be a positive integer, not ${eventActionsPageSize}`);
    }
    const restoredEvents = options.eventsFile ? await readEventsFile(options.eventsFile) : new Map();
    return listenStandin((server) => new AtlassianStandin(options, server, restoredEvents), (standin, request) => standin.handle(request), {
      port: options.port,
    });
  }

  async close(): Promise<void> {
    await this.server.close();
  }

  /** Adds an org; with `eventsFile`, the org's events from earlier runs come back with their stream positions. */
  addOrg(orgId: string, config: { apiKeys: string[] }): void {
    if (this.orgs.has(orgId)) throw new Error(`org ${orgId} already exists`);
    const limitedBy = (rateLimit: RateLimitOptions) => new TokenBucket({ ...rateLimit, now: this.now });
    this.orgs.set(orgId, {
      apiKeys: new Set(config.apiKeys),
      events: [],
      eventsById: new Map(),
      streamBucket: this.options.rateLimit ? limitedBy(this.options.rateLimit) : undefined,
      filteredBucket: limitedBy(this.options.filteredEventsRateLimit ?? { requestsPerMinute: 10, burst: 10 }),
      cursorGeneration: 0,
    });
    const restored = this.restoredEvents.get(orgId);
    if (restored) {
      this.restoredEvents.delete(orgId);
      this.append(this.org(orgId), this.build(orgId, restored));
    }
  }

  /** Replaces the org's keys: a key no longer listed gets 401 from the next request on. */
  setApiKeys(orgId: string, apiKeys: string[]): void {
    this.org(orgId).apiKeys = new Set(apiKeys);
  }

  /**
   * From the next request on, `events-stream` pages hold at most `maxPageSize` events whatever `limit` asks;
   * `undefined` serves `limit` again. Cursors are unaffected: a capped page moves the cursor past what it served.
   */
  setMaxStreamPageSize(maxPageSize: number | undefined): void {
    if (maxPageSize !== undefined && !(Number.isInteger(maxPageSize) && maxPageSize >= 1)) {
      throw new Error(`maxPageSize must be a positive integer, not ${maxPageSize}`);
    }
    this.maxStreamPageSize = maxPageSize;
  }

  /**
   * Refuses every `events-stream` cursor of `orgId` issued so far with 400 `ADMIN-400-1` (the reference's
   * "invalid page cursor"), as when Atlassian expires or invalidates cursors; cursors issued afterwards, from a
   * request without a cursor, are accepted. The events stay: a client recovers by restarting from a time bound.
   */
  expireCursors(orgId: string): void {
    this.org(orgId).cursorGeneration += 1;
  }

  /** Adds events in processing order and returns them as `events-stream` will serve them. */
  addEvents(orgId: string, inputs: readonly StandinEventInput[]): AtlassianEvent[] {
    const org = this.org(orgId);
    const parsed = inputs.map((input) => standinEventInputSchema.parse(input));
    // Checked before anything is added, so a rejected batch leaves the org untouched.
    const batchIds = new Set<string>();
    for (const { id } of parsed) {
      if (id === undefined) continue;
      if (org.eventsById.has(id) || batchIds.has(id)) throw new Error(`event ${id} already exists in org ${orgId}`);
      batchIds.add(id);
    }
    const added = this.build(orgId, parsed);
    if (this.options.eventsFile && added.length > 0) {
      const lines = added.map(({ event }) => `${JSON.stringify({ orgId, event: inputRebuilding(event) })}\n`);
      // Synchronous, before the events join the org: what a client was served is always on disk, in order.
      appendFileSync(this.options.eventsFile, lines.join(''), 'utf8');
    }
    this.append(org, added);
    return added.map((stored) => structuredClone(stored.event));
  }

  /** The org's events in processing order, in `events-stream` form. */
  events(orgId: string): AtlassianEvent[] {
    return this.org(orgId).events.map((stored) => structuredClone(stored.event));
  }

  /**
   * Queues a fault for the next `times` `events-stream` requests of `orgId` (or of any org with '*'), first in
   * first out. Choice: only `events-stream` consumes faults, so a catalogue lookup or spot query made by the
   * collector in between does not silently swallow a fault a test meant for the poller.
   */
  injectFault(orgId: string, fault: AtlassianFault, times = 1): void {
    this.faults.push({ target: orgId, fault: atlassianFaultSchema.parse(fault), remaining: times });
  }

  requestCount(orgId: string, endpoint?: AtlassianEndpoint): number {
    return this.requests.filter((r) => r.orgId === orgId && (endpoint === undefined || r.endpoint === endpoint)).length;
  }

  stats(): Record<string, AtlassianOrgStats> {
    const stats: Record<string, AtlassianOrgStats> = {};
    for (const [orgId, org] of this.orgs) {
      stats[orgId] = { events: org.events.length, requests: 0, requestsByEndpoint: {}, rateLimited: 0 };
    }
    for (const request of this.requests) {
      const orgStats = stats[request.orgId];
      if (!orgStats) continue;
      orgStats.requests += 1;
      if (request.endpoint) {
        orgStats.requestsByEndpoint[request.endpoint] = (orgStats.requestsByEndpoint[request.endpoint] ?? 0) + 1;
      }
      if (request.status === 429) orgStats.rateLimited += 1;
    }
    return stats;
  }

  /** The events `inputs` become after the org's current last event, without adding them yet. */
  private build(orgId: string, inputs: readonly ParsedEventInput[]): StoredEvent[] {
    const org = this.org(orgId);
    const built: StoredEvent[] = [];
    for (const input of inputs) {
      const previous = built.at(-1) ?? org.events.at(-1);
      const requestedProcessedAt = input.processedAt === undefined ? this.now() : toEpochMs(input.processedAt);
      const processedAtMs = Math.max(requestedProcessedAt, previous?.processedAtMs ?? -Infinity);
      const event = this.buildEvent(orgId, input, processedAtMs);
      const sequence = org.events.length + built.length + 1;
      built.push({ sequence, timeMs: Date.parse(event.attributes.time), processedAtMs, event });
    }
    return built;
  }

  private append(org: OrgState, added: readonly StoredEvent[]): void {
    for (const stored of added) {
      org.events.push(stored);
      org.eventsById.set(stored.event.id, stored);
    }
  }

  private org(orgId: string): OrgState {
    const org = this.orgs.get(orgId);
    if (!org) throw new Error(`unknown org ${orgId}`);
    return org;
  }

  private buildEvent(orgId: string, input: ParsedEventInput, processedAtMs: number): AtlassianEvent {
    const id = input.id ?? randomUUID();
    return {
      id,
      type: 'events',
      attributes: {
        time: typeof input.time === 'number' ? new Date(input.time).toISOString() : input.time,
        processedAt: new Date(processedAtMs).toISOString(),
        action: input.action,
        actor: input.actor ?? DEFAULT_ACTOR,
        context: input.context ?? [],
        ...(input.container ? { container: input.container } : {}),
        ...(input.location ? { location: input.location } : {}),
      },
      links: { self: `${this.url}/admin/v1/orgs/${encodeURIComponent(orgId)}/events/${encodeURIComponent(id)}` },
      ...(input.message ? { message: input.message } : {}),
    };
  }

  private async handle(request: StandinHttpRequest): Promise<HttpOutcome> {
    if (request.url.pathname.startsWith('/_standin/')) return this.handleControl(request);
    const match = /^\/admin\/v1\/orgs\/([^/]+)(\/.*)?$/.exec(request.url.pathname);
    if (!match?.[1]) return apiError(404, 'Not Found');
    const orgId = decodeURIComponent(match[1]);
    const route = routeOf(match[2] ?? '');
    const outcome = this.handleApi(request, orgId, route);
    this.requests.push({
      orgId,
      endpoint: route?.endpoint ?? null,
      path: request.url.pathname,
      query: Object.fromEntries(request.url.searchParams),
      status: outcome.kind === 'reply' ? outcome.status : null,
      at: this.now(),
    });
    return outcome;
  }

  private handleApi(request: StandinHttpRequest, orgId: string, route: Route | undefined): HttpOutcome {
    if (!route) return apiError(404, 'Not Found');
    if (request.method !== 'GET') return apiError(405, 'Method Not Allowed');

    // Faults come first: they stand for trouble in front of the API (proxies, network), not for API logic. Page
    // faults wait for the page they shape.
    const queued = route.endpoint === AtlassianEndpoint.eventsStream ? this.nextFault(orgId) : undefined;
    if (queued && !isPageFault(queued.fault)) {
      this.consume(queued);
      return this.faultOutcome(queued.fault);
    }

    const apiKey = bearerToken(request.headers.authorization);
    if (apiKey === undefined) return unauthorized();
    const org = this.orgs.get(orgId);
    if (!org) return apiError(404, 'Not Found', 'ADMIN-404-2', `Organization ${orgId} not found`);
    if (!org.apiKeys.has(apiKey)) return unauthorized();

    switch (route.endpoint) {
      case AtlassianEndpoint.eventsStream:
        return this.eventsStream(request, orgId, org, queued && isPageFault(queued.fault) ? queued : undefined);
      case AtlassianEndpoint.events:
        return this.filteredEvents(request, orgId, org);
      case AtlassianEndpoint.event: {
        const stored = org.eventsById.get(route.eventId);
        if (!stored) return apiError(404, 'Not Found', 'ADMIN-404-4', `Event ${route.eventId} not found`);
        return jsonReply(200, { data: withoutProcessedAt(stored.event) });
      }
      case AtlassianEndpoint.eventActions:
        return this.eventActions(request, orgId);
    }
  }

  /** Entries shaped like the real dump (reference §11): type `eventActions`, display groups in capitals. */
  private eventActions(request: StandinHttpRequest, orgId: string): HttpOutcome {
    const entries = demoEventActions.map(({ id, displayName, groupDisplayName }) => ({
      id,
      type: 'eventActions',
      attributes: { displayName, groupDisplayNames: [groupDisplayName.toUpperCase()] },
    }));
    const pageSize = this.options.eventActionsPageSize;
    if (pageSize === undefined) return jsonReply(200, { data: entries, links: {}, meta: null });
    const rawCursor = request.url.searchParams.get('cursor');
    const cursor: EventActionsCursor | undefined =
      rawCursor === null ? { kind: 'event-actions', offset: 0 } : decodeCursor(rawCursor, eventActionsCursorSchema);
    if (!cursor) return invalidCursor();
    const end = cursor.offset + pageSize;
    const next = end < entries.length ? encodeCursor({ kind: 'event-actions', offset: end }) : null;
    const actionsPath = `${this.url}/admin/v1/orgs/${encodeURIComponent(orgId)}/event-actions`;
    return jsonReply(200, {
      data: entries.slice(cursor.offset, end),
      meta: { next },
      links: { self: this.selfLink(request), next: next && `${actionsPath}?cursor=${next}` },
    });
  }

  private eventsStream(
    request: StandinHttpRequest,
    orgId: string,
    org: OrgState,
    pageFault: QueuedFault | undefined
  ): HttpOutcome {
    const decision = org.streamBucket?.take();
    if (decision && !decision.allowed) return this.tooManyRequests(decision);
    const rateLimitHeaders = decision ? rateLimitHeadersOf(decision) : {};

    const parsed = parseStreamQuery(request.url.searchParams, org);
    if ('error' in parsed) return parsed.error;
    const { cursor } = parsed;
    const accepted = this.options.maxAcceptedStreamLimit ?? STREAM_PAGE_SIZE.max;
    if (parsed.limit > accepted) return apiError(400, 'Bad Request', 'ADMIN-400-4', `limit must be an integer from 1 to ${accepted}`);
    const limit = Math.min(parsed.limit, this.maxStreamPageSize ?? STREAM_PAGE_SIZE.max);

    const selected: StoredEvent[] = [];
    const inRange = (stored: StoredEvent) =>
      (cursor.from === null || stored.timeMs >= cursor.from) && (cursor.to === null || stored.timeMs < cursor.to);
    if (cursor.sortOrder === 'asc') {
      for (let index = cursor.position; index < org.events.length && selected.length < limit; index++) {
        const stored = org.events[index];
        if (stored && inRange(stored)) selected.push(stored);
      }
    } else {
      for (let index = cursor.position - 2; index >= 0 && selected.length < limit; index--) {
        const stored = org.events[index];
        if (stored && inRange(stored)) selected.push(stored);
      }
    }

    /** The queued page fault when it is of `kind`, used up by this page; a caller asks only when the page qualifies. */
    const take = <K extends PageFault['kind']>(kind: K): Extract<PageFault, { kind: K }> | undefined => {
      if (pageFault?.fault.kind !== kind) return undefined;
      this.consume(pageFault);
      return pageFault.fault as Extract<PageFault, { kind: K }>;
    };
    const data = selected.map((stored) => structuredClone(stored.event) as Record<string, unknown>);
    const [first] = data;
    if (first && take('invalidEvent')) data[0] = withoutActor(first);
    if (first && take('duplicateEvent')) data.push(structuredClone(first));
    const unidentified = take('unidentifiedElements');
    if (unidentified) {
      const element = { type: 'events', attributes: { action: 'unidentified' } };
      data.push(...Array.from({ length: unidentified.count ?? 2 }, () => structuredClone(element)));
    }
    const lastDelivered = selected.length >= 2 && take('overlappingCursor') ? selected.at(-2) : selected.at(-1);
    // The cursor survives the last page: reusing it returns only what was processed after it.
    const next = take('stuckCursor')
      ? (request.url.searchParams.get('cursor') ?? encodeCursor(cursor))
      : encodeCursor({ ...cursor, position: lastDelivered?.sequence ?? cursor.position });
    const streamPath = `${this.url}/admin/v1/orgs/${encodeURIComponent(orgId)}/events-stream`;
    return jsonReply(
      200,
      {
        data,
        // Choice: page_size is the page size in effect (the limit, or the stand-in's lower cap), not the number of
        // events on this page.
        meta: { next, page_size: limit },
        links: { self: this.selfLink(request), next: `${streamPath}?cursor=${next}` },
      },
      rateLimitHeaders
    );
  }

  private filteredEvents(request: StandinHttpRequest, orgId: string, org: OrgState): HttpOutcome {
    const decision = org.filteredBucket.take();
    if (!decision.allowed) return this.tooManyRequests(decision);

    const params = request.url.searchParams;
    const range = parseTimeRange(params);
    if ('error' in range) return range.error;
    const limit = parseLimit(params.get('limit'), FILTERED_PAGE_SIZE);
    if (typeof limit !== 'number') return limit.error;
    const rawCursor = params.get('cursor');
    const after = rawCursor === null ? undefined : decodeCursor(rawCursor, filteredCursorSchema);
    if (rawCursor !== null && !after) return invalidCursor();
    const action = params.get('action');

    const newestFirst = org.events
      .filter(
        (stored) =>
          (range.from === null || stored.timeMs >= range.from) &&
          (range.to === null || stored.timeMs < range.to) &&
          (action === null || stored.event.attributes.action === action)
      )
      .sort((a, b) => b.timeMs - a.timeMs || b.sequence - a.sequence);
    const isPastCursor = (stored: StoredEvent, cursor: FilteredCursor) =>
      stored.timeMs < cursor.timeMs || (stored.timeMs === cursor.timeMs && stored.sequence < cursor.sequence);
    const start = after ? newestFirst.findIndex((stored) => isPastCursor(stored, after)) : 0;
    const page = start < 0 ? [] : newestFirst.slice(start, start + limit);
    const last = page.at(-1);
    const hasMore = start >= 0 && start + limit < newestFirst.length;
    const next =
      hasMore && last ? encodeCursor({ kind: 'events', timeMs: last.timeMs, sequence: last.sequence }) : null;
    const basePath = `${this.url}/admin/v1/orgs/${encodeURIComponent(orgId)}/events`;
    return jsonReply(
      200,
      {
        data: page.map((stored) => withoutProcessedAt(stored.event)),
        meta: { next, prev: null, page_size: limit },
        // Like Atlassian (ACCESS-1603), links.next carries only the cursor, not the filters.
        links: { self: this.selfLink(request), prev: null, next: next && `${basePath}?cursor=${next}` },
      },
      rateLimitHeadersOf(decision)
    );
  }

  private selfLink(request: StandinHttpRequest): string {
    return `${this.url}${request.url.pathname}${request.url.search}`;
  }

  private nextFault(orgId: string): QueuedFault | undefined {
    return this.faults.find((queued) => queued.target === orgId || queued.target === '*');
  }

  private consume(queued: QueuedFault): void {
    queued.remaining -= 1;
    if (queued.remaining <= 0) this.faults.splice(this.faults.indexOf(queued), 1);
  }

  private faultOutcome(fault: FrontFault): HttpOutcome {
    switch (fault.kind) {
      case 'status': {
        const code = fault.status === 500 ? 'ADMIN-500-1' : undefined;
        return apiError(fault.status, STATUS_CODES[fault.status] ?? 'Error', code);
      }
      case 'reset':
        return { kind: 'reset' };
      case 'hang':
        return { kind: 'hang', ms: fault.ms };
      case 'malformedBody':
        return {
          kind: 'reply',
          status: 200,
          headers: { 'content-type': 'text/html; charset=utf-8' },
          body: '<html><head><title>Atlassian</title></head><body><h1>Something went wr',
        };
      case 'wrongShape':
        return jsonReply(200, { data: 'oops' });
      case 'rateLimit': {
        const retryAfterMs = (fault.retryAfterSeconds ?? RATE_LIMIT_FAULT_DEFAULT_SECONDS) * 1000;
        // No bucket decided this 429; the headers show the configured stream limit, or a nominal one of 1.
        const limit = this.options.rateLimit?.burst ?? 1;
        const resetAt = this.now() + retryAfterMs;
        return this.tooManyRequests({ allowed: false, limit, remaining: 0, resetAt, retryAfterMs });
      }
    }
  }

  private tooManyRequests(decision: TokenBucketDecision): HttpOutcome {
    const headers = rateLimitHeadersOf(decision);
    if (this.retryAfterHeader) headers['retry-after'] = String(Math.max(1, Math.ceil(decision.retryAfterMs / 1000)));
    return apiError(429, 'Too Many Requests', 'ADMIN-429-1', 'Rate limit exceeded', headers);
  }

  private async handleControl(request: StandinHttpRequest): Promise<HttpOutcome> {
    const path = request.url.pathname;
    if (request.method === 'GET' && path === '/_standin/stats') return jsonReply(200, { orgs: this.stats() });
    if (request.method !== 'POST') return jsonReply(404, { error: `no control endpoint ${request.method} ${path}` });

    const expireMatch = /^\/_standin\/orgs\/([^/]+)\/expire-cursors$/.exec(path);
    if (expireMatch?.[1]) {
      // No body needed: the request itself is the instruction.
      const orgId = decodeURIComponent(expireMatch[1]);
      if (!this.orgs.has(orgId)) return jsonReply(404, { error: `unknown org ${orgId}` });
      this.expireCursors(orgId);
      return jsonReply(200, { orgId, cursorsExpired: true });
    }
    const body = parseJsonBody(request);
    if (body === undefined) return jsonReply(400, { error: 'body must be JSON' });
    const orgMatch = /^\/_standin\/orgs\/([^/]+)\/(events|keys)$/.exec(path);
    try {
      if (path === '/_standin/stream-page-size') {
        const { maxPageSize } = controlStreamPageSizeBodySchema.parse(body);
        this.setMaxStreamPageSize(maxPageSize ?? undefined);
        return jsonReply(200, { maxPageSize });
      }
      if (path === '/_standin/faults') {
        const { orgId, fault, times } = controlFaultBodySchema.parse(body);
        this.injectFault(orgId, fault, times);
        return jsonReply(200, { queued: times });
      }
      if (orgMatch?.[1] && orgMatch[2] === 'keys') {
        const orgId = decodeURIComponent(orgMatch[1]);
        const { apiKeys } = controlKeysBodySchema.parse(body);
        // Choice: setting keys for an unknown org creates it, so another process can set up an org in one call.
        if (this.orgs.has(orgId)) this.setApiKeys(orgId, apiKeys);
        else this.addOrg(orgId, { apiKeys });
        return jsonReply(200, { orgId, apiKeys: apiKeys.length });
      }
      if (orgMatch?.[1] && orgMatch[2] === 'events') {
        const orgId = decodeURIComponent(orgMatch[1]);
        if (!this.orgs.has(orgId)) return jsonReply(404, { error: `unknown org ${orgId}` });
        const inputs = z.array(standinEventInputSchema).parse(body);
        return jsonReply(200, { data: this.addEvents(orgId, inputs) });
      }
    } catch (error) {
      const detail =
        error instanceof z.ZodError ? z.prettifyError(error) : error instanceof Error ? error.message : String(error);
      return jsonReply(400, { error: detail });
    }
    return jsonReply(404, { error: `no control endpoint ${request.method} ${path}` });
  }
}

type Route =
  | { endpoint: Exclude<AtlassianEndpoint, 'events/{eventId}'> }
  | { endpoint: 'events/{eventId}'; eventId: string };

function routeOf(pathUnderOrg: string): Route | undefined {
  if (pathUnderOrg === '/events-stream') return { endpoint: AtlassianEndpoint.eventsStream };
  if (pathUnderOrg === '/events') return { endpoint: AtlassianEndpoint.events };
  if (pathUnderOrg === '/event-actions') return { endpoint: AtlassianEndpoint.eventActions };
  const eventMatch = /^\/events\/([^/]+)$/.exec(pathUnderOrg);
  if (eventMatch?.[1]) return { endpoint: AtlassianEndpoint.event, eventId: decodeURIComponent(eventMatch[1]) };
  return undefined;
}

/**
 * Reads the stream's parameters. With a cursor, the cursor's sort order and filters win over any resent ones
 * (Choice: resent values are still checked for format, as a client resending `from` expects); `limit` on the
 * request overrides the cursor's, so a client may change its page size between pages.
 */
function parseStreamQuery(
  params: URLSearchParams,
  org: OrgState
): { cursor: StreamCursor; limit: number } | { error: HttpOutcome } {
  const range = parseTimeRange(params);
  if ('error' in range) return range;
  const sortOrder = params.get('sortOrder') ?? 'asc';
  if (sortOrder !== 'asc' && sortOrder !== 'desc') {
    return { error: apiError(400, 'Bad Request', 'ADMIN-400-4', 'sortOrder must be asc or desc') };
  }
  const requestedLimit = params.has('limit') ? parseLimit(params.get('limit'), STREAM_PAGE_SIZE) : null;
  if (requestedLimit !== null && typeof requestedLimit !== 'number') return requestedLimit;

  const rawCursor = params.get('cursor');
  let cursor: StreamCursor;
  if (rawCursor !== null) {
    const decoded = decodeCursor(rawCursor, streamCursorSchema);
    if (!decoded || decoded.generation < org.cursorGeneration) return { error: invalidCursor() };
    cursor = { ...decoded, limit: requestedLimit ?? decoded.limit };
  } else {
    // A descending walk is pinned to the events that exist now, so pages stay stable while new events arrive.
    const position = sortOrder === 'asc' ? 0 : org.events.length + 1;
    cursor = {
      kind: 'events-stream',
      sortOrder,
      from: range.from,
      to: range.to,
      limit: requestedLimit,
      position,
      generation: org.cursorGeneration,
    };
  }
  return { cursor, limit: cursor.limit ?? STREAM_PAGE_SIZE.default };
}

/**
 * `from` and `to` are epoch ms on the event's own `attributes.time` (the spec text; reference §2).
 * Choice: `from` inclusive, `to` exclusive, so adjacent ranges never overlap or leave a gap.
 */
function parseTimeRange(params: URLSearchParams): { from: number | null; to: number | null } | { error: HttpOutcome } {
  const bound = (name: 'from' | 'to'): number | null | undefined => {
    const raw = params.get(name);
    if (raw === null) return null;
    return /^\d{1,16}$/.test(raw) ? Number(raw) : undefined;
  };
  const from = bound('from');
  const to = bound('to');
  if (from === undefined || to === undefined) {
    return { error: apiError(400, 'Bad Request', 'ADMIN-400-3', 'from and to must be UNIX epoch milliseconds') };
  }
  if (from !== null && to !== null && from > to) {
    return { error: apiError(400, 'Bad Request', 'ADMIN-400-3', 'from must not be after to') };
  }
  return { from, to };
}

/** Choice: a limit outside 1…max is refused with 400 rather than clamped, so a client bug is visible. */
function parseLimit(raw: string | null, pageSize: { default: number; max: number }): number | { error: HttpOutcome } {
  if (raw === null) return pageSize.default;
  const limit = /^\d{1,6}$/.test(raw) ? Number(raw) : NaN;
  if (limit >= 1 && limit <= pageSize.max) return limit;
  return { error: apiError(400, 'Bad Request', 'ADMIN-400-4', `limit must be an integer from 1 to ${pageSize.max}`) };
}

function encodeCursor(cursor: StreamCursor | FilteredCursor | EventActionsCursor): string {
  return Buffer.from(JSON.stringify(cursor), 'utf8').toString('base64url');
}

function decodeCursor<T>(raw: string, schema: z.ZodType<T>): T | undefined {
  try {
    const result = schema.safeParse(JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')));
    return result.success ? result.data : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Reads `eventsFile` into events per org, in file order. A missing file is an empty one. A last line without its
 * newline was cut by a crash during the write, before its events could be served: it is dropped from the file too,
 * so the next append starts on a line of its own. Any other unreadable line stops the start.
 */
async function readEventsFile(file: string): Promise<Map<string, ParsedEventInput[]>> {
  await mkdir(path.dirname(file), { recursive: true });
  let content: Buffer;
  try {
    content = await readFile(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw error;
  }
  const complete = content.subarray(0, content.lastIndexOf(0x0a) + 1);
  if (complete.length < content.length) await truncate(file, complete.length);

  const eventsByOrg = new Map<string, ParsedEventInput[]>();
  const lines = complete.toString('utf8').split('\n').slice(0, -1);
  lines.forEach((line, index) => {
    let parsed: z.infer<typeof persistedEventSchema>;
    try {
      parsed = persistedEventSchema.parse(JSON.parse(line));
    } catch {
      throw new Error(`${file}:${index + 1} is not a stand-in event line; move the file away to start afresh`);
    }
    const events = eventsByOrg.get(parsed.orgId) ?? [];
    events.push(parsed.event);
    eventsByOrg.set(parsed.orgId, events);
  });
  return eventsByOrg;
}

/** The input that rebuilds `event` as it is served: same ID, times, actor, context and message. */
function inputRebuilding(event: AtlassianEvent): StandinEventInput {
  const { time, processedAt, action, actor, context, container, location } = event.attributes;
  return {
    id: event.id,
    action,
    time,
    processedAt: processedAt ?? undefined,
    actor,
    context,
    container,
    location,
    message: event.message,
  };
}

function toEpochMs(time: string | number): number {
  return typeof time === 'number' ? time : Date.parse(time);
}

function bearerToken(authorization: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  return match?.[1];
}

function parseJsonBody(request: StandinHttpRequest): unknown {
  try {
    return JSON.parse(request.body.toString('utf8'));
  } catch {
    return undefined;
  }
}

/** `processedAt` exists only in the stream's form of an event (reference §3). */
function withoutProcessedAt(event: AtlassianEvent): AtlassianEvent {
  const copy = structuredClone(event);
  delete copy.attributes.processedAt;
  return copy;
}

function isPageFault(fault: AtlassianFault): fault is PageFault {
  return (PAGE_FAULT_KINDS as readonly string[]).includes(fault.kind);
}

function withoutActor(event: Record<string, unknown>): Record<string, unknown> {
  const { actor: _actor, ...attributes } = event['attributes'] as Record<string, unknown>;
  return { ...event, attributes };
}

function rateLimitHeadersOf(decision: TokenBucketDecision): Record<string, string> {
  // Rounded up to the second, so a client sleeping until the reset never wakes a moment too early.
  const resetAt = new Date(Math.ceil(decision.resetAt / 1000) * 1000).toISOString().replace('.000Z', 'Z');
  return {
    'x-ratelimit-limit': String(decision.limit),
    'x-ratelimit-remaining': String(decision.remaining),
    'x-ratelimit-reset': resetAt,
  };
}

function apiError(
  status: number,
  title: string,
  code?: string,
  detail?: string,
  headers: Record<string, string> = {}
): HttpOutcome {
  const error = { status: String(status), ...(code ? { code } : {}), title, ...(detail ? { detail } : {}) };
  return jsonReply(status, { errors: [error] }, headers);
}

function unauthorized(): HttpOutcome {
  return apiError(401, 'Unauthorized');
}

function invalidCursor(): HttpOutcome {
  return apiError(400, 'Bad Request', 'ADMIN-400-1', 'Invalid page cursor');
}
