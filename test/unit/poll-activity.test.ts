/** The poll activity against the Atlassian stand-in: each HTTP answer becomes the typed outcome the workflow expects. */
import { setTimeout as sleep } from 'node:timers/promises';
import { ApplicationFailure } from '@temporalio/common';
import { createHttpAgent } from '../../activities/http-client';
import { FailureType } from '../../shared/failure-types';
import { pollEventsPage, type PollDependencies, type PollInput, type PollOutcome } from '../../activities/poll';
import { mapPolledEvent, mapPolledEvents } from '../../activities/map-event';
import { AtlassianStandin, usersContext } from '../../dev/standins/atlassian-standin';
import { activityEnvironment } from '../support/activity-environment';

const ORG = 'org-under-test';
const KEY = 'poll-test-key-3e1f';
let standin: AtlassianStandin;
let deps: PollDependencies;
const dispatcher = createHttpAgent({ headersTimeoutMs: 1_000, bodyTimeoutMs: 1_000 });

beforeAll(async () => {
  standin = await AtlassianStandin.start();
  standin.addOrg(ORG, { apiKeys: [KEY] });
  deps = { atlassianBaseUrl: standin.url, dispatcher, env: { ATLASSIAN_API_KEY: KEY }, now: Date.now };
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
  expect(first.events.map((e) => e.id)).toEqual(added.slice(0, 2).map((e) => e.id));
  expect(first.lastProcessedAt).toBe(added[1]!.attributes.processedAt);
  expect(first).toMatchObject({ pages: 1, requests: 1, reachedEnd: false, pageLimit: 2, repeatsDropped: 0, cursorStuck: false });
  const second = await poll({ cursor: first.nextCursor });
  if (second.kind !== 'page') throw new Error('expected a page');
  expect(second.events.map((e) => e.id)).toEqual([added[2]!.id]);
  expect(second.reachedEnd).toBe(false);
  const third = await poll({ cursor: second.nextCursor });
  if (third.kind !== 'page') throw new Error('expected a page');
  expect(third.events).toEqual([]);
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
  const invalid = outcome.events.find((e) => e.kind === 'malformed');
  expect(invalid).toMatchObject({ kind: 'malformed', problem: expect.stringContaining('attributes.actor') });
  expect(outcome.events.map((e) => e.id)).toContain(event!.id);
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
    expect(batch.events.map((e) => e.id)).toEqual(ids);
    // Pages of 2, 2, 2 and 1 events, then the empty page that says the stream is caught up.
    expect(batch).toMatchObject({ pages: 5, requests: 5, reachedEnd: true });
    // 600/min: 100 ms between sends. Arrival times carry the first request's connection set-up as jitter.
    const times = requestTimes(orgId);
    expect(times.at(-1)! - times[0]!).toBeGreaterThanOrEqual(4 * 100 - 20);
    // The cursor after the batch continues the stream.
    const after = asPage(await poll({ orgId, cursor: batch.nextCursor }));
    expect(after.events).toEqual([]);
  });

  test('stops at maxPages, and before a pause too long to keep the pages read waiting', async () => {
    const { orgId, ids } = newOrgWithEvents(9);
    const capped = asPage(await poll({ orgId, maxPages: 2 }));
    expect(capped.events.map((e) => e.id)).toEqual(ids.slice(0, 4));
    expect(capped).toMatchObject({ pages: 2, reachedEnd: false });
    const sentAt = Date.now();
    const slow = asPage(await poll({ orgId, cursor: capped.nextCursor, maxPages: 10, maxRequestsPerMinute: 120 }));
    expect(slow).toMatchObject({ pages: 1, reachedEnd: false });
    expect(slow.events.map((e) => e.id)).toEqual(ids.slice(4, 6));
    expect(slow.nextRequestAt - sentAt).toBeGreaterThanOrEqual(500);
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
    expect(batch.events.map((e) => e.id)).toEqual(ids.slice(0, 2));
  });

  test('a failure after the first page ends the batch with what was read; the next poll meets the failure', async () => {
    const { orgId, ids } = newOrgWithEvents(6);
    const polled = poll({ orgId, maxPages: 10, maxRequestsPerMinute: 300 });
    await faultOnSecondRequest(orgId, { kind: 'status', status: 503 });
    const batch = asPage(await polled);
    expect(batch).toMatchObject({ pages: 1, requests: 2, reachedEnd: false });
    expect(batch.events.map((e) => e.id)).toEqual(ids.slice(0, 2));
    standin.injectFault(orgId, { kind: 'malformedBody' });
    const failure = await failureOf(poll({ orgId, cursor: batch.nextCursor }));
    expect(failure.type).toBe('AtlassianInvalidResponse');
    const rest = asPage(await poll({ orgId, cursor: batch.nextCursor, maxPages: 10 }));
    expect(rest.events.map((e) => e.id)).toEqual(ids.slice(2));
  });

  test('a page shorter than asked (Atlassian serving fewer) does not end the batch: nothing of a range is lost', async () => {
    const { orgId, ids } = newOrgWithEvents(10);
    standin.setMaxStreamPageSize(3);
    try {
      const batch = asPage(await poll({ orgId, limit: 5, maxPages: 10 }));
      expect(batch.events.map((e) => e.id)).toEqual(ids);
      expect(batch).toMatchObject({ pages: 5, reachedEnd: true, pageLimit: 5 });
      const capped = asPage(await poll({ orgId, limit: 5, maxPages: 1 }));
      expect(capped).toMatchObject({ pages: 1, reachedEnd: false });
    } finally {
      standin.setMaxStreamPageSize(undefined);
    }
  });
});

describe('pages nobody here wrote', () => {
  let orgCount = 0;
  const newOrg = () => {
    const orgId = `odd-pages-org-${++orgCount}`;
    standin.addOrg(orgId, { apiKeys: [KEY] });
    return orgId;
  };
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
  /** The SDK warns above this payload size; the poll result and its Datadog logs of a default page stay under it. */
  const PAYLOAD_WARNING_BYTES = 512 * 1024;
  /** Temporal refuses a payload above this: nothing a poll returns may reach it. */
  const PAYLOAD_LIMIT_BYTES = 2 * 1024 * 1024;

  test('a page over the size cap is re-read with half the limit, which stays for the batch', async () => {
    const orgId = newOrg();
    // Four events of ~300 KB: pages of four (~1.2 MB) and two (~600 KB) are over the 512 KiB page cap, one is not.
    const added = add(orgId, [2_500, 2_500, 2_500, 2_500]);
    const batch = asPage(await poll({ orgId, limit: 4, maxPages: 10 }));
    expect(batch.events.map((e) => e.id)).toEqual(added.slice(0, 1).map((e) => e.id));
    // A second page would take the batch over its 176 KiB cap (judged by the first): it is left for the next poll.
    expect(batch).toMatchObject({ pages: 1, requests: 3, pageLimit: 1, reachedEnd: false });
    expect(limitsAsked(orgId)).toEqual(['4', '2', '1']);
    expect(bytesOf(batch)).toBeLessThan(PAYLOAD_WARNING_BYTES);
    const rest = asPage(await poll({ orgId, cursor: batch.nextCursor, limit: batch.pageLimit, maxPages: 10 }));
    expect(rest.events.map((e) => e.id)).toEqual(added.slice(1, 2).map((e) => e.id));
  });

  test('a page that would take the batch past the cap (larger than the one before) is left for the next poll', async () => {
    const orgId = newOrg();
    // Pages of two: ~40 KB, then ~140 KB (under the cap alone, over it together), then a small one.
    const added = add(orgId, [165, 165, 580, 580, 1]);
    const batch = asPage(await poll({ orgId, limit: 2, maxPages: 10 }));
    expect(batch.events.map((e) => e.id)).toEqual(added.slice(0, 2).map((e) => e.id));
    expect(batch).toMatchObject({ pages: 1, requests: 2, pageLimit: 2 });
    const next = asPage(await poll({ orgId, cursor: batch.nextCursor, limit: 2 }));
    expect(next.events.map((e) => e.id)).toEqual(added.slice(2, 4).map((e) => e.id));
  });

  test('an event too large even alone becomes a malformed element with its ID, times and a preview', async () => {
    const orgId = newOrg();
    const added = add(orgId, [1, 5_000, 1]);
    const [, huge] = added;
    expect(bytesOf(huge)).toBeGreaterThan(512 * 1024);
    const batch = asPage(await poll({ orgId, limit: 4, maxPages: 10 }));
    expect(batch.events.map((e) => e.id)).toEqual(added.map((e) => e.id));
    expect(batch).toMatchObject({ pages: 4, requests: 5, pageLimit: 1, reachedEnd: true });
    expect(limitsAsked(orgId)).toEqual(['4', '1', '1', '1', '1']);
    expect(batch.lastProcessedAt).toBe(added[2]!.attributes.processedAt);
    const preview = batch.events[1]!;
    expect(preview).toMatchObject({
      kind: 'malformed',
      id: huge!.id,
      raw: { id: huge!.id, attributes: { time: huge!.attributes.time, processedAt: huge!.attributes.processedAt, action: 'group_deleted' } },
      problem: expect.stringMatching(/^event of \d+ bytes is larger than one poll may carry/),
    });
    expect(bytesOf(batch)).toBeLessThan(32 * 1024);
    // What the map makes of it: a marked log with the event's ID and date, so the event is never silently lost.
    const log = mapPolledEvent(preview, { orgId, origin: 'tail', now: Date.now() });
    expect(log).toMatchObject({ status: 'warn', timestamp: Date.parse(huge!.attributes.time), atlassian: { event_id: huge!.id } });
  });

  test('a first page that cannot be re-read in time returns no page, the smaller limit and the unchanged cursor', async () => {
    const orgId = newOrg();
    const added = add(orgId, [2_500, 2_500]);
    const first = asPage(await poll({ orgId, limit: 4, maxPages: 10, maxRequestsPerMinute: 60 }));
    expect(first).toMatchObject({ events: [], pages: 0, requests: 1, pageLimit: 1, nextCursor: null, reachedEnd: false });
    const retried = asPage(await poll({ orgId, limit: first.pageLimit, maxPages: 10, maxRequestsPerMinute: 60 }));
    expect(retried.events.map((e) => e.id)).toEqual(added.slice(0, 1).map((e) => e.id));
  });

  test.each([
    [200, PAYLOAD_WARNING_BYTES],
    [500, PAYLOAD_LIMIT_BYTES],
  ])('a full page of %i of the smallest events is read whole; its result and logs stay under %i bytes', async (limit, bound) => {
    const orgId = newOrg();
    standin.addEvents(orgId, Array.from({ length: limit }, (_, i) => ({ action: 'group_created', time: Date.now() - 10_000 + i })));
    const batch = asPage(await poll({ orgId, limit, maxPages: 10 }));
    expect(batch.pageLimit).toBe(limit);
    expect(batch.events).toHaveLength(limit);
    const logs = mapPolledEvents(batch.events, { orgId, origin: 'tail', now: Date.now() });
    expect(bytesOf(batch)).toBeLessThan(bound);
    expect(bytesOf(logs)).toBeLessThan(bound);
  });

  test('a page size Atlassian refuses (400) is asked again at the documented 200, not sent again as it was', async () => {
    const capped = await AtlassianStandin.start({ maxAcceptedStreamLimit: 200 });
    try {
      const orgId = 'org-with-a-lower-maximum';
      capped.addOrg(orgId, { apiKeys: [KEY] });
      const added = capped.addEvents(orgId, Array.from({ length: 250 }, (_, i) => ({ action: 'group_created', time: Date.now() - 10_000 + i })));
      const batch = asPage(await poll({ orgId, limit: 500, maxPages: 10 }, { ...deps, atlassianBaseUrl: capped.url }));
      expect(batch.pageLimit).toBe(200);
      expect(batch.events.map((e) => e.id)).toEqual(added.map((e) => e.id));
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
    expect(page.events.map((e) => e.id)).toEqual(added.map((e) => e.id));
    expect(page.repeatsDropped).toBe(1);
  });

  test('an event ID on two pages of one batch is kept once', async () => {
    const orgId = newOrg();
    const added = add(orgId, [1, 1, 1, 1]);
    standin.injectFault(orgId, { kind: 'overlappingCursor' });
    const batch = asPage(await poll({ orgId, limit: 2, maxPages: 10 }));
    expect(batch.events.map((e) => e.id)).toEqual(added.map((e) => e.id));
    expect(batch).toMatchObject({ repeatsDropped: 1, reachedEnd: true });
  });

  test('identical malformed elements without an ID are distinct events, with the same IDs when the page is read again', async () => {
    const orgId = newOrg();
    const first = asPage(await poll({ orgId }));
    standin.injectFault(orgId, { kind: 'unidentifiedElements', count: 2 }, 2);
    const read = async () => asPage(await poll({ orgId, cursor: first.nextCursor })).events;
    const once = await read();
    expect(once).toHaveLength(2);
    expect(once.every((e) => e.kind === 'malformed')).toBe(true);
    expect(once[0]!.id).toMatch(/^malformed:[0-9a-f]{16}:1$/);
    expect(once[1]!.id).toBe(once[0]!.id.replace(/:1$/, ':2'));
    expect((await read()).map((e) => e.id)).toEqual(once.map((e) => e.id));
  });

  test('a page that returns the cursor it was asked with ends the batch: one read per poll', async () => {
    const orgId = newOrg();
    const added = add(orgId, [1, 1, 1, 1]);
    const start = asPage(await poll({ orgId, limit: 2 }));
    standin.injectFault(orgId, { kind: 'stuckCursor' }, 10);
    for (let pollCount = 0; pollCount < 2; pollCount++) {
      const stuck = asPage(await poll({ orgId, cursor: start.nextCursor, limit: 2, maxPages: 10 }));
      expect(stuck.events.map((e) => e.id)).toEqual(added.slice(2).map((e) => e.id));
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
    expect(batch.events.map((e) => e.id)).toEqual(added.map((e) => e.id));
    expect(batch).toMatchObject({ pages: 2, requests: 2, repeatsDropped: 1, cursorStuck: true, reachedEnd: false });
  });
});
