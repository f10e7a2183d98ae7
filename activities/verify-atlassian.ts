/**
 * Reading a range of event time again from Atlassian's `events-stream` for a verify: page after page through the poll
 * activity's own request code (readBatch), at the verify's own budget. Everything read stays in the activity
 * that reads it; what leaves it is counts per hour, or the IDs of one hour.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { CredentialRef } from '../shared/credential-ref';
import { respectBudget, type RateLimitBudget } from '../shared/request-pacing';
import { hourOf, type HourCounts } from '../shared/verify/verify-report';
import { readBatch, type PollDependencies } from './poll';
import type { PolledEvent } from './polled-event';
import { VerifyFailureType } from './verify-failures';

/** Where the verify's Atlassian requests stand; the workflow carries it from one activity to the next. */
export interface AtlassianPacing {
  /** The verify's own cap. */
  maxRequestsPerMinute: number;
  /** Epoch ms before which the next request must not go. */
  nextRequestAt: number;
  /** Events asked for per page; smaller once a page had to be read again smaller. */
  pageLimit: number;
}

export interface StreamRead {
  orgId: string;
  credential: CredentialRef;
  /** Event time, epoch ms: `from` inclusive, `to` exclusive. */
  from: number;
  to: number;
  /** Where to go on; null starts the range's stream. */
  cursor: string | null;
  pacing: AtlassianPacing;
  /** Epoch ms after which no further page is started. @default no limit: read to the end */
  stopAfter?: number;
}

export interface StreamReadOutcome {
  /**
   * `end`: read to the stream's end (an empty page); `paused`: `stopAfter` came first; `waiting`: the next request
   * must wait longer than an activity should sleep (Atlassian answered 429), which the workflow waits out on a timer.
   */
  kind: 'end' | 'paused' | 'waiting';
  cursor: string | null;
  pacing: AtlassianPacing;
  requests: number;
}

/** Pauses up to this long are slept in the activity; a longer one (after a 429) goes back to the workflow. */
export const MAX_WAIT_IN_ACTIVITY_MS = 30_000;

/** Pages in a row that come back with the cursor they were asked with, before the read gives up. */
const REPEATED_CURSORS_BEFORE_FAILING = 3;

/**
 * Of Atlassian's `X-RateLimit-Remaining`, which counts every request made with the key, the collector's first, the
 * verify leaves the last fifth alone: with no more than that remaining it waits for one request's worth of budget to
 * come back (respectBudget), so the collector's tail never meets a 429 for the verify's sake.
 */
const LEFT_TO_THE_COLLECTOR = 0.2;

export function leavingReserve(budget: RateLimitBudget): RateLimitBudget {
  if (budget.limit === undefined || budget.remaining === undefined) return budget;
  return budget.remaining <= Math.ceil(budget.limit * LEFT_TO_THE_COLLECTOR) ? { ...budget, remaining: 0 } : budget;
}

/**
 * Reads the range's stream from `cursor`, handing each page's elements to `onPage` (a page re-read after a repeated
 * cursor comes again: `onPage` keeps its own set of IDs). One request at a time, each paced by the verify's cap and
 * Atlassian's headers; a 429 is waited out here when short, else handed back as `waiting`.
 */
async function readStream(deps: PollDependencies, read: StreamRead, onPage: (elements: readonly PolledEvent[]) => void): Promise<StreamReadOutcome> {
  let { cursor, pacing } = read;
  let requests = 0;
  let repeatedCursors = 0;
  const outcome = (kind: StreamReadOutcome['kind']): StreamReadOutcome => ({ kind, cursor, pacing, requests });
  for (;;) {
    if (pacing.nextRequestAt - deps.now() > MAX_WAIT_IN_ACTIVITY_MS) return outcome('waiting');
    if (read.stopAfter !== undefined && Math.max(deps.now(), pacing.nextRequestAt) > read.stopAfter) return outcome('paused');
    const polled = await readBatch(deps, {
      orgId: read.orgId,
      credential: read.credential,
      cursor,
      from: read.from,
      to: read.to,
      limit: pacing.pageLimit,
      notBefore: pacing.nextRequestAt,
      maxRequestsPerMinute: pacing.maxRequestsPerMinute,
    });
    requests += polled.requests;
    if (polled.kind === 'rateLimited') {
      pacing = { ...pacing, nextRequestAt: polled.nextRequestAt };
      continue;
    }
    pacing = { ...pacing, pageLimit: polled.pageLimit, nextRequestAt: respectBudget(polled.nextRequestAt, leavingReserve(polled.budget), deps.now()) };
    // The page was over the size cap and is read again with the smaller limit.
    if (polled.pages === 0) continue;
    repeatedCursors = cursor !== null && polled.nextCursor === cursor && !polled.reachedEnd ? repeatedCursors + 1 : 0;
    if (repeatedCursors >= REPEATED_CURSORS_BEFORE_FAILING) {
      throw ApplicationFailure.create({
        type: VerifyFailureType.AtlassianStreamStuck,
        message: `Atlassian's events-stream returned the same cursor ${repeatedCursors} times in a row: the range cannot be read to its end; try again later`,
        nonRetryable: true,
      });
    }
    onPage(polled.events);
    cursor = polled.nextCursor;
    if (polled.reachedEnd) return outcome('end');
  }
}

/**
 * An element's own time, as the map dates its log: `attributes.time` of an event, or of a malformed element when it
 * has a readable one; undefined when it has none.
 */
function eventTimeOf(element: PolledEvent): number | undefined {
  const raw: unknown = element.kind === 'event' ? element.event : element.raw;
  const attributes = isRecord(raw) ? raw['attributes'] : undefined;
  const time = isRecord(attributes) ? attributes['time'] : undefined;
  const ms = typeof time === 'string' ? Date.parse(time) : Number.NaN;
  return Number.isNaN(ms) ? undefined : ms;
}

/** Counts of one stretch of the range's stream, per hour of event time; each ID counted once within the stretch. */
export interface StreamCounts {
  counts: HourCounts;
  /** Elements without a readable time: they cannot be placed in an hour. */
  undated: number;
}

/** Reads the stream as `readStream` does and counts its events by hour; elements whose time lies outside the range are left out. */
export async function countStream(deps: PollDependencies, read: StreamRead): Promise<StreamCounts & { outcome: StreamReadOutcome }> {
  const counts: HourCounts = {};
  let undated = 0;
  const seen = new Set<string>();
  const outcome = await readStream(deps, read, (elements) => {
    for (const element of elements) {
      if (seen.has(element.id)) continue;
      seen.add(element.id);
      const time = eventTimeOf(element);
      if (time === undefined) undated++;
      else if (time >= read.from && time < read.to) counts[hourOf(time)] = (counts[hourOf(time)] ?? 0) + 1;
    }
  });
  return { counts, undated, outcome };
}

/**
 * Every element of the range (one hour, for a comparison or a repair) read to the end of its stream, each ID once,
 * in stream order; elements dated outside the range, or undated, are left out. Unless `outcome.kind` is `end`, the
 * read was cut short by a long wait and `elements` is not the whole range.
 */
export async function readRange(deps: PollDependencies, read: Omit<StreamRead, 'cursor' | 'stopAfter'>): Promise<{ elements: PolledEvent[]; outcome: StreamReadOutcome }> {
  const elements = new Map<string, PolledEvent>();
  const outcome = await readStream(deps, { ...read, cursor: null }, (page) => {
    for (const element of page) {
      const time = eventTimeOf(element);
      if (time !== undefined && time >= read.from && time < read.to && !elements.has(element.id)) elements.set(element.id, element);
    }
  });
  return { elements: [...elements.values()], outcome };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
