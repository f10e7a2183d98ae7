/** The poll activity against the Atlassian stand-in: each HTTP answer becomes the typed outcome the workflow expects. */
import { setTimeout as sleep } from 'node:timers/promises';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createHttpAgent } from '../../activities/http-client';
import { FailureType } from '../../shared/failure-types';
import { pollEventsPage, type PollDependencies, type PollPageInput, type PollPageOutcome } from '../../activities/poll';
import { AtlassianStandin } from '../../dev/standins/atlassian-standin';

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

const input = (overrides: Partial<PollPageInput> = {}): PollPageInput => ({
  orgId: ORG,
  credential: { ref: 'env:ATLASSIAN_API_KEY', version: 1 },
  cursor: null,
  from: 0,
  limit: 2,
  ...overrides,
});

function poll(overrides: Partial<PollPageInput> = {}, pollDeps = deps): Promise<PollPageOutcome> {
  return new MockActivityEnvironment().run(pollEventsPage, pollDeps, input(overrides)) as Promise<PollPageOutcome>;
}

async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e
  );
  expect(err).toBeInstanceOf(ApplicationFailure);
  return err as ApplicationFailure;
}

test('pages through events-stream with the cursor, and the cursor still answers after the last page', async () => {
  const added = standin.addEvents(ORG, [0, 1, 2].map((i) => ({ action: 'group_created', time: Date.now() - 1000 + i })));
  const first = await poll();
  expect(first.kind).toBe('page');
  if (first.kind !== 'page') return;
  expect(first.events.map((e) => e.id)).toEqual(added.slice(0, 2).map((e) => e.id));
  expect(first.lastProcessedAt).toBe(added[1]!.attributes.processedAt);
  const second = await poll({ cursor: first.nextCursor });
  if (second.kind !== 'page') throw new Error('expected a page');
  expect(second.events.map((e) => e.id)).toEqual([added[2]!.id]);
  const third = await poll({ cursor: second.nextCursor });
  if (third.kind !== 'page') throw new Error('expected a page');
  expect(third.events).toEqual([]);
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
  const failure = await failureOf(poll({ credential: { ref: 'env:NOT_SET_ANYWHERE', version: 1 } }));
  expect(failure.type).toBe(FailureType.CredentialUnavailable);
  expect(failure.message).toBe('atlassian credential unavailable: env:NOT_SET_ANYWHERE is not set on the worker');
});

test('429 is returned with the wait Atlassian asked for', async () => {
  standin.injectFault(ORG, { kind: 'rateLimit', retryAfterSeconds: 7 });
  const outcome = await poll();
  expect(outcome).toMatchObject({ kind: 'rateLimited', retryAfterMs: 7_000 });
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
  const asPage = (outcome: PollPageOutcome) => {
    if (outcome.kind !== 'page') throw new Error(`expected pages, got ${outcome.kind}`);
    return outcome;
  };

  test('reads on from each page’s cursor until the stream ends, never faster than the org’s cap', async () => {
    const { orgId, ids } = newOrgWithEvents(7);
    const batch = asPage(await poll({ orgId, maxPages: 10, maxRequestsPerMinute: 600 }));
    expect(batch.events.map((e) => e.id)).toEqual(ids);
    expect(batch).toMatchObject({ pages: 4, requests: 4, reachedEnd: true });
    // 600/min: 100 ms between sends. Arrival times carry the first request's connection set-up as jitter.
    const times = requestTimes(orgId);
    expect(times.at(-1)! - times[0]!).toBeGreaterThanOrEqual(3 * 100 - 20);
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
    expect(slow.nextRequestAt! - sentAt).toBeGreaterThanOrEqual(500);
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
});
