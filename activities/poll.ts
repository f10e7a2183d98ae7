import { createHash } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Dispatcher } from 'undici';
import { request } from 'undici';
import type { CredentialRef } from '../shared/credential-ref';
import { atlassianEventSchema, pollingPageSchema } from './atlassian-schema';
import { resolveCredential, type CredentialPolicy } from './credentials';
import { CredentialOwner, FailureType, type FailureDetails } from '../shared/failure-types';
import { safeUrl, transportFailure } from './http-client';
import type { PageStore, StoredPage } from './page-store';
import { eventKey, type PolledEvent } from './polled-event';
import { DATADOG_INTAKE_LIMITS } from './ship';
import { parseRateLimitReset, rateLimitWaitMs } from './rate-limit-headers';
import { recordAtlassianRequest } from './activity-metrics';
import { readableText } from './readable-text';
import { earliestNextRequest, respectBudget, type RateLimitBudget } from '../shared/request-pacing';

export interface PollInput {
  orgId: string;
  credential: CredentialRef;
  /** `meta.next` of the previous page; null for the first request of a stream. */
  cursor: string | null;
  /** Event-time bounds in epoch ms, sent with the first request of a stream (the cursor carries them after). */
  from?: number;
  to?: number;
  /** Events asked for per page; a page over the size cap is re-read with fewer (see the outcome's `pageLimit`). */
  limit: number;
  /**
   * Read up to this many pages in one go while the pauses between them are short (a budget of several requests a
   * second), pacing them here: a workflow timer cannot wait less than about a second. @default 1
   */
  maxPages?: number;
  /** Epoch ms before which the first request must not go (the pacer's verdict, when it was under a timer's reach). */
  notBefore?: number;
  /** The org's own cap, applied between the requests of a batch. @default unlimited */
  maxRequestsPerMinute?: number;
  /** Epoch ms after which no further page is started (for a backfill: the tail is due). */
  stopAfter?: number;
  /** While a stream re-reads after losing its cursor: events processed before this (epoch ms) were delivered already. */
  dropProcessedBefore?: number;
  /** A backfill's event-time range [from, to) in epoch ms: events outside it are not kept (malformed ones always are). */
  keepTimeRange?: { from: number; to: number };
}

/** What the workflow learns of the events a poll kept: where they wait, and what it needs for dedupe and watermarks. */
export interface StoredEvents extends StoredPage {
  /** The dedupe key of each kept event, in stream order (eventKey). */
  keys: string[];
  /** The latest `processedAt` among them, epoch ms. */
  lastProcessedAt: number | null;
}

export type PollOutcome =
  | {
      kind: 'page';
      /** Events read, each ID once, before `dropProcessedBefore` and `keepTimeRange` were applied. */
      eventsRead: number;
      /** The events kept, waiting in this worker's page store for map and ship; null when none were. */
      stored: StoredEvents | null;
      /** Where the next poll continues; Atlassian returns one even on the last page. */
      nextCursor: string | null;
      budget: RateLimitBudget;
      /** Pages used (a page re-read smaller, or left for the next poll, is not counted). */
      pages: number;
      /** Requests sent: re-reads of an oversized page, a 429 or a failure after the first page included. */
      requests: number;
      /** The last page read had no events (or no next cursor): the stream has nothing more for now. */
      reachedEnd: boolean;
      /** Epoch ms when the org's next request may go (the activity is the one owner of this; shared/request-pacing.ts). */
      nextRequestAt: number;
      /** A 429 came after some pages: they are delivered first, then the workflow waits this long. */
      rateLimitedForMs?: number;
      /** Repeats of an event ID within this poll, and events delivered before `dropProcessedBefore`, dropped here. */
      repeatsDropped: number;
      /**
       * The `limit` the last request used: lower than the input's when pages had to shrink to fit the size cap.
       * A poll that could not re-read its first page smaller in time returns `pages: 0` and this: the next poll
       * must ask with it, as the full page would be oversized again. Growing it back later is the caller's choice.
       */
      pageLimit: number;
      /**
       * True when the last page came back with the cursor it was asked with and only events already in this poll or
       * none new: the stream did not advance. A page that repeats its cursor always ends the batch; when it is the
       * poll's first, its events are new to the poll (so this is false) and `nextCursor` equals the input cursor.
       */
      cursorStuck: boolean;
    }
  | { kind: 'rateLimited'; retryAfterMs: number; budget: RateLimitBudget; nextRequestAt: number; requests: number };

type PageOutcome = Extract<PollOutcome, { kind: 'page' }>;
type RateLimitedOutcome = Extract<PollOutcome, { kind: 'rateLimited' }>;

/** A batch of pages as read, before its events are filtered and stored. */
export type BatchRead =
  | (Omit<PageOutcome, 'eventsRead' | 'stored'> & {
      /** The events of every page read, in stream order, each ID once. */
      events: PolledEvent[];
      /** The size of the page bodies they came from. */
      bytes: number;
    })
  | RateLimitedOutcome;
type BatchSoFar = Omit<Extract<BatchRead, { kind: 'page' }>, 'kind' | 'nextRequestAt' | 'rateLimitedForMs'>;

export interface PollDependencies {
  atlassianBaseUrl: string;
  dispatcher: Dispatcher;
  env: NodeJS.ProcessEnv;
  /** @default DEFAULT_CREDENTIAL_POLICY */
  credentialPolicy?: CredentialPolicy;
  now: () => number;
}

/**
 * A poll's events go to Datadog in one intake request when they can (reference datadog-logs.md §1.4: 1,000 logs,
 * 5 MB): a worker killed between Datadog's 202 and Temporal recording the ship then repeats one request at most.
 * Logs are 1.02–2.74 times the page bodies they come from (measured against the stand-in: 2.74 for the smallest
 * events, whose fixed fields dominate), so the bodies of one poll stay under `MAX_BATCH_BYTES`, judged by the page
 * before, and a poll stops before a page that could take it past `MAX_BATCH_EVENTS`.
 */
const MAX_BATCH_EVENTS = DATADOG_INTAKE_LIMITS.maxEntriesPerRequest;
const MAX_BATCH_BYTES = Math.floor(DATADOG_INTAKE_LIMITS.maxRequestBytes / 2.75);

/** A page over this is re-read with half the limit: it could not go to Datadog in one request. */
const MAX_PAGE_BYTES = MAX_BATCH_BYTES;

/**
 * An event too large for one intake request on its own travels as a `malformed` element: its ID, its times and
 * action, and this many characters of its JSON, however large the event.
 */
const OVERSIZED_PREVIEW_CHARS = 4_000;

/**
 * After a full page (a backlog), a poll goes on reading while the pause before the next request is at most this:
 * it covers the default pace of 50 requests a minute (1.2 s apart), so a backfill or a tail catching up reads an
 * intake request's worth (five pages of 200) per poll instead of one page per poll and a workflow timer between,
 * at about a fifth of the Temporal actions. After a short page the stream is near its head, and what was read is
 * delivered unless the next request is due within `MAX_WAIT_AFTER_SHORT_PAGE_MS`: a trickle of new events must not
 * wait in a batch. Shorter pauses before a poll's first page are slept too (`notBefore`).
 */
const MAX_WAIT_AFTER_FULL_PAGE_MS = 1_500;
const MAX_WAIT_AFTER_SHORT_PAGE_MS = 250;

/** One page as read: its elements (IDs of malformed ones already given), its cursor and the size of its body. */
interface ReadPage {
  kind: 'page';
  elements: PolledEvent[];
  nextCursor: string | null;
  budget: RateLimitBudget;
  bytes: number;
}

/** One request's answer: a page, or a 429. */
type PageResponse = ReadPage | { kind: 'rateLimited'; retryAfterMs: number; budget: RateLimitBudget };

/**
 * The poll activity (registered as `pollEventsPage`, the name recorded histories use): reads a batch of pages and
 * keeps the events the workflow may need in this worker's page store (see `readBatch` and `keep`).
 */
export async function pollEventsPage(deps: PollDependencies & { pageStore: PageStore }, input: PollInput): Promise<PollOutcome> {
  const read = await readBatch(deps, input);
  return read.kind === 'page' ? keep(deps.pageStore, input, read) : read;
}

/**
 * Reads a batch of pages of `GET /admin/v1/orgs/{orgId}/events-stream` from `cursor`, as many as `maxPages`, the
 * batch's caps (one intake request) and the budget allow without a workflow timer. A 429 is returned, not thrown, so the workflow can wait durably and
 * visibly; 401/403/404 are non-retryable; everything else (5xx, resets, timeouts, a body that is not the documented
 * page) is thrown as retryable and Temporal tries again with backoff. A failure after the first page ends the batch
 * instead: what was read is returned, and the next poll meets the failure again from the cursor after it.
 *
 * Pages nobody here wrote: a page whose body is over `MAX_PAGE_BYTES` is re-read from the same cursor with half
 * the limit (the smaller limit stays for the batch); an event ID seen before in this poll is dropped; a short page
 * is not the end (Atlassian may serve fewer than asked), an empty one is; a page that comes back with the cursor it
 * was asked with ends the batch, so a cursor that does not advance is read once per poll.
 */
export async function readBatch(deps: PollDependencies, input: PollInput): Promise<BatchRead> {
  const apiKey = await resolveCredential(input.credential, 'atlassian', deps.env, deps.credentialPolicy);
  const maxPages = input.maxPages ?? 1;
  const batch: BatchSoFar = {
    events: [],
    bytes: 0,
    nextCursor: input.cursor,
    budget: {},
    pages: 0,
    requests: 0,
    reachedEnd: false,
    repeatsDropped: 0,
    pageLimit: input.limit,
    cursorStuck: false,
  };
  const seenIds = new Set<string>();
  let sendAt = input.notBefore ?? deps.now();
  const outcome = (extra: { nextRequestAt: number; rateLimitedForMs?: number }): BatchRead => ({ kind: 'page', ...batch, ...extra });
  /** Whether the request after one paced to `nextRequestAt` still belongs in this poll. */
  const mayContinue = (nextRequestAt: number, after: 'full page' | 'short page') =>
    nextRequestAt - deps.now() <= (after === 'full page' ? MAX_WAIT_AFTER_FULL_PAGE_MS : MAX_WAIT_AFTER_SHORT_PAGE_MS) &&
    (input.stopAfter === undefined || nextRequestAt < input.stopAfter);

  for (;;) {
    await sleepUntil(sendAt, deps.now);
    const sentAt = deps.now();
    const cursor = batch.pages === 0 ? input.cursor : batch.nextCursor;
    let response: PageResponse;
    try {
      response = await requestPage(deps, apiKey, { ...input, cursor, limit: batch.pageLimit });
    } catch (err) {
      if (refusedPageSize(err, batch.pageLimit)) {
        // Peers page at 500, which Atlassian does not document (reference §11): a refusal of the size is
        // answered by asking for the documented default, never by sending the same request again.
        batch.requests++;
        batch.pageLimit = DOCUMENTED_PAGE_SIZE;
        const nextRequestAt = earliestNextRequest(sentAt, input.maxRequestsPerMinute);
        if (!mayContinue(nextRequestAt, 'full page')) return outcome({ nextRequestAt });
        sendAt = nextRequestAt;
        continue;
      }
      if (batch.pages === 0) throw err;
      batch.requests++;
      Context.current().log.warn('Atlassian request failed after some pages of a poll; returning those, the next poll retries', {
        orgId: input.orgId,
        pages: batch.pages,
        error: (err as Error).message,
      });
      return outcome({ nextRequestAt: earliestNextRequest(sentAt, input.maxRequestsPerMinute) });
    }
    batch.requests++;
    batch.budget = response.budget;
    const pacedTo = respectBudget(earliestNextRequest(sentAt, input.maxRequestsPerMinute), response.budget, deps.now());
    if (response.kind === 'rateLimited') {
      const nextRequestAt = Math.max(pacedTo, deps.now() + response.retryAfterMs);
      if (batch.pages === 0) return { ...response, nextRequestAt, requests: batch.requests };
      return outcome({ nextRequestAt, rateLimitedForMs: response.retryAfterMs });
    }
    const nextRequestAt = pacedTo;

    if (response.bytes > MAX_PAGE_BYTES && response.elements.length > 1 && batch.pageLimit > 1) {
      // Halved from what was served, not from what was asked: a server that serves fewer than asked would
      // otherwise answer the "smaller" request with the same oversized page.
      batch.pageLimit = Math.max(1, Math.floor(Math.min(batch.pageLimit, response.elements.length) / 2));
      if (!mayContinue(nextRequestAt, 'full page')) return outcome({ nextRequestAt });
      sendAt = nextRequestAt;
      continue;
    }
    const page = response.bytes > MAX_PAGE_BYTES ? withOversizedElementsPreviewed(response) : response;
    if (batch.pages > 0 && batch.bytes + page.bytes > MAX_BATCH_BYTES) return outcome({ nextRequestAt });

    let newEvents = 0;
    for (const element of page.elements) {
      if (seenIds.has(element.id)) {
        batch.repeatsDropped++;
        continue;
      }
      seenIds.add(element.id);
      batch.events.push(element);
      newEvents++;
    }
    const cursorRepeated = page.nextCursor !== null && page.nextCursor === cursor;
    batch.nextCursor = page.nextCursor ?? batch.nextCursor;
    batch.pages++;
    batch.bytes += page.bytes;
    batch.reachedEnd = page.elements.length === 0 || page.nextCursor === null;
    batch.cursorStuck = cursorRepeated && page.elements.length > 0 && newEvents === 0;
    const batchIsDone =
      batch.reachedEnd ||
      cursorRepeated ||
      batch.pages >= maxPages ||
      batch.bytes + page.bytes > MAX_BATCH_BYTES ||
      batch.events.length + batch.pageLimit > MAX_BATCH_EVENTS ||
      !mayContinue(nextRequestAt, page.elements.length >= batch.pageLimit ? 'full page' : 'short page');
    if (batchIsDone) return outcome({ nextRequestAt });
    sendAt = nextRequestAt;
  }
}

/**
 * The batch's outcome: the events that pass the watermark and range filters go to the page store, and only their
 * reference and dedupe keys into the result.
 */
function keep(store: PageStore, input: PollInput, batch: Extract<BatchRead, { kind: 'page' }>): PageOutcome {
  const { events, bytes, ...rest } = batch;
  const notDelivered = events.filter((e) => !deliveredBefore(e, input.dropProcessedBefore));
  const kept = notDelivered.filter((e) => withinTimeRange(e, input.keepTimeRange));
  let lastProcessedAt: number | null = null;
  for (const e of kept) {
    const processed = processedAtOf(e);
    if (processed !== null && (lastProcessedAt === null || processed > lastProcessedAt)) lastProcessedAt = processed;
  }
  const stored =
    kept.length === 0 ? null : { ...store.putEvents(input.orgId, kept, bytes), keys: kept.map((e) => eventKey(e.id)), lastProcessedAt };
  return {
    ...rest,
    eventsRead: events.length,
    stored,
    repeatsDropped: rest.repeatsDropped + events.length - notDelivered.length,
  };
}

function deliveredBefore(polled: PolledEvent, watermark: number | undefined): boolean {
  if (watermark === undefined) return false;
  const processed = processedAtOf(polled);
  return processed !== null && processed < watermark;
}

function withinTimeRange(polled: PolledEvent, range: PollInput['keepTimeRange']): boolean {
  // Malformed elements have no trustworthy time: keep them rather than risk losing one.
  if (range === undefined || polled.kind !== 'event') return true;
  const time = Date.parse(polled.event.attributes.time);
  return !(time >= range.to || time < range.from);
}

function processedAtOf(polled: PolledEvent): number | null {
  if (polled.kind !== 'event' || !polled.event.attributes.processedAt) return null;
  const ms = Date.parse(polled.event.attributes.processedAt);
  return Number.isFinite(ms) ? ms : null;
}

/**
 * A page over the cap that cannot be made smaller (one element, or `limit` 1 already). Each element too large on
 * its own is replaced by a `malformed` element carrying a preview, rather than cut like an oversized Datadog log
 * (oversized-log.ts): that cut works on a mapped log and may turn the event into one JSON string first
 * (attribute-limits.ts), so it cannot be applied to an event here; and a cut event would reach Datadog looking
 * whole, while a `malformed` one is shipped marked (`status: warn`, `atlassian.parse_error` saying why) by the
 * map as it is today. No event is silently dropped: the element keeps its ID, which the map puts in
 * `atlassian.event_id`, and its times, which date the log; with them an operator finds the whole event in
 * Atlassian's admin UI or with the filtered `GET /events` endpoint around that time (the by-ID endpoint is
 * retired on 2026-12-21).
 */
function withOversizedElementsPreviewed(page: ReadPage): ReadPage {
  const elements = page.elements.map((element) => {
    const json = JSON.stringify(element.kind === 'event' ? element.event : element.raw) ?? '';
    const bytes = Buffer.byteLength(json, 'utf8');
    return bytes > MAX_PAGE_BYTES ? oversizedPreview(element, json, bytes) : element;
  });
  return { ...page, elements, bytes: Buffer.byteLength(JSON.stringify(elements), 'utf8') };
}

function oversizedPreview(element: PolledEvent, json: string, bytes: number): PolledEvent {
  const raw = element.kind === 'event' ? element.event : element.raw;
  const attributes = isRecord(raw) && isRecord(raw.attributes) ? raw.attributes : {};
  const identity = Object.fromEntries(
    (['time', 'processedAt', 'action'] as const).flatMap((key) => {
      const value = attributes[key];
      return typeof value === 'string' ? [[key, readableText(value, 200)]] : [];
    })
  );
  const reason = `event of ${bytes} bytes is larger than one poll may carry (${MAX_PAGE_BYTES} bytes); its first ${OVERSIZED_PREVIEW_CHARS} characters are kept in preview`;
  return {
    kind: 'malformed',
    id: element.id,
    raw: { id: element.id, attributes: identity, preview: readableText(json, OVERSIZED_PREVIEW_CHARS) },
    problem: element.kind === 'malformed' ? `${element.problem}; ${reason}` : reason,
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

async function sleepUntil(at: number, now: () => number): Promise<void> {
  const ms = at - now();
  // Context.sleep ends early with a CancelledFailure when the activity is cancelled.
  if (ms > 0) await Context.current().sleep(ms);
}

async function requestPage(
  deps: PollDependencies,
  apiKey: string,
  input: PollInput
): Promise<PageResponse> {
  const url = new URL(`admin/v1/orgs/${encodeURIComponent(input.orgId)}/events-stream`, withSlash(deps.atlassianBaseUrl));
  url.searchParams.set('limit', String(input.limit));
  if (input.cursor) {
    url.searchParams.set('cursor', input.cursor);
  } else {
    url.searchParams.set('sortOrder', 'asc');
    if (input.from !== undefined) url.searchParams.set('from', String(input.from));
    if (input.to !== undefined) url.searchParams.set('to', String(input.to));
  }

  let response: Dispatcher.ResponseData;
  try {
    response = await request(url, {
      method: 'GET',
      dispatcher: deps.dispatcher,
      headers: { authorization: `Bearer ${apiKey}`, accept: 'application/json' },
      signal: Context.current().cancellationSignal,
    });
  } catch (err) {
    recordAtlassianRequest(input.orgId, 'events-stream', 'transport-error');
    throw transportFailure('Atlassian', err);
  }
  recordAtlassianRequest(input.orgId, 'events-stream', response.statusCode);

  const budget = readBudget(response.headers);
  const status = response.statusCode;
  if (status === 429) {
    await response.body.dump();
    return { kind: 'rateLimited', retryAfterMs: rateLimitWaitMs(response.headers, deps.now()), budget };
  }
  let text: string;
  try {
    text = await response.body.text();
  } catch (err) {
    throw transportFailure('Atlassian', err);
  }
  if (status !== 200) throw statusFailure(status, text, url);
  return { kind: 'page', ...parsePage(text, url), budget, bytes: Buffer.byteLength(text, 'utf8') };
}

function parsePage(text: string, url: URL): Pick<ReadPage, 'elements' | 'nextCursor'> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw ApplicationFailure.create({
      type: FailureType.AtlassianInvalidResponse,
      message: `Atlassian returned a body that is not JSON from ${safeUrl(url)}`,
    });
  }
  const page = pollingPageSchema.safeParse(json);
  if (!page.success) {
    throw ApplicationFailure.create({
      type: FailureType.AtlassianInvalidResponse,
      message: `Atlassian returned JSON that is not an events-stream page from ${safeUrl(url)}: ${page.error.issues
        .map((issue) => `${issue.path.join('.') || '(root)'} ${issue.message}`)
        .join('; ')}`,
    });
  }
  const identicalSoFar = new Map<string, number>();
  const elements = page.data.data.map((raw) => toPolledEvent(raw, identicalSoFar));
  return { elements, nextCursor: page.data.meta?.next ?? null };
}

/**
 * `identicalSoFar` counts, per content hash, the malformed elements without an ID met so far on the page. Such an
 * element still needs a key for dedupe that a re-read of the page gives again: its content, and which occurrence
 * of that content it is on the page, so that two identical elements are two events and not a repeat.
 */
function toPolledEvent(raw: unknown, identicalSoFar: Map<string, number>): PolledEvent {
  const parsed = atlassianEventSchema.safeParse(raw);
  if (parsed.success) return { kind: 'event', id: parsed.data.id, event: parsed.data };
  const rawId = (raw as { id?: unknown } | null)?.id;
  const problem = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`).join('; ');
  if (typeof rawId === 'string' && rawId) return { kind: 'malformed', id: rawId, raw, problem };
  const hash = createHash('sha256').update(JSON.stringify(raw) ?? String(raw)).digest('hex').slice(0, 16);
  const occurrence = (identicalSoFar.get(hash) ?? 0) + 1;
  identicalSoFar.set(hash, occurrence);
  return { kind: 'malformed', id: `malformed:${hash}:${occurrence}`, raw, problem };
}

/** The page size Atlassian documents for `events-stream` (reference §3): what a refused larger size falls back to. */
const DOCUMENTED_PAGE_SIZE = 200;

/** A 400 (other than a refused cursor) to a request for more than the documented page size. */
function refusedPageSize(err: unknown, limit: number): boolean {
  return limit > DOCUMENTED_PAGE_SIZE && err instanceof ApplicationFailure && err.type === FailureType.AtlassianBadRequest;
}

/** How Atlassian words its refusal of an organization without the audit log entitlement (reference §11). */
const ENTITLEMENT_REFUSAL = /entitlement validation failed/i;

/** Atlassian's code for a page cursor it does not accept (reference §6). */
const INVALID_CURSOR_CODE = 'ADMIN-400-1';
const ATLASSIAN_OWNED: FailureDetails = { owner: CredentialOwner.Atlassian };

function statusFailure(status: number, body: string, url: URL): ApplicationFailure {
  const where = safeUrl(url);
  const code = atlassianErrorCode(body);
  const suffix = code ? ` (${code})` : '';
  // The refusal's wording is all that tells a missing plan from a bad key (reference §11); a new key fixes neither.
  if (status >= 400 && status < 500 && ENTITLEMENT_REFUSAL.test(body)) {
    return ApplicationFailure.nonRetryable(
      `Atlassian refused the audit log of this organization (${status}${suffix}: audit log entitlement validation failed): its plan needs Atlassian Guard Standard or higher, or Cloud Enterprise`,
      FailureType.AtlassianEntitlementMissing
    );
  }
  if (status === 401 || status === 403) {
    return ApplicationFailure.create({
      type: FailureType.AtlassianAuthFailed,
      message: `Atlassian refused the API key with ${status}${suffix} at ${where}`,
      nonRetryable: true,
      details: [ATLASSIAN_OWNED],
    });
  }
  if (status === 404) {
    return ApplicationFailure.create({
      type: FailureType.AtlassianOrgNotFound,
      message: `Atlassian does not know this organization (404${suffix}) at ${where}`,
      nonRetryable: true,
      details: [ATLASSIAN_OWNED],
    });
  }
  if (status === 400 && code === INVALID_CURSOR_CODE) {
    return ApplicationFailure.nonRetryable(`Atlassian refused the cursor (400${suffix}) at ${where}`, FailureType.AtlassianCursorRefused);
  }
  if (status === 400) {
    return ApplicationFailure.nonRetryable(`Atlassian rejected the request (400${suffix}) at ${where}`, FailureType.AtlassianBadRequest);
  }
  return ApplicationFailure.create({ type: FailureType.AtlassianServerError, message: `Atlassian answered ${status}${suffix} at ${where}` });
}

/** The `code` of a JSON:API error body (`ADMIN-400-1`), which is safe to show; the rest of the body is not kept. */
function atlassianErrorCode(body: string): string | undefined {
  try {
    const code = (JSON.parse(body) as { errors?: Array<{ code?: unknown }> }).errors?.[0]?.code;
    return typeof code === 'string' && /^[A-Z0-9-]{1,40}$/.test(code) ? code : undefined;
  } catch {
    return undefined;
  }
}

function readBudget(headers: Record<string, string | string[] | undefined>): RateLimitBudget {
  const number = (name: string) => {
    const value = Number(headers[name]);
    return Number.isFinite(value) && headers[name] !== undefined ? value : undefined;
  };
  const resetHeader = headers['x-ratelimit-reset'];
  return {
    limit: number('x-ratelimit-limit'),
    remaining: number('x-ratelimit-remaining'),
    resetAt: parseRateLimitReset(Array.isArray(resetHeader) ? resetHeader[0] : resetHeader),
  };
}

function withSlash(base: string): string {
  return base.endsWith('/') ? base : `${base}/`;
}
