/**
 * The poll activity against the Atlassian stand-in: each HTTP answer becomes the typed outcome the workflow expects,
 * and the events it keeps wait in the worker's page store (read back here), not in the outcome.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ApplicationFailure } from '@temporalio/common';
import { createHttpAgent } from '../../activities/http-client';
import { FailureType } from '../../shared/failure-types';
import { pollEventsPage, type PollDependencies, type PollInput, type PollOutcome } from '../../activities/poll';
import { mapPolledEvent, mapPolledEvents } from '../../activities/map-event';
import { PageStore } from '../../activities/page-store';
import { eventKey, type PolledEvent } from '../../activities/polled-event';
import { chunkForIntake } from '../../activities/ship';
import { AtlassianStandin, usersContext } from '../../dev/standins/atlassian-standin';
import { activityEnvironment } from '../support/activity-environment';

const ORG = 'org-under-test';
const KEY = 'poll-test-key-3e1f';
let standin: AtlassianStandin;
let deps: PollDependencies & { pageStore: PageStore };
const store = new PageStore({ taskQueue: 'test-pages' });
const dispatcher = createHttpAgent({ headersTimeoutMs: 1_000, bodyTimeoutMs: 1_000 });

beforeAll(async () => {
  standin = await AtlassianStandin.start();
  standin.addOrg(ORG, { apiKeys: [KEY] });
  deps = { atlassianBaseUrl: standin.url, dispatcher, env: { ATLASSIAN_API_KEY: KEY }, now: Date.now, pageStore: store };
});

afterAll(async () => {
  await standin.close();
  await dispatcher.close();
});

const input = (overrides: Partial<PollInput> = {}): PollInput => ({
  orgId: ORG,
  credential: { ref: 'env:ATLASSIAN_API_KEY', version: 1 },
  cursor: null,
  from: 0,
  limit: 2,
  ...overrides,
});

function poll(overrides: Partial<PollInput> = {}, pollDeps = deps): Promise<PollOutcome> {
  return activityEnvironment().run(pollEventsPage, pollDeps, input(overrides)) as Promise<PollOutcome>;
}

type PageOutcome = Extract<PollOutcome, { kind: 'page' }>;

/** The events a poll kept, read back from the page store as the map activity would; none when it stored nothing. */
function storedEvents(outcome: PageOutcome, orgId = ORG, pageStore = store): PolledEvent[] {
  if (outcome.stored === null) return [];
  expect(outcome.stored.taskQueue).toBe(pageStore.taskQueue);
  const events = pageStore.events(orgId, outcome.stored.ref);
  // The outcome names each stored event by its dedupe key, in stream order.
  expect(outcome.stored.keys).toEqual(events.map((e) => eventKey(e.id)));
  return events;
}
const storedIds = (outcome: PageOutcome, orgId = ORG) => storedEvents(outcome, orgId).map((e) => e.id);

async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e
  );
  expect(err).toBeInstanceOf(ApplicationFailure);
  return err as ApplicationFailure;
}

test('pages through events-stream with the cursor; a short page is not the end, an empty one is', async () => {
  const added = standin.addEvents(ORG, [0, 1, 2].map((i) => ({ action: 'group_created', time: Date.now() - 1000 + i })));
  const first = await poll();
  expect(first.kind).toBe('page');
  if (first.kind !== 'page') return;
  expect(storedIds(first)).toEqual(added.slice(0, 2).map((e) => e.id));
  expect(first.stored?.lastProcessedAt).toBe(Date.parse(added[1]!.attributes.processedAt!));
  expect(first).toMatchObject({ eventsRead: 2, pages: 1, requests: 1, reachedEnd: false, pageLimit: 2, repeatsDropped: 0, cursorStuck: false });
  const second = await poll({ cursor: first.nextCursor });
  if (second.kind !== 'page') throw new Error('expected a page');
  expect(storedIds(second)).toEqual([added[2]!.id]);
  expect(second.reachedEnd).toBe(false);
  const third = await poll({ cursor: second.nextCursor });
  if (third.kind !== 'page') throw new Error('expected a page');
  expect(third).toMatchObject({ eventsRead: 0, stored: null });
  expect(third.reachedEnd).toBe(true);
  expect(third.nextCursor).toBeTruthy();
});

test('401 is a non-retryable AtlassianAuthFailed naming no key', async () => {
  const failure = await failureOf(poll({}, { ...deps, env: { ATLASSIAN_API_KEY: 'wrong-key-value' } }));
  expect(failure.type).toBe(FailureType.AtlassianAuthFailed);
  expect(failure.nonRetryable).toBe(true);
  expect(failure.message).not.toContain('wrong-key-value');
  expect(failure.message).not.toContain('cursor=');
});

test('an unknown org is a non-retryable AtlassianOrgNotFound', async () => {
  const failure = await failureOf(poll({ orgId: 'no-such-org' }));
  expect(failure.type).toBe(FailureType.AtlassianOrgNotFound);
  expect(failure.nonRetryable).toBe(true);
});

test('an unresolvable credential reference is non-retryable and names the reference only', async () => {
  const failure = await failureOf(poll({ credential: { ref: 'env:ATLASSIAN_API_KEY_NOT_SET', version: 1 } }));
  expect(failure.type).toBe(FailureType.CredentialUnavailable);
  expect(failure.message).toBe('atlassian credential unavailable: env:ATLASSIAN_API_KEY_NOT_SET is not set on the worker');
});

test('429 is returned with the wait Atlassian asked for, and no request before it', async () => {
  standin.injectFault(ORG, { kind: 'rateLimit', retryAfterSeconds: 7 });
  const sentAt = Date.now();
  const outcome = await poll();
  expect(outcome).toMatchObject({ kind: 'rateLimited', retryAfterMs: 7_000, requests: 1 });
  if (outcome.kind !== 'rateLimited') return;
  expect(outcome.nextRequestAt).toBeGreaterThanOrEqual(sentAt + 7_000);
});

test('a refused cursor (400 ADMIN-400-1, here expired) is a non-retryable AtlassianCursorRefused', async () => {
  const orgId = 'expired-cursor-org';
  standin.addOrg(orgId, { apiKeys: [KEY] });
  standin.addEvents(orgId, [{ action: 'group_created', time: Date.now() }]);
  const page = await poll({ orgId });
  if (page.kind !== 'page') throw new Error('expected a page');
  standin.expireCursors(orgId);
  const failure = await failureOf(poll({ orgId, cursor: page.nextCursor }));
  expect(failure.type).toBe(FailureType.AtlassianCursorRefused);
  expect(failure.nonRetryable).toBe(true);
  expect(failure.message).not.toContain(page.nextCursor!);
});

test.each([
  [{ kind: 'status', status: 503 } as const, /Atlassian answered 503/],
  [{ kind: 'malformedBody' } as const, /not JSON/],
  [{ kind: 'wrongShape' } as const, /not an events-stream page/],
  [{ kind: 'reset' } as const, /Atlassian request failed/],
  [{ kind: 'hang', ms: 3_000 } as const, /Atlassian request failed: UND_ERR_HEADERS_TIMEOUT/],
])('%j is a retryable failure', async (fault, message) => {
  standin.injectFault(ORG, fault);
  const failure = await failureOf(poll());
  expect(failure.nonRetryable).toBe(false);
  expect(failure.message).toMatch(message);
});

test('an event that fails validation is kept, raw, with the problem', async () => {
  const [event] = standin.addEvents(ORG, [{ action: 'group_deleted', time: Date.now() }]);
  standin.injectFault(ORG, { kind: 'invalidEvent' });
  const outcome = await poll({ limit: 500 });
  if (outcome.kind !== 'page') throw new Error('expected a page');
  const events = storedEvents(outcome);
  const invalid = events.find((e) => e.kind === 'malformed');
  expect(invalid).toMatchObject({ kind: 'malformed', problem: expect.stringContaining('attributes.actor') });
  expect(events.map((e) => e.id)).toContain(event!.id);
});

describe('a batch: several pages in one poll, paced inside the activity', () => {
  let orgCount = 0;
  const newOrgWithEvents = (count: number) => {
    const orgId = `batch-org-${++orgCount}`;
    standin.addOrg(orgId, { apiKeys: [KEY] });
    const added = standin.addEvents(orgId, Array.from({ length: count }, (_, i) => ({ action: 'group_created', time: Date.now() - 10_000 + i })));
    return { orgId, ids: added.map((e) => e.id) };
  };
  const requestTimes = (orgId: string) => standin.requests.filter((r) => r.orgId === orgId).map((r) => r.at);
  const asPage = (outcome: PollOutcome) => {
    if (outcome.kind !== 'page') throw new Error(`expected pages, got ${outcome.kind}`);
    return outcome;
  };

  test('reads on from each page’s cursor until an empty page, never faster than the org’s cap', async () => {
    const { orgId, ids } = newOrgWithEvents(7);
    const batch = asPage(await poll({ orgId, maxPages: 10, maxRequestsPerMinute: 600 }));
    expect(storedIds(batch, orgId)).toEqual(ids);
    // Pages of 2, 2, 2 and 1 events, then the empty page that says the stream is caught up.
    expect(batch).toMatchObject({ pages: 5, requests: 5, reachedEnd: true });
    // 600/min: 100 ms between sends. Arrival times carry the first request's connection set-up as jitter.
    const times = requestTimes(orgId);
    expect(times.at(-1)! - times[0]!).toBeGreaterThanOrEqual(4 * 100 - 20);
    // The cursor after the batch continues the stream.
    const after = asPage(await poll({ orgId, cursor: batch.nextCursor }));
    expect(after).toMatchObject({ eventsRead: 0, stored: null });
  });

  test('at the default pace of 50 a minute a poll reads on after full pages (1.2 s apart), and delivers at the first short one', async () => {
    const { orgId, ids } = newOrgWithEvents(5);
    // Pages of 2, 2 and 1: the short page is the stream's head, and a trickle of new events must not wait in a batch.
    const batch = asPage(await poll({ orgId, maxPages: 10, maxRequestsPerMinute: 50 }));
    expect(storedIds(batch, orgId)).toEqual(ids);
    expect(batch).toMatchObject({ pages: 3, requests: 3, reachedEnd: false });
    const times = requestTimes(orgId);
    expect(Math.min(...times.slice(1).map((at, i) => at - times[i]!))).toBeGreaterThanOrEqual(1_200 - 20);
  });

  test('stops at maxPages, and before a pause too long to keep the pages read waiting', async () => {
    const { orgId, ids } = newOrgWithEvents(9);
    const capped = asPage(await poll({ orgId, maxPages: 2 }));
    expect(storedIds(capped, orgId)).toEqual(ids.slice(0, 4));
    expect(capped).toMatchObject({ pages: 2, reachedEnd: false });
    const sentAt = Date.now();
    // 30/min: 2 s to the next request, longer than a poll keeps its pages waiting (1.5 s).
    const slow = asPage(await poll({ orgId, cursor: capped.nextCursor, maxPages: 10, maxRequestsPerMinute: 30 }));
    expect(slow).toMatchObject({ pages: 1, reachedEnd: false });
    expect(storedIds(slow, orgId)).toEqual(ids.slice(4, 6));
    expect(slow.nextRequestAt - sentAt).toBeGreaterThanOrEqual(2_000);
  });

  test('the first request waits for notBefore', async () => {
    const { orgId } = newOrgWithEvents(1);
    const notBefore = Date.now() + 300;
    await poll({ orgId, notBefore, maxPages: 5 });
    expect(requestTimes(orgId)[0]).toBeGreaterThanOrEqual(notBefore);
  });

  /** Injects `fault` once the batch's first request was answered, so that the second request meets it. */
  async function faultOnSecondRequest(orgId: string, fault: Parameters<AtlassianStandin['injectFault']>[1]): Promise<void> {
    while (requestTimes(orgId).length === 0) await sleep(5);
    standin.injectFault(orgId, fault);
  }

  test('a 429 after some pages: the pages read come back with the wait Atlassian asked for', async () => {
    const { orgId, ids } = newOrgWithEvents(6);
    const polled = poll({ orgId, maxPages: 10, maxRequestsPerMinute: 300 });
    await faultOnSecondRequest(orgId, { kind: 'rateLimit', retryAfterSeconds: 4 });
    const batch = asPage(await polled);
    expect(batch).toMatchObject({ pages: 1, requests: 2, rateLimitedForMs: 4_000, reachedEnd: false });
    expect(storedIds(batch, orgId)).toEqual(ids.slice(0, 2));
  });

  test('a failure after the first page ends the batch with what was read; the next poll meets the failure', async () => {
    const { orgId, ids } = newOrgWithEvents(6);
    const polled = poll({ orgId, maxPages: 10, maxRequestsPerMinute: 300 });
    await faultOnSecondRequest(orgId, { kind: 'status', status: 503 });
    const batch = asPage(await polled);
    expect(batch).toMatchObject({ pages: 1, requests: 2, reachedEnd: false });
    expect(storedIds(batch, orgId)).toEqual(ids.slice(0, 2));
    standin.injectFault(orgId, { kind: 'malformedBody' });
    const failure = await failureOf(poll({ orgId, cursor: batch.nextCursor }));
    expect(failure.type).toBe('AtlassianInvalidResponse');
    const rest = asPage(await poll({ orgId, cursor: batch.nextCursor, maxPages: 10 }));
    expect(storedIds(rest, orgId)).toEqual(ids.slice(2));
  });

  test('a page shorter than asked (Atlassian serving fewer) does not end the batch: nothing of a range is lost', async () => {
    const { orgId, ids } = newOrgWithEvents(10);
    standin.setMaxStreamPageSize(3);
    try {
      const batch = asPage(await poll({ orgId, limit: 5, maxPages: 10 }));
      expect(storedIds(batch, orgId)).toEqual(ids);
      expect(batch).toMatchObject({ pages: 5, reachedEnd: true, pageLimit: 5 });
      const capped = asPage(await poll({ orgId, limit: 5, maxPages: 1 }));
      expect(capped).toMatchObject({ pages: 1, reachedEnd: false });
    } finally {
      standin.setMaxStreamPageSize(undefined);
    }
  });

  test('a batch stops before a page that could take it past 1000 events (one Datadog request), never past it', async () => {
    const { orgId, ids } = newOrgWithEvents(1_200);
    // Pages of 300: after three (900 events) a fourth could bring 1,200, so the batch ends there.
    const byThrees = asPage(await poll({ orgId, limit: 300, maxPages: 50 }));
    expect(byThrees).toMatchObject({ pages: 3, requests: 3, eventsRead: 900, reachedEnd: false });
    expect(storedIds(byThrees, orgId)).toEqual(ids.slice(0, 900));
    // Pages of 500: two make exactly 1,000, which one request still carries; a third is left for the next poll.
    const byFives = asPage(await poll({ orgId, limit: 500, maxPages: 50 }));
    expect(byFives).toMatchObject({ pages: 2, requests: 2, eventsRead: 1_000, reachedEnd: false });
    const events = storedEvents(byFives, orgId);
    expect(events.map((e) => e.id)).toEqual(ids.slice(0, 1_000));
    const logs = mapPolledEvents(events, { orgId, origin: 'tail', now: Date.now() });
    expect(chunkForIntake(logs)).toHaveLength(1);
    const rest = asPage(await poll({ orgId, cursor: byFives.nextCursor, limit: 500, maxPages: 50 }));
    expect(storedIds(rest, orgId)).toEqual(ids.slice(1_000));
  });
});

describe('what the poll keeps, and what it hands the workflow', () => {
  let orgCount = 0;
  const newOrg = () => {
    const orgId = `kept-org-${++orgCount}`;
    standin.addOrg(orgId, { apiKeys: [KEY] });
    return orgId;
  };
  const asPage = (outcome: PollOutcome) => {
    if (outcome.kind !== 'page') throw new Error(`expected pages, got ${outcome.kind}`);
    return outcome;
  };

  test('the outcome carries a reference and dedupe keys, never an event', async () => {
    const orgId = newOrg();
    const added = standin.addEvents(orgId, [0, 1, 2].map((i) => ({ action: 'group_created', time: Date.now() - 1_000 + i, context: usersContext(3, `secret-user-${i}`) })));
    const before = store.size.pages;
    const outcome = asPage(await poll({ orgId, limit: 10, maxPages: 10 }));
    expect(store.size.pages).toBe(before + 1);
    expect(outcome.stored).toEqual({
      ref: expect.any(String),
      taskQueue: 'test-pages',
      keys: added.map((e) => eventKey(e.id)),
      lastProcessedAt: Date.parse(added[2]!.attributes.processedAt!),
    });
    for (const key of outcome.stored!.keys) expect(key).toMatch(/^[A-Za-z0-9_-]{12}$/);
    const history = JSON.stringify(outcome);
    for (const event of added) expect(history).not.toContain(event.id);
    expect(history).not.toContain('secret-user');
    expect(history).not.toContain('group_created');
    expect(storedIds(outcome, orgId)).toEqual(added.map((e) => e.id));
  });

  test('a poll that keeps nothing stores nothing', async () => {
    const orgId = newOrg();
    const before = store.size;
    const outcome = asPage(await poll({ orgId }));
    expect(outcome).toMatchObject({ eventsRead: 0, stored: null, reachedEnd: true });
    expect(store.size).toEqual(before);
  });

  test('the dedupe key is a 12-character hash of the ID, the same on every read', () => {
    expect(eventKey('event-1')).toBe(eventKey('event-1'));
    expect(eventKey('event-1')).not.toBe(eventKey('event-2'));
    expect(eventKey('malformed:0123456789abcdef:1')).toHaveLength(12);
    expect(eventKey('event-1')).not.toContain('event-1');
  });

  test('dropProcessedBefore drops what was processed before the watermark, counted as repeats, and keeps the rest', async () => {
    const orgId = newOrg();
    const t0 = Date.now() - 60_000;
    const added = standin.addEvents(orgId, [0, 1, 2, 3].map((i) => ({ action: 'group_created', time: t0 + i, processedAt: t0 + i * 1_000 })));
    const watermark = t0 + 2_000;
    const outcome = asPage(await poll({ orgId, limit: 10, maxPages: 10, dropProcessedBefore: watermark }));
    // The event processed at the watermark itself is kept: the workflow's recent keys decide whether it repeats.
    expect(storedIds(outcome, orgId)).toEqual(added.slice(2).map((e) => e.id));
    expect(outcome).toMatchObject({ eventsRead: 4, repeatsDropped: 2 });
    expect(outcome.stored?.lastProcessedAt).toBe(t0 + 3_000);
    // Without it (a stream not re-reading), nothing is dropped.
    const all = asPage(await poll({ orgId, limit: 10, maxPages: 10 }));
    expect(storedIds(all, orgId)).toEqual(added.map((e) => e.id));
    expect(all.repeatsDropped).toBe(0);
  });

  test('a page of events all delivered before the watermark is read, counted, and not stored', async () => {
    const orgId = newOrg();
    const t0 = Date.now() - 60_000;
    standin.addEvents(orgId, [0, 1].map((i) => ({ action: 'group_created', time: t0 + i, processedAt: t0 + i })));
    const before = store.size.pages;
    const outcome = asPage(await poll({ orgId, limit: 10, dropProcessedBefore: t0 + 10_000 }));
    expect(outcome).toMatchObject({ eventsRead: 2, stored: null, repeatsDropped: 2 });
    expect(outcome.nextCursor).toBeTruthy();
    expect(store.size.pages).toBe(before);
  });

  test('keepTimeRange keeps the events whose own time is in [from, to), and every malformed element', async () => {
    const orgId = newOrg();
    const from = Date.parse('2026-06-01T00:00:00Z');
    const to = from + 3_600_000;
    const added = standin.addEvents(orgId, [from - 1, from, to - 1, to].map((time) => ({ action: 'group_created', time })));
    standin.injectFault(orgId, { kind: 'unidentifiedElements', count: 1 });
    const outcome = asPage(await poll({ orgId, limit: 10, keepTimeRange: { from, to } }));
    const kept = storedEvents(outcome, orgId);
    expect(kept.filter((e) => e.kind === 'event').map((e) => e.id)).toEqual([added[1]!.id, added[2]!.id]);
    expect(kept.filter((e) => e.kind === 'malformed')).toHaveLength(1);
    // Out of range is not a repeat: the events were read, and are simply not this range's.
    expect(outcome).toMatchObject({ eventsRead: 5, repeatsDropped: 0 });
    expect(outcome.stored?.lastProcessedAt).toBe(Date.parse(added[2]!.attributes.processedAt!));
  });
});

describe('pages nobody here wrote', () => {
  let orgCount = 0;
  const newOrg = () => {
    const orgId = `odd-pages-org-${++orgCount}`;
    standin.addOrg(orgId, { apiKeys: [KEY] });
    return orgId;
  };
  /** Events with a `context` of so many users each, ~133 bytes a user. */
  const add = (orgId: string, contexts: number[]) =>
    standin.addEvents(
      orgId,
      contexts.map((users, i) => ({ action: 'group_deleted', time: Date.now() - 10_000 + i, context: usersContext(users, `u${i}`) }))
    );
  const asPage = (outcome: PollOutcome) => {
    if (outcome.kind !== 'page') throw new Error(`expected pages, got ${outcome.kind}`);
    return outcome;
  };
  const limitsAsked = (orgId: string) => standin.requests.filter((r) => r.orgId === orgId).map((r) => r.query['limit']);
  const bytesOf = (value: unknown) => Buffer.byteLength(JSON.stringify(value));
  /** The poll's caps (activities/poll.ts): a page, and a poll's pages together, that one Datadog request can carry as logs. */
  const MAX_BATCH_BYTES = Math.floor(4_250_000 / 2.75);
  const MAX_PAGE_BYTES = MAX_BATCH_BYTES;
  /** What an outcome with a handful of keys weighs at most in history. */
  const SMALL_OUTCOME_BYTES = 2 * 1024;

  test('a page over the size cap is re-read with half the limit, which stays for the batch', async () => {
    const orgId = newOrg();
    // Four events of ~1 MB: pages of four (~4 MB) and two (~2 MB) are over the ~1.5 MB page cap, one is not.
    const added = add(orgId, [7_500, 7_500, 7_500, 7_500]);
    expect(bytesOf(added.slice(0, 2))).toBeGreaterThan(MAX_PAGE_BYTES);
    expect(bytesOf(added[0])).toBeLessThan(MAX_PAGE_BYTES);
    const batch = asPage(await poll({ orgId, limit: 4, maxPages: 10 }));
    expect(storedIds(batch, orgId)).toEqual(added.slice(0, 1).map((e) => e.id));
    // A second page would take the batch over its byte cap (judged by the first): it is left for the next poll.
    expect(batch).toMatchObject({ pages: 1, requests: 3, pageLimit: 1, reachedEnd: false });
    expect(limitsAsked(orgId)).toEqual(['4', '2', '1']);
    // The page stays on the worker; history gets its reference and one key.
    expect(bytesOf(batch)).toBeLessThan(SMALL_OUTCOME_BYTES);
    const rest = asPage(await poll({ orgId, cursor: batch.nextCursor, limit: batch.pageLimit, maxPages: 10 }));
    expect(storedIds(rest, orgId)).toEqual(added.slice(1, 2).map((e) => e.id));
  });

  test('a page that would take the batch past the byte cap (larger than the one before) is left for the next poll', async () => {
    const orgId = newOrg();
    // Pages of two: ~400 KB, then ~1.3 MB (under the cap alone, over it together), then a small one.
    const added = add(orgId, [1_500, 1_500, 4_900, 4_900, 1]);
    const [first, second] = [bytesOf(added.slice(0, 2)), bytesOf(added.slice(2, 4))];
    expect(first * 2).toBeLessThan(MAX_BATCH_BYTES);
    expect(second).toBeLessThan(MAX_PAGE_BYTES);
    expect(first + second).toBeGreaterThan(MAX_BATCH_BYTES);
    const batch = asPage(await poll({ orgId, limit: 2, maxPages: 10 }));
    expect(storedIds(batch, orgId)).toEqual(added.slice(0, 2).map((e) => e.id));
    expect(batch).toMatchObject({ pages: 1, requests: 2, pageLimit: 2 });
    const next = asPage(await poll({ orgId, cursor: batch.nextCursor, limit: 2 }));
    expect(storedIds(next, orgId)).toEqual(added.slice(2, 4).map((e) => e.id));
  });

  test('a batch of pages under the byte cap goes on, and its logs fit one Datadog request', async () => {
    const orgId = newOrg();
    // Pages of two events of ~200 KB: three pages (~1.2 MB) stay under the cap, a fourth could not.
    const added = add(orgId, [1_500, 1_500, 1_500, 1_500, 1_500, 1_500, 1_500, 1_500]);
    const batch = asPage(await poll({ orgId, limit: 2, maxPages: 10 }));
    expect(batch).toMatchObject({ pages: 3, requests: 3, pageLimit: 2, reachedEnd: false });
    const events = storedEvents(batch, orgId);
    expect(events.map((e) => e.id)).toEqual(added.slice(0, 6).map((e) => e.id));
    expect(chunkForIntake(mapPolledEvents(events, { orgId, origin: 'tail', now: Date.now() }))).toHaveLength(1);
  });

  test('an event too large even alone becomes a malformed element with its ID, times and a preview', async () => {
    const orgId = newOrg();
    const added = add(orgId, [1, 13_000, 1]);
    const [, huge] = added;
    expect(bytesOf(huge)).toBeGreaterThan(MAX_PAGE_BYTES);
    const batch = asPage(await poll({ orgId, limit: 4, maxPages: 10 }));
    const events = storedEvents(batch, orgId);
    expect(events.map((e) => e.id)).toEqual(added.map((e) => e.id));
    expect(batch).toMatchObject({ pages: 4, requests: 5, pageLimit: 1, reachedEnd: true });
    expect(limitsAsked(orgId)).toEqual(['4', '1', '1', '1', '1']);
    expect(batch.stored?.lastProcessedAt).toBe(Date.parse(added[2]!.attributes.processedAt!));
    const preview = events[1]!;
    expect(preview).toMatchObject({
      kind: 'malformed',
      id: huge!.id,
      raw: { id: huge!.id, attributes: { time: huge!.attributes.time, processedAt: huge!.attributes.processedAt, action: 'group_deleted' } },
      problem: expect.stringMatching(/^event of \d+ bytes is larger than one poll may carry/),
    });
    // The preview, not the event, waits in the page store.
    expect(bytesOf(events)).toBeLessThan(32 * 1024);
    expect(bytesOf(batch)).toBeLessThan(SMALL_OUTCOME_BYTES);
    // What the map makes of it: a marked log with the event's ID and date, so the event is never silently lost.
    const log = mapPolledEvent(preview, { orgId, origin: 'tail', now: Date.now() });
    expect(log).toMatchObject({ status: 'warn', timestamp: Date.parse(huge!.attributes.time), atlassian: { event_id: huge!.id } });
  });

  test('a first page that cannot be re-read in time returns no page, the smaller limit and the unchanged cursor', async () => {
    const orgId = newOrg();
    const added = add(orgId, [7_500, 7_500]);
    const before = store.size.pages;
    const first = asPage(await poll({ orgId, limit: 4, maxPages: 10, maxRequestsPerMinute: 30 }));
    expect(first).toMatchObject({ eventsRead: 0, stored: null, pages: 0, requests: 1, pageLimit: 1, nextCursor: null, reachedEnd: false });
    expect(store.size.pages).toBe(before);
    const retried = asPage(await poll({ orgId, limit: first.pageLimit, maxPages: 10, maxRequestsPerMinute: 30 }));
    expect(storedIds(retried, orgId)).toEqual(added.slice(0, 1).map((e) => e.id));
  });

  test.each([200, 500])('a full page of %i of the smallest events is read whole; its outcome stays small and its logs fit one request', async (limit) => {
    const orgId = newOrg();
    standin.addEvents(orgId, Array.from({ length: limit }, (_, i) => ({ action: 'group_created', time: Date.now() - 10_000 + i })));
    const batch = asPage(await poll({ orgId, limit, maxPages: 10 }));
    expect(batch.pageLimit).toBe(limit);
    const events = storedEvents(batch, orgId);
    expect(events).toHaveLength(limit);
    const logs = mapPolledEvents(events, { orgId, origin: 'tail', now: Date.now() });
    // History carries about 16 bytes an event (its key), whatever the event.
    expect(bytesOf(batch)).toBeLessThan(1_024 + 16 * limit);
    expect(chunkForIntake(logs)).toHaveLength(1);
  });

  test('a page size Atlassian refuses (400) is asked again at the documented 200, not sent again as it was', async () => {
    const capped = await AtlassianStandin.start({ maxAcceptedStreamLimit: 200 });
    try {
      const orgId = 'org-with-a-lower-maximum';
      capped.addOrg(orgId, { apiKeys: [KEY] });
      const added = capped.addEvents(orgId, Array.from({ length: 250 }, (_, i) => ({ action: 'group_created', time: Date.now() - 10_000 + i })));
      const batch = asPage(await poll({ orgId, limit: 500, maxPages: 10 }, { ...deps, atlassianBaseUrl: capped.url }));
      expect(batch.pageLimit).toBe(200);
      expect(storedIds(batch, orgId)).toEqual(added.map((e) => e.id));
      expect(capped.requests.filter((r) => r.orgId === orgId).map((r) => [r.query['limit'], r.status])).toEqual([
        ['500', 400],
        ['200', 200],
        ['200', 200],
        ['200', 200],
      ]);
    } finally {
      await capped.close();
    }
  });

  test('an event ID twice in a page is kept once', async () => {
    const orgId = newOrg();
    const added = add(orgId, [1, 1, 1]);
    standin.injectFault(orgId, { kind: 'duplicateEvent' });
    const page = asPage(await poll({ orgId, limit: 3 }));
    expect(storedIds(page, orgId)).toEqual(added.map((e) => e.id));
    expect(page).toMatchObject({ eventsRead: 3, repeatsDropped: 1 });
  });

  test('an event ID on two pages of one batch is kept once', async () => {
    const orgId = newOrg();
    const added = add(orgId, [1, 1, 1, 1]);
    standin.injectFault(orgId, { kind: 'overlappingCursor' });
    const batch = asPage(await poll({ orgId, limit: 2, maxPages: 10 }));
    expect(storedIds(batch, orgId)).toEqual(added.map((e) => e.id));
    expect(batch).toMatchObject({ repeatsDropped: 1, reachedEnd: true });
  });

  test('identical malformed elements without an ID are distinct events, with the same IDs and keys when the page is read again', async () => {
    const orgId = newOrg();
    const first = asPage(await poll({ orgId }));
    standin.injectFault(orgId, { kind: 'unidentifiedElements', count: 2 }, 2);
    const read = async () => {
      const outcome = asPage(await poll({ orgId, cursor: first.nextCursor }));
      return { events: storedEvents(outcome, orgId), keys: outcome.stored?.keys };
    };
    const once = await read();
    expect(once.events).toHaveLength(2);
    expect(once.events.every((e) => e.kind === 'malformed')).toBe(true);
    expect(once.events[0]!.id).toMatch(/^malformed:[0-9a-f]{16}:1$/);
    expect(once.events[1]!.id).toBe(once.events[0]!.id.replace(/:1$/, ':2'));
    expect(new Set(once.keys).size).toBe(2);
    const again = await read();
    expect(again.events.map((e) => e.id)).toEqual(once.events.map((e) => e.id));
    // The workflow recognises them as delivered by these keys.
    expect(again.keys).toEqual(once.keys);
  });

  test('a page that returns the cursor it was asked with ends the batch: one read per poll', async () => {
    const orgId = newOrg();
    const added = add(orgId, [1, 1, 1, 1]);
    const start = asPage(await poll({ orgId, limit: 2 }));
    standin.injectFault(orgId, { kind: 'stuckCursor' }, 10);
    for (let pollCount = 0; pollCount < 2; pollCount++) {
      const stuck = asPage(await poll({ orgId, cursor: start.nextCursor, limit: 2, maxPages: 10 }));
      expect(storedIds(stuck, orgId)).toEqual(added.slice(2).map((e) => e.id));
      // New to this poll, so not reported stuck; the unchanged cursor says the stream did not move.
      expect(stuck).toMatchObject({ pages: 1, requests: 1, nextCursor: start.nextCursor, cursorStuck: false, reachedEnd: false });
    }
  });

  test('a page that repeats its cursor with only events this poll already has is reported stuck', async () => {
    const orgId = newOrg();
    const added = add(orgId, [1, 1]);
    // Page one ([e1, e2]) points back at e1; page two, from there, holds e2 again and returns its own cursor.
    standin.injectFault(orgId, { kind: 'overlappingCursor' });
    standin.injectFault(orgId, { kind: 'stuckCursor' }, 10);
    const batch = asPage(await poll({ orgId, limit: 2, maxPages: 10 }));
    expect(storedIds(batch, orgId)).toEqual(added.map((e) => e.id));
    expect(batch).toMatchObject({ pages: 2, requests: 2, repeatsDropped: 1, cursorStuck: true, reachedEnd: false });
  });
});
