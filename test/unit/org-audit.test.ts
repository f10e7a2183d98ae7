/** The org's state transitions, without a server: what each message, poll outcome and failure does to the state. */
import type { MapPageResult } from '../../activities/map';
import type { PollInput, PollOutcome } from '../../activities/poll';
import { eventKey, type PolledEvent } from '../../activities/polled-event';
import type { ShipLogsResult } from '../../activities/ship';
import { FailureType } from '../../shared/failure-types';
import { AuditPhase } from '../../shared/phase';
import { InvalidBackfillRangeError } from '../../workflows/backfill-ranges';
import { ENTITLEMENT_RETRY_MS, FAILURE_RETRY_MS, OrgAudit, OUTAGE_RETRY_MS, type FreshEvents, type Job } from '../../workflows/org-audit';
import type { OrgAuditConfig, OrgAuditState } from '../../workflows/org-audit-state';

const HOUR = 3_600_000;
const NOW = Date.parse('2026-11-25T12:00:00Z');
const TAIL: Job = { kind: 'tail' };

const config: OrgAuditConfig = {
  orgId: 'org-1',
  initialCredentials: { atlassian: 'env:ATLASSIAN_API_KEY', datadog: 'env:DD_API_KEY' },
  since: NOW - HOUR,
  pollIntervalMs: 60_000,
  maxPollIntervalMs: 240_000,
  maxRequestsPerMinute: 60,
  pageSize: 200,
  recentIdsLimit: 1000,
};

function event(id: string, processedAt: number, time = processedAt): PolledEvent {
  return {
    kind: 'event',
    id,
    event: {
      id,
      type: 'events',
      attributes: { time: new Date(time).toISOString(), processedAt: new Date(processedAt).toISOString(), action: 'group_created', actor: { id: 'a' }, context: [] },
    } as never,
  };
}

function malformed(id: string): PolledEvent {
  return { kind: 'malformed', id, raw: { id }, problem: 'attributes: Required' };
}

type PageOutcome = Extract<PollOutcome, { kind: 'page' }>;
/** What Atlassian served a poll, before the poll activity filtered and stored it. */
type ReadPage = Omit<PageOutcome, 'eventsRead' | 'stored'> & { events: PolledEvent[] };

function page(events: PolledEvent[], extra: Partial<ReadPage> = {}): ReadPage {
  return {
    kind: 'page',
    events,
    nextCursor: `c-${events.at(-1)?.id ?? 'end'}`,
    budget: {},
    pages: 1,
    requests: 1,
    reachedEnd: events.length === 0,
    nextRequestAt: NOW,
    repeatsDropped: 0,
    pageLimit: config.pageSize,
    cursorStuck: false,
    ...extra,
  };
}

const processedAtOf = (e: PolledEvent) => (e.kind === 'event' ? Date.parse(e.event.attributes.processedAt!) : null);

let pageRefs = 0;
/**
 * The poll activity's outcome for a page read with `input`, as activities/poll.ts makes it (tested there): events
 * processed before `dropProcessedBefore` and those outside `keepTimeRange` are not kept; the rest are stored, and
 * the outcome names them by key. Returns the kept events too, which the page store would hold.
 */
function pollOutcome(input: PollInput, read: ReadPage): { outcome: PageOutcome; kept: PolledEvent[] } {
  const { events, ...rest } = read;
  const watermark = input.dropProcessedBefore;
  const notDelivered = events.filter((e) => watermark === undefined || (processedAtOf(e) ?? Infinity) >= watermark);
  const range = input.keepTimeRange;
  const kept = notDelivered.filter((e) => {
    if (range === undefined || e.kind !== 'event') return true;
    const time = Date.parse(e.event.attributes.time);
    return time >= range.from && time < range.to;
  });
  const processed = kept.map(processedAtOf).filter((ms): ms is number => ms !== null);
  const stored =
    kept.length === 0
      ? null
      : { ref: `page-${++pageRefs}`, taskQueue: 'test-pages', keys: kept.map((e) => eventKey(e.id)), lastProcessedAt: processed.length > 0 ? Math.max(...processed) : null };
  return { outcome: { ...rest, eventsRead: events.length, stored, repeatsDropped: rest.repeatsDropped + events.length - notDelivered.length }, kept };
}

/** The poll of `read` for `job`, with the input the org gives it, and the org's verdict on it. */
function poll(org: OrgAudit, job: Job, read: ReadPage, now = NOW): { outcome: PageOutcome; kept: PolledEvent[]; fresh: FreshEvents } {
  const { outcome, kept } = pollOutcome(org.pollInput(job, now), read);
  return { outcome, kept, fresh: org.afterPoll(outcome, now)! };
}

/** What mapPage makes of a stored page: the events not skipped become logs. */
function mapped(kept: PolledEvent[], fresh: FreshEvents): { events: PolledEvent[]; result: MapPageResult } {
  const skip = new Set(fresh.skipKeys);
  const events = kept.filter((e) => !skip.has(eventKey(e.id)));
  return { events, result: { logs: events.length, malformed: events.filter((e) => e.kind === 'malformed').length } };
}

/** Polls, maps and "ships" one page as the workflow would; returns the IDs of the events that would have been shipped. */
function deliver(org: OrgAudit, job: Job, read: ReadPage, now = NOW, shipped?: Partial<ShipLogsResult>): string[] {
  const { outcome, kept, fresh } = poll(org, job, read, now);
  if (outcome.stored === null || fresh.keys.length === 0) {
    org.afterShip(job, outcome, fresh, null, null, now);
    return [];
  }
  const map = mapped(kept, fresh);
  expect(map.events.map((e) => eventKey(e.id))).toEqual(fresh.keys);
  org.afterShip(job, outcome, fresh, map.result, { accepted: map.result.logs, requests: 1, redated: 0, deadLettered: [], ...shipped }, now);
  return map.events.map((e) => e.id);
}

const newOrg = () => new OrgAudit({ config }, NOW);

describe('messages never throw, and what they refuse is recorded', () => {
  test.each([
    ['a number as reason', { reason: 42 }],
    ['a bare string', 'just a string'],
    ['an array', [1, 2]],
    ['a 10,000-character reason', { reason: 'x'.repeat(10_000) }],
  ])('pause with %s still pauses', (_, payload) => {
    const org = newOrg();
    expect(() => org.pause(payload, NOW)).not.toThrow();
    expect(org.phase(NOW)).toBe(AuditPhase.Paused);
    expect(org.state.paused?.reason).toBe('paused by operator');
    expect(org.state.stats.messagesRejected).toBe(1);
    expect(org.status(NOW).stats.lastRejectedMessage?.message).toMatch(/^pause ignored: /);
  });

  test('pause with no payload (as the Temporal CLI sends) pauses without complaint', () => {
    const org = newOrg();
    org.pause(null, NOW);
    expect(org.phase(NOW)).toBe(AuditPhase.Paused);
    expect(org.state.stats.messagesRejected).toBe(0);
  });

  test('stop with an odd reason stops', () => {
    const org = newOrg();
    org.stop({ reason: { nested: true } }, NOW);
    expect(org.nextStep(NOW)).toEqual({ kind: 'stop' });
    expect(org.result().stoppedBecause).toBe('stopped by operator');
  });

  test('a rotation to something that is not a reference is refused and changes nothing', () => {
    const org = newOrg();
    org.rotate({ datadog: 'dd-raw-key-value' }, NOW);
    expect(org.state.credentials.datadog).toEqual({ ref: 'env:DD_API_KEY', version: 1 });
    expect(org.state.stats.lastRejectedMessage?.message).toMatch(/rotateCredentials ignored: datadog: not an env:NAME/);
    expect(org.state.stats.lastRejectedMessage?.message).not.toContain('dd-raw-key-value');
  });

  test('a bare rotation re-reads only the credential that failed', () => {
    const org = newOrg();
    org.afterFailure(TAIL, { type: FailureType.CredentialUnavailable, message: 'datadog credential unavailable', details: [{ owner: 'datadog' }] }, NOW);
    expect(org.nextStep(NOW)).toEqual({ kind: 'awaitCredentials', owner: 'datadog', version: 1 });
    org.rotate(undefined, NOW);
    expect(org.state.credentials).toEqual({ atlassian: { ref: 'env:ATLASSIAN_API_KEY', version: 1 }, datadog: { ref: 'env:DD_API_KEY', version: 2 } });
    expect(org.nextStep(NOW).kind).toBe('poll');
  });

  test('the backfill signal records a bad range; the validator throws it to the caller', () => {
    const org = newOrg();
    org.backfill({ from: '2026-02-31', to: '2026-11-20T00:00:00Z' }, NOW);
    org.backfill({ from: 1 }, NOW);
    expect(org.state.backfills).toEqual([]);
    expect(org.state.stats.messagesRejected).toBe(2);
    expect(() => org.checkBackfill({ from: '2026-11-24T00:00:00Z', to: '2026-11-26T00:00:00Z' }, NOW)).toThrow(InvalidBackfillRangeError);
    expect(() => org.checkBackfill('nonsense', NOW)).toThrow(InvalidBackfillRangeError);
  });

  test('overlapping backfills queue only what is not queued yet', () => {
    const org = newOrg();
    expect(org.queueBackfill({ from: NOW - 10 * HOUR, to: NOW - 5 * HOUR }, NOW).rangeIds).toEqual([1]);
    const second = org.queueBackfill({ from: NOW - 12 * HOUR, to: NOW - 8 * HOUR }, NOW);
    expect(second.ranges).toEqual([{ id: 2, from: new Date(NOW - 12 * HOUR).toISOString(), to: new Date(NOW - 10 * HOUR).toISOString() }]);
  });
});

describe('a cursor Atlassian refuses', () => {
  test('restarts the tail from its watermark minus the overlap, and drops what was delivered', () => {
    const org = newOrg();
    const t0 = NOW - 30 * 60_000;
    expect(deliver(org, TAIL, page([event('a', t0), event('b', t0 + 1000)]))).toEqual(['a', 'b']);
    org.afterFailure(TAIL, { type: FailureType.AtlassianCursorRefused, message: 'Atlassian refused the cursor (400 ADMIN-400-1)' }, NOW);
    expect(org.state.tail.cursor).toBeNull();
    expect(org.state.stats.cursorRecoveries).toBe(1);
    const input = org.pollInput(TAIL, NOW);
    // The overlap (24 h) reaches before the tail's start, so the stream restarts at the start.
    expect(input).toMatchObject({ cursor: null, from: config.since });
    // The re-read serves everything again: only what was processed after the watermark goes out.
    expect(deliver(org, TAIL, page([event('a', t0), event('b', t0 + 1000), event('c', t0 + 2000)]))).toEqual(['c']);
    expect(org.state.tail.recoveringFrom).toBeNull();
    expect(org.state.tail.cursor).toBe('c-c');
  });

  test('a page back with the cursor it was asked with and nothing new counts as stuck', () => {
    const org = newOrg();
    deliver(org, TAIL, page([event('a', NOW - 1000)], { nextCursor: 'c1' }));
    deliver(org, TAIL, page([event('a', NOW - 1000)], { nextCursor: 'c1' }));
    expect(org.state.stats.cursorRecoveries).toBe(1);
    expect(org.state.tail.cursor).toBeNull();
  });

  test('a stuck cursor is recovered once, then retried later and later, shown as stalled', () => {
    const org = newOrg();
    const stuck = page([event('a', NOW - 1000)], { cursorStuck: true });
    deliver(org, TAIL, stuck);
    deliver(org, TAIL, { ...stuck, cursorStuck: true });
    expect(org.state.stats.cursorRecoveries).toBe(1);
    expect(org.phase(NOW)).toBe(AuditPhase.Running);
    deliver(org, TAIL, { ...stuck, cursorStuck: true });
    expect(org.phase(NOW)).toBe(AuditPhase.Stalled);
    expect(org.status(NOW).stalled?.reason).toMatch(/cursor does not advance/);
    expect(org.nextStep(NOW)).toMatchObject({ kind: 'wait', ms: FAILURE_RETRY_MS });
  });
});

describe("an operator's seek", () => {
  test('restarts the tail at that time without its cursor, and still drops what was delivered', () => {
    const org = newOrg();
    const t0 = NOW - 20 * 60_000;
    deliver(org, TAIL, page([event('a', t0), event('b', t0 + 1_000)]));
    org.seek({ from: new Date(NOW - 40 * 60_000).toISOString() }, NOW);
    expect(org.pollInput(TAIL, NOW)).toMatchObject({ cursor: null, from: NOW - 40 * 60_000 });
    expect(org.state.stats.lastError).toBeNull();
    expect(deliver(org, TAIL, page([event('a', t0), event('b', t0 + 1_000), event('c', t0 + 2_000)]))).toEqual(['c']);
  });

  test.each([
    ['an impossible date', { from: '2026-02-31' }, /^seek ignored: from is not a valid time/],
    ['a time in the future', { from: new Date(NOW + 60_000).toISOString() }, /^seek ignored: from is in the future/],
    ['no time at all', {}, /^seek ignored: from: /],
  ])('with %s is refused and changes nothing', (_, payload, message) => {
    const org = newOrg();
    deliver(org, TAIL, page([event('a', NOW - 1_000)]));
    org.seek(payload, NOW);
    expect(org.state.tail.cursor).toBe('c-a');
    expect(org.state.stats.lastRejectedMessage?.message).toMatch(message);
  });
});

describe('failures no retry fixes', () => {
  test('are retried after five minutes, with the org shown as stalled, and cleared by the next delivered page', () => {
    const org = newOrg();
    org.afterFailure(TAIL, { type: FailureType.AtlassianBadRequest, message: 'Atlassian rejected the request (400)' }, NOW);
    expect(org.phase(NOW)).toBe(AuditPhase.Stalled);
    expect(org.nextStep(NOW)).toMatchObject({ kind: 'wait', ms: FAILURE_RETRY_MS });
    expect(org.nextStep(NOW + FAILURE_RETRY_MS).kind).toBe('poll');
    deliver(org, TAIL, page([event('a', NOW)]), NOW + FAILURE_RETRY_MS);
    expect(org.phase(NOW + FAILURE_RETRY_MS)).toBe(AuditPhase.Running);
  });

  test("an outage that outlasted a poll's retries is shown as stalled with its reason and polled again a minute later", () => {
    const org = newOrg();
    org.afterFailure(TAIL, { type: FailureType.AtlassianServerError, message: 'Atlassian answered 503', retriesExhausted: true }, NOW);
    expect(org.status(NOW).stalled).toEqual({ since: NOW, reason: 'Atlassian answered 503' });
    expect(org.nextStep(NOW)).toMatchObject({ kind: 'wait', ms: OUTAGE_RETRY_MS });
  });

  test('an organization whose plan lacks the audit log is held, asked again hourly, and at once on resume', () => {
    const org = newOrg();
    org.afterFailure(TAIL, { type: FailureType.AtlassianEntitlementMissing, message: 'Atlassian refused the audit log of this organization' }, NOW);
    expect(org.phase(NOW)).toBe(AuditPhase.AwaitingEntitlement);
    expect(org.nextStep(NOW)).toMatchObject({ kind: 'wait', ms: ENTITLEMENT_RETRY_MS });
    expect(org.status(NOW).retryAt).toBe(new Date(NOW + ENTITLEMENT_RETRY_MS).toISOString());
    org.resume();
    expect(org.nextStep(NOW).kind).toBe('poll');
    deliver(org, TAIL, page([event('a', NOW)]));
    expect(org.phase(NOW)).toBe(AuditPhase.Running);
  });

  test('the wait after a failure survives continue-as-new (it is state, not a local)', () => {
    const org = newOrg();
    org.afterFailure(TAIL, { type: FailureType.AtlassianBadRequest, message: 'Atlassian rejected the request (400)' }, NOW);
    const next = new OrgAudit(org.position(), NOW + 1_000);
    expect(next.nextStep(NOW + 1_000)).toMatchObject({ kind: 'wait', ms: FAILURE_RETRY_MS - 1_000 });
  });

  test('a credential failure names its owner from the failure details', () => {
    const org = newOrg();
    org.afterFailure(TAIL, { type: FailureType.DatadogAuthFailed, message: 'Datadog refused the API key with 403', details: [{ owner: 'datadog' }] }, NOW);
    expect(org.state.awaitingCredentials).toMatchObject({ owner: 'datadog', version: 1 });
    expect(org.phase(NOW)).toBe(AuditPhase.AwaitingCredentials);
  });
});

describe('backfill ranges', () => {
  const from = NOW - 10 * HOUR;
  const to = NOW - 5 * HOUR;

  test('end at the stream end, not at a short page, then settle for late events', () => {
    const org = newOrg();
    org.queueBackfill({ from, to }, NOW);
    org.state.tail.nextPollAt = NOW + HOUR;
    const step = org.nextStep(NOW);
    expect(step.kind).toBe('poll');
    const job = (step as { job: Job }).job;
    // Atlassian serves fewer than asked: the range goes on.
    deliver(org, job, page([event('b1', NOW - 6 * HOUR, from + 1)]));
    expect(org.status(NOW).backfills[0]!.state).toBe('running');
    expect(org.phase(NOW)).toBe(AuditPhase.Backfilling);
    deliver(org, job, page([]));
    expect(org.status(NOW).backfills[0]!.state).toBe('settling');
    expect(org.phase(NOW)).not.toBe(AuditPhase.Backfilling);
    // A late event turns up on the settling range's next poll.
    const later = NOW + config.maxPollIntervalMs!;
    expect(org.nextStep(later)).toMatchObject({ kind: 'poll', job: { kind: 'backfill' } });
    expect(deliver(org, job, page([event('late', later, from + 2)]), later)).toEqual(['late']);
    expect(org.status(NOW + 25 * HOUR).backfills[0]!.state).toBe('done');
  });

  test('drop events outside their range and repeats of recent IDs', () => {
    const org = newOrg();
    org.queueBackfill({ from, to }, NOW);
    const job: Job = { kind: 'backfill', range: org.state.backfills[0]! };
    deliver(org, TAIL, page([event('x', NOW)]));
    expect(deliver(org, job, page([event('x', NOW, from + 5)])).length).toBe(0);
    expect(deliver(org, job, page([event('out', NOW, to + 1), event('in', NOW, from + 1)]))).toEqual(['in']);
  });
});

describe('dead letters and pacing', () => {
  test('dead letters are kept in status; a resend request runs before the next poll and clears what was re-sent', () => {
    const org = newOrg();
    deliver(org, TAIL, page([event('a', NOW), event('b', NOW)]), NOW, { deadLettered: [{ eventId: 'b', status: 400, reason: 'refused' }] });
    expect(org.status(NOW).deadLetters).toEqual([{ eventId: 'b', status: 400, reason: 'refused', at: NOW }]);
    org.requestResend({ eventIds: ['b'] }, NOW);
    expect(org.nextStep(NOW)).toEqual({ kind: 'resendDeadLetters', eventIds: ['b'] });
    org.afterResend({ resent: ['b'], refused: [], missing: [] }, NOW);
    expect(org.state.deadLetters).toEqual([]);
    expect(org.nextStep(NOW).kind).not.toBe('resendDeadLetters');
  });

  test('a failed resend is not repeated on its own', () => {
    const org = newOrg();
    org.requestResend(undefined, NOW);
    org.afterFailure('resend', { type: FailureType.DatadogUnavailable, message: 'Datadog answered 503' }, NOW);
    expect(org.state.resendRequested).toBeNull();
  });

  test('a pause of a second or more is a durable wait; a shorter one goes to the poll as notBefore', () => {
    const org = newOrg();
    deliver(org, TAIL, page([event('a', NOW)], { nextRequestAt: NOW + 5_000 }));
    expect(org.nextStep(NOW)).toMatchObject({ kind: 'wait', ms: 5_000 });
    expect(org.nextStep(NOW + 4_500).kind).toBe('poll');
    expect(org.pollInput(TAIL, NOW + 4_500).notBefore).toBe(NOW + 5_000);
  });

  test('a poll whose pages had to shrink lowers the page size for the next polls and says so', () => {
    const org = newOrg();
    deliver(org, TAIL, page([event('a', NOW)], { pageLimit: 50 }));
    expect(org.pollInput(TAIL, NOW).limit).toBe(50);
    expect(org.status(NOW).pageLimit).toBe(50);
  });
});

describe('a page lost with its worker', () => {
  const lost = (type: string) => ({ type, message: `${type}: map did not find page page-9 on its worker` });

  test.each([FailureType.PageNotStored, FailureType.PageWorkerGone])('(%s) leaves the position unchanged, is counted, and is polled again at once', (type) => {
    const org = newOrg();
    deliver(org, TAIL, page([event('a', NOW - 2_000), event('b', NOW - 1_000)], { nextCursor: 'c1' }));
    const before = structuredClone({ tail: org.state.tail, recentKeys: org.state.recentKeys, shipped: org.state.stats.eventsShipped });
    org.afterFailure(TAIL, lost(type), NOW);
    expect({ tail: org.state.tail, recentKeys: org.state.recentKeys, shipped: org.state.stats.eventsShipped }).toEqual(before);
    expect(org.state.stats).toMatchObject({ pagesLost: 1, pagesLostInARow: 1, lastError: { at: NOW, message: lost(type).message } });
    expect(org.state.retryAt).toBeNull();
    expect(org.phase(NOW)).toBe(AuditPhase.Running);
    expect(org.nextStep(NOW)).toEqual({ kind: 'poll', job: TAIL });
    // The same page is asked for again, from the same cursor, with the same filters.
    expect(org.pollInput(TAIL, NOW)).toMatchObject({ cursor: 'c1', dropProcessedBefore: undefined });
    expect(deliver(org, TAIL, page([event('c', NOW - 500)]))).toEqual(['c']);
  });

  test('the third in a row holds the org, shown as stalled, for about a minute', () => {
    const org = newOrg();
    org.afterFailure(TAIL, lost(FailureType.PageNotStored), NOW);
    org.afterFailure(TAIL, lost(FailureType.PageWorkerGone), NOW + 1_000);
    expect(org.nextStep(NOW + 1_000).kind).toBe('poll');
    org.afterFailure(TAIL, lost(FailureType.PageNotStored), NOW + 2_000);
    expect(org.state.stats).toMatchObject({ pagesLost: 3, pagesLostInARow: 3 });
    expect(org.phase(NOW + 2_000)).toBe(AuditPhase.Stalled);
    expect(org.status(NOW + 2_000).stalled?.reason).toMatch(/^3 polls in a row lost their page with their worker: /);
    expect(org.nextStep(NOW + 2_000)).toMatchObject({ kind: 'wait', ms: OUTAGE_RETRY_MS });
    expect(OUTAGE_RETRY_MS).toBe(60_000);
    expect(org.status(NOW + 2_000).retryAt).toBe(new Date(NOW + 2_000 + OUTAGE_RETRY_MS).toISOString());
    // After the hold the page is read again; its delivery ends the stall.
    expect(org.nextStep(NOW + 2_000 + OUTAGE_RETRY_MS).kind).toBe('poll');
    deliver(org, TAIL, page([event('a', NOW)]), NOW + 2_000 + OUTAGE_RETRY_MS);
    expect(org.phase(NOW + 2_000 + OUTAGE_RETRY_MS)).toBe(AuditPhase.Running);
    expect(org.state.stats).toMatchObject({ pagesLost: 3, pagesLostInARow: 0 });
  });

  test('a delivered poll resets the count in a row, not the total', () => {
    const org = newOrg();
    org.afterFailure(TAIL, lost(FailureType.PageNotStored), NOW);
    org.afterFailure(TAIL, lost(FailureType.PageNotStored), NOW);
    deliver(org, TAIL, page([event('a', NOW)]));
    expect(org.state.stats).toMatchObject({ pagesLost: 2, pagesLostInARow: 0 });
    org.afterFailure(TAIL, lost(FailureType.PageWorkerGone), NOW);
    org.afterFailure(TAIL, lost(FailureType.PageWorkerGone), NOW);
    expect(org.state.stats).toMatchObject({ pagesLost: 4, pagesLostInARow: 2 });
    expect(org.phase(NOW)).toBe(AuditPhase.Running);
    expect(org.nextStep(NOW).kind).toBe('poll');
  });

  test('a poll that found nothing new counts as delivered too', () => {
    const org = newOrg();
    org.afterFailure(TAIL, lost(FailureType.PageNotStored), NOW);
    org.afterFailure(TAIL, lost(FailureType.PageNotStored), NOW);
    deliver(org, TAIL, page([]));
    org.afterFailure(TAIL, lost(FailureType.PageNotStored), NOW);
    expect(org.state.stats.pagesLostInARow).toBe(1);
    expect(org.state.stalled).toBeNull();
  });

  test('during a backfill, the range keeps its cursor and is polled again', () => {
    const org = newOrg();
    org.queueBackfill({ from: NOW - 10 * HOUR, to: NOW - 5 * HOUR }, NOW);
    org.state.tail.nextPollAt = NOW + HOUR;
    const job: Job = { kind: 'backfill', range: org.state.backfills[0]! };
    deliver(org, job, page([event('b1', NOW - 6 * HOUR, NOW - 9 * HOUR)], { nextCursor: 'bc1' }));
    org.afterFailure(job, lost(FailureType.PageWorkerGone), NOW);
    expect(org.state.backfills[0]).toMatchObject({ cursor: 'bc1', events: 1 });
    expect(org.nextStep(NOW)).toMatchObject({ kind: 'poll', job: { kind: 'backfill', range: { id: 1 } } });
  });
});

describe('a pace group', () => {
  test('asks each poll for one request: the group’s queue paces polls, not requests', () => {
    expect(newOrg().pollInput(TAIL, NOW).maxPages).toBeGreaterThan(1);
    const grouped = new OrgAudit({ config: { ...config, paceGroup: 'one-admin-key' } }, NOW);
    expect(grouped.pollInput(TAIL, NOW)).toMatchObject({ maxPages: 1, maxRequestsPerMinute: 60 });
  });

  test('a poll no worker of the group took holds the org, stalled with the reason, and tries again later', () => {
    const org = new OrgAudit({ config: { ...config, paceGroup: 'one-admin-key' } }, NOW);
    const message = 'no worker took the poll from the queue of pace group "one-admin-key" in 5 minutes: start the workers with AUDIT_PACE_GROUPS=one-admin-key=<requests per minute>';
    org.afterFailure(TAIL, { type: FailureType.PaceGroupUnserved, message }, NOW);
    expect(org.phase(NOW)).toBe(AuditPhase.Stalled);
    expect(org.state.stalled?.reason).toBe(message);
    expect(org.nextStep(NOW)).toMatchObject({ kind: 'wait', ms: FAILURE_RETRY_MS });
    expect(org.state.stats.pagesLost).toBe(0);
  });
});

describe('what the poll is asked to filter', () => {
  test('dropProcessedBefore only while a stream re-reads after losing its cursor', () => {
    const org = newOrg();
    const t0 = NOW - 30 * 60_000;
    expect(org.pollInput(TAIL, NOW).dropProcessedBefore).toBeUndefined();
    deliver(org, TAIL, page([event('a', t0), event('b', t0 + 1_000)]));
    // A watermark alone is no reason to drop: the cursor already starts after it.
    expect(org.state.tail.watermark).toBe(t0 + 1_000);
    expect(org.pollInput(TAIL, NOW).dropProcessedBefore).toBeUndefined();
    org.afterFailure(TAIL, { type: FailureType.AtlassianCursorRefused, message: 'Atlassian refused the cursor (400 ADMIN-400-1)' }, NOW);
    expect(org.pollInput(TAIL, NOW)).toMatchObject({ cursor: null, dropProcessedBefore: t0 + 1_000, keepTimeRange: undefined });
    // A re-read page of only what was delivered: still recovering, still dropping.
    deliver(org, TAIL, page([event('a', t0)], { nextCursor: 'r1' }));
    expect(org.pollInput(TAIL, NOW)).toMatchObject({ cursor: 'r1', dropProcessedBefore: t0 + 1_000 });
    // Past the watermark the re-read is over.
    expect(deliver(org, TAIL, page([event('b', t0 + 1_000), event('c', t0 + 2_000)]))).toEqual(['c']);
    expect(org.state.tail.recoveringFrom).toBeNull();
    expect(org.pollInput(TAIL, NOW).dropProcessedBefore).toBeUndefined();
  });

  test('a seek before anything was delivered has no watermark to drop by', () => {
    const org = newOrg();
    org.seek({ from: new Date(NOW - 40 * 60_000).toISOString() }, NOW);
    expect(org.state.tail.recoveringFrom).toBe(NOW - 40 * 60_000);
    expect(org.pollInput(TAIL, NOW)).toMatchObject({ from: NOW - 40 * 60_000, dropProcessedBefore: undefined });
  });

  test("keepTimeRange is a backfill's own range; the tail keeps every time", () => {
    const org = newOrg();
    const from = NOW - 10 * HOUR;
    const to = NOW - 5 * HOUR;
    org.queueBackfill({ from, to }, NOW);
    const job: Job = { kind: 'backfill', range: org.state.backfills[0]! };
    expect(org.pollInput(job, NOW)).toMatchObject({ from, to, keepTimeRange: { from, to }, dropProcessedBefore: undefined });
    expect(org.pollInput(TAIL, NOW).keepTimeRange).toBeUndefined();
    expect(org.pollInput(TAIL, NOW).to).toBeUndefined();
  });
});

describe('afterPoll: which stored events are new', () => {
  test('splits the stored keys, in order, into fresh ones and ones to skip (recently delivered)', () => {
    const org = newOrg();
    deliver(org, TAIL, page([event('a', NOW - 3_000), event('b', NOW - 2_000)]));
    expect(org.state.recentKeys).toEqual([eventKey('a'), eventKey('b')]);
    const { outcome, fresh } = poll(org, TAIL, page([event('b', NOW - 2_000), event('c', NOW - 1_000), event('a', NOW - 3_000), event('d', NOW)], { repeatsDropped: 1 }));
    expect(outcome.stored?.keys).toEqual(['b', 'c', 'a', 'd'].map(eventKey));
    expect(fresh).toEqual({ keys: [eventKey('c'), eventKey('d')], skipKeys: [eventKey('b'), eventKey('a')] });
    // The poll's own repeats and the skipped ones.
    expect(org.state.stats.duplicatesDropped).toBe(3);
  });

  test('a poll that stored nothing has nothing fresh; a 429 has no verdict at all', () => {
    const org = newOrg();
    const empty = pollOutcome(org.pollInput(TAIL, NOW), page([])).outcome;
    expect(empty.stored).toBeNull();
    expect(org.afterPoll(empty, NOW)).toEqual({ keys: [], skipKeys: [] });
    expect(org.afterPoll({ kind: 'rateLimited', retryAfterMs: 5_000, budget: {}, nextRequestAt: NOW + 5_000, requests: 1 }, NOW)).toBeNull();
    expect(org.phase(NOW)).toBe(AuditPhase.RateLimited);
  });

  test('afterShip remembers the fresh keys only, within recentIdsLimit, and counts what the map reported', () => {
    const org = new OrgAudit({ config: { ...config, recentIdsLimit: 3 } }, NOW);
    deliver(org, TAIL, page([event('a', NOW - 3_000), malformed('m1'), event('b', NOW - 1_000)]));
    expect(org.state.stats).toMatchObject({ eventsShipped: 3, malformedEvents: 1 });
    expect(org.state.tail.watermark).toBe(NOW - 1_000);
    deliver(org, TAIL, page([event('b', NOW - 1_000), event('c', NOW)]));
    expect(org.state.recentKeys).toEqual(['m1', 'b', 'c'].map(eventKey));
    expect(org.state.stats).toMatchObject({ eventsShipped: 4, malformedEvents: 1 });
    expect(org.state.tail.events).toBe(4);
  });
});

describe('a state from before 0.3', () => {
  test('with recentIds (event IDs, not keys) starts with no recent keys and keeps the rest', () => {
    const org = newOrg();
    deliver(org, TAIL, page([event('a', NOW - 1_000)], { nextCursor: 'c-old' }));
    const { recentKeys: _keys, stats, ...rest } = structuredClone(org.state);
    const { pagesLost: _lost, pagesLostInARow: _inARow, ...oldStats } = stats;
    const legacy = { ...rest, stats: oldStats, recentIds: ['a', 'older-event'] } as unknown as OrgAuditState;

    const resumed = new OrgAudit({ config, state: legacy }, NOW + 1_000);
    expect(resumed.state.recentKeys).toEqual([]);
    expect('recentIds' in resumed.state).toBe(false);
    expect(resumed.state.tail.cursor).toBe('c-old');
    expect(resumed.state.stats).toMatchObject({ eventsShipped: 1, pagesLost: 0, pagesLostInARow: 0 });
    // The IDs cannot be turned into keys in a workflow: an event served again right after the upgrade is shipped again.
    expect(deliver(resumed, TAIL, page([event('a', NOW - 1_000), event('b', NOW)]), NOW + 1_000)).toEqual(['a', 'b']);
    expect(JSON.stringify(resumed.position().state)).not.toContain('recentIds');
  });
});
