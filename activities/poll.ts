import { createHash } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Dispatcher } from 'undici';
import { request } from 'undici';
import type { CredentialRef } from '../shared/credential-ref';
import { atlassianEventSchema, pollingPageSchema } from './atlassian-schema';
import { resolveCredential } from './credentials';
import { CredentialOwner, FailureType, type FailureDetails } from '../shared/failure-types';
import { safeUrl, transportFailure } from './http-client';
import type { PolledEvent } from './polled-event';
import { parseRateLimitReset, rateLimitWaitMs } from './rate-limit-headers';
import { recordAtlassianRequest } from './activity-metrics';
import { earliestNextRequest, respectBudget, type RateLimitBudget } from '../shared/request-pacing';

export interface PollPageInput {
  orgId: string;
  credential: CredentialRef;
  /** `meta.next` of the previous page; null for the first request of a stream. */
  cursor: string | null;
  /** Event-time bounds in epoch ms, sent with the first request of a stream (the cursor carries them after). */
  from?: number;
  to?: number;
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
}

/** The fields marked optional are absent from outcomes recorded before batches existed: read them as one page. */
export type PollPageOutcome =
  | {
      kind: 'page';
      /** The events of every page read, in stream order. */
      events: PolledEvent[];
      /** Where the next poll continues; Atlassian returns one even on the last page. */
      nextCursor: string | null;
      /** `processedAt` of the last event read: the tail's watermark. */
      lastProcessedAt: string | null;
      budget: RateLimitBudget;
      /** Pages read (each `limit` events or, the last one of the stream, fewer). @default 1 */
      pages?: number;
      /** Requests sent, a 429 or a failure after the first page included. @default 1 */
      requests?: number;
      /** The last page read was short: the stream has nothing more for now. */
      reachedEnd?: boolean;
      /** Epoch ms when the org's next request may go, by its cap and Atlassian's headers. */
      nextRequestAt?: number;
      /** A 429 came after some pages: they are delivered first, then the workflow waits this long. */
      rateLimitedForMs?: number;
    }
  | { kind: 'rateLimited'; retryAfterMs: number; budget: RateLimitBudget };

export interface PollDependencies {
  atlassianBaseUrl: string;
  dispatcher: Dispatcher;
  env: NodeJS.ProcessEnv;
  now: () => number;
}

/**
 * A poll reads no page that would take its bodies past this many bytes (judged by the page before). The batch passes
 * through history, and its Datadog logs are about twice its size: this keeps them under the SDK's 512 KiB payload
 * warning.
 */
const MAX_BATCH_BYTES = 192 * 1024;

/**
 * The pages read so far wait in the activity for the batch to end: a longer pause before the next one would delay
 * their delivery more than a separate poll costs. Shorter pauses before a poll's first page are slept too (`notBefore`).
 */
const MAX_WAIT_WITHIN_BATCH_MS = 250;

/** One request's answer: a page with the size of its body, or a 429. */
type PageResponse =
  | (Pick<Extract<PollPageOutcome, { kind: 'page' }>, 'kind' | 'events' | 'nextCursor' | 'lastProcessedAt' | 'budget'> & { bytes: number })
  | Extract<PollPageOutcome, { kind: 'rateLimited' }>;

/**
 * Reads `GET /admin/v1/orgs/{orgId}/events-stream` from `cursor`: one page, or with `maxPages` as many as the
 * budget allows without a workflow timer. A 429 is returned, not thrown, so the workflow can wait durably and
 * visibly; 401/403/404 are non-retryable; everything else (5xx, resets, timeouts, a body that is not the documented
 * page) is thrown as retryable and Temporal tries again with backoff. A failure after the first page ends the batch
 * instead: what was read is returned, and the next poll meets the failure again from the cursor after it.
 */
export async function pollEventsPage(deps: PollDependencies, input: PollPageInput): Promise<PollPageOutcome> {
  const apiKey = await resolveCredential(input.credential, 'atlassian', deps.env);
  const maxPages = input.maxPages ?? 1;
  const batch = {
    events: [] as PolledEvent[],
    nextCursor: input.cursor,
    lastProcessedAt: null as string | null,
    budget: {} as RateLimitBudget,
    pages: 0,
    requests: 0,
    reachedEnd: false,
  };
  let batchBytes = 0;
  let sendAt = input.notBefore ?? deps.now();
  const outcome = (extra: { nextRequestAt: number; rateLimitedForMs?: number }): PollPageOutcome => ({ kind: 'page', ...batch, ...extra });

  for (;;) {
    await sleepUntil(sendAt, deps.now);
    const sentAt = deps.now();
    let response: PageResponse;
    try {
      response = await requestPage(deps, apiKey, { ...input, cursor: batch.pages === 0 ? input.cursor : batch.nextCursor });
    } catch (err) {
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
    const nextRequestAt = respectBudget(earliestNextRequest(sentAt, input.maxRequestsPerMinute), response.budget, deps.now());
    if (response.kind === 'rateLimited') {
      if (batch.pages === 0) return response;
      return outcome({ nextRequestAt, rateLimitedForMs: response.retryAfterMs });
    }
    batch.events.push(...response.events);
    batch.nextCursor = response.nextCursor ?? batch.nextCursor;
    batch.lastProcessedAt = response.lastProcessedAt ?? batch.lastProcessedAt;
    batch.budget = response.budget;
    batch.pages++;
    batchBytes += response.bytes;
    batch.reachedEnd = response.events.length < input.limit;
    const batchIsDone =
      batch.reachedEnd ||
      response.nextCursor === null ||
      batch.pages >= maxPages ||
      batchBytes + response.bytes > MAX_BATCH_BYTES ||
      nextRequestAt - deps.now() > MAX_WAIT_WITHIN_BATCH_MS ||
      (input.stopAfter !== undefined && nextRequestAt >= input.stopAfter);
    if (batchIsDone) return outcome({ nextRequestAt });
    sendAt = nextRequestAt;
  }
}

async function sleepUntil(at: number, now: () => number): Promise<void> {
  const ms = at - now();
  // Context.sleep ends early with a CancelledFailure when the activity is cancelled.
  if (ms > 0) await Context.current().sleep(ms);
}

async function requestPage(
  deps: PollDependencies,
  apiKey: string,
  input: PollPageInput
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
  return { kind: 'page', ...parsePage(text, url), budget, bytes: text.length };
}

function parsePage(text: string, url: URL): Pick<Extract<PollPageOutcome, { kind: 'page' }>, 'events' | 'nextCursor' | 'lastProcessedAt'> {
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
  const events = page.data.data.map(toPolledEvent);
  const lastProcessed = [...events].reverse().find((e) => e.kind === 'event');
  return {
    events,
    nextCursor: page.data.meta?.next ?? null,
    lastProcessedAt: lastProcessed?.kind === 'event' ? (lastProcessed.event.attributes.processedAt ?? null) : null,
  };
}

function toPolledEvent(raw: unknown, index: number): PolledEvent {
  const parsed = atlassianEventSchema.safeParse(raw);
  if (parsed.success) return { kind: 'event', id: parsed.data.id, event: parsed.data };
  const rawId = (raw as { id?: unknown } | null)?.id;
  return {
    kind: 'malformed',
    // An element without an ID still needs a stable key for dedupe: its content is stable across re-reads.
    id: typeof rawId === 'string' && rawId ? rawId : `malformed:${createHash('sha256').update(JSON.stringify(raw) ?? String(index)).digest('hex').slice(0, 16)}`,
    raw,
    problem: parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`).join('; '),
  };
}

/** Atlassian's code for a page cursor it does not accept (reference §6). */
const INVALID_CURSOR_CODE = 'ADMIN-400-1';
const ATLASSIAN_OWNED: FailureDetails = { owner: CredentialOwner.Atlassian };

function statusFailure(status: number, body: string, url: URL): ApplicationFailure {
  const where = safeUrl(url);
  const code = atlassianErrorCode(body);
  const suffix = code ? ` (${code})` : '';
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
