/**
 * The verify activities against both stand-ins: counts per hour of event time on both sides (logs dated at their
 * event's time and re-dated ones alike), one hour compared ID by ID, a repair of exactly the missing events, and what
 * each does when a budget is spent or a key is refused.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { ActionCatalogueCache } from '../../activities/action-catalogue-cache';
import { DeadLetterStore } from '../../activities/dead-letters';
import { createHttpAgent } from '../../activities/http-client';
import { mapPolledEvents } from '../../activities/map-event';
import { shipLogs } from '../../activities/ship';
import {
  compareHour,
  countAtlassian,
  countDatadog,
  repairHour,
  type CountAtlassianOutcome,
  type CompareHourOutcome,
  type RepairHourOutcome,
  type VerifyActivityDependencies,
} from '../../activities/verify-activities';
import { leavingReserve } from '../../activities/verify-atlassian';
import type { DatadogAnswer } from '../../activities/verify-datadog-api';
import { VerifyFailureType } from '../../activities/verify-failures';
import { AtlassianStandin } from '../../dev/standins/atlassian-standin';
import { DatadogStandin } from '../../dev/standins/datadog-standin';
import type { DatadogHourCounts } from '../../shared/verify/verify-report';
import { activityEnvironment } from '../support/activity-environment';

const ORG = 'org-verify-unit';
const KEYS = { atlassian: 'atlassian-verify-key-1a2b', datadog: 'datadog-verify-key-3c4d', application: 'datadog-app-key-5e6f' };
const HOUR = 3_600_000;
const credentials = { atlassianCredential: { ref: 'env:ATLASSIAN_API_KEY', version: 1 }, datadogCredential: { ref: 'env:DD_API_KEY', version: 1 } };

let atlassian: AtlassianStandin;
let datadog: DatadogStandin;
let deadLetterDir: string;
const dispatcher = createHttpAgent({ headersTimeoutMs: 2_000, bodyTimeoutMs: 2_000 });

function dependencies(datadogStandin: DatadogStandin, env: NodeJS.ProcessEnv = {}): VerifyActivityDependencies {
  const http = {
    dispatcher,
    env: { ATLASSIAN_API_KEY: KEYS.atlassian, DD_API_KEY: KEYS.datadog, DD_APP_KEY: KEYS.application, DD_API_BASE_URL: datadogStandin.origin, ...env },
    now: Date.now,
  };
  return {
    poll: { atlassianBaseUrl: atlassian.url, ...http },
    datadog: http,
    map: { actionCatalogues: new ActionCatalogueCache({ atlassianBaseUrl: atlassian.url, ...http }), now: Date.now },
    ship: { datadogIntakeUrl: datadogStandin.url, deadLetters: new DeadLetterStore(deadLetterDir), ...http },
  };
}

const run = <A extends unknown[], R>(fn: (...args: A) => Promise<R>, ...args: A): Promise<R> => activityEnvironment().run(fn, ...args) as Promise<R>;
const pacing = () => ({ maxRequestsPerMinute: 6_000, nextRequestAt: Date.now(), pageLimit: 2 });

/** Whole hours: `recent` two hours ago (shipped dated at its events' time), `old` 30 hours ago (shipped re-dated). */
const recent = Math.floor((Date.now() - 2 * HOUR) / HOUR) * HOUR;
const old = recent - 28 * HOUR;
const iso = (ms: number) => new Date(ms).toISOString();
let events: { recent: string[]; old: string[] };

beforeAll(async () => {
  deadLetterDir = await mkdtemp(path.join(os.tmpdir(), 'verify-dead-letters-'));
  atlassian = await AtlassianStandin.start();
  atlassian.addOrg(ORG, { apiKeys: [KEYS.atlassian] });
  datadog = await DatadogStandin.start({ apiKeys: [KEYS.datadog], applicationKeys: [KEYS.application] });
  const added = atlassian.addEvents(ORG, [
    ...[1, 2, 3].map((minute) => ({ action: 'group_created', time: recent + minute * 60_000 })),
    ...[1, 2].map((minute) => ({ action: 'group_deleted', time: old + minute * 60_000 })),
  ]);
  events = { recent: added.slice(0, 3).map((e) => e.id), old: added.slice(3).map((e) => e.id) };
  const logs = mapPolledEvents(
    added.map((event) => ({ kind: 'event', id: event.id, event })),
    { orgId: ORG, origin: 'tail', now: Date.now() }
  );
  const deps = dependencies(datadog);
  await run(shipLogs, deps.ship, { orgId: ORG, credential: credentials.datadogCredential, logs });
  // Datadog lost one log of each hour, and holds the first recent one twice.
  datadog.deleteReceived((log) => [events.recent[1], events.old[0]].includes((log['atlassian'] as { event_id: string }).event_id));
  await run(shipLogs, deps.ship, { orgId: ORG, credential: credentials.datadogCredential, logs: logs.slice(0, 1) });
});

afterAll(async () => {
  await Promise.all([atlassian.close(), datadog.close(), dispatcher.close()]);
  await rm(deadLetterDir, { recursive: true, force: true });
});

test('Atlassian counts per hour of event time, read a page at a time from a cursor, each slice picking up where the last stopped', async () => {
  const deps = dependencies(datadog);
  const outcome = await run(countAtlassian, deps, { orgId: ORG, credential: credentials.atlassianCredential, from: old, to: recent + HOUR, cursor: null, pacing: pacing() });
  expect(outcome).toMatchObject({ kind: 'end', counts: { [iso(old)]: 2, [iso(recent)]: 3 }, undated: 0 });
  // Pages of two, then the empty page that ends the stream.
  expect(outcome.requests).toBe(4);
  const again = await run(countAtlassian, deps, { orgId: ORG, credential: credentials.atlassianCredential, from: old, to: recent + HOUR, cursor: outcome.cursor, pacing: outcome.pacing });
  expect(again).toMatchObject({ kind: 'end', counts: {}, requests: 1 });
});

test('Datadog counts per hour of event time: logs dated at their time and re-dated ones alike', async () => {
  const counted = await run(countDatadog, dependencies(datadog), { orgId: ORG, credential: credentials.datadogCredential, from: old, to: recent + HOUR, indexes: ['*'] });
  expect(counted).toEqual({ kind: 'answered', value: { [iso(recent)]: { logs: 3, distinctIds: 2 }, [iso(old)]: { logs: 1, distinctIds: 1 } } });
  // The re-dated one is in Datadog at its ingest time: a search by Datadog's time alone would not find it at all.
  expect(datadog.received.find((log) => (log['atlassian'] as { event_id: string }).event_id === events.old[1])?.['ddtags']).toContain('redated:true');
  const elsewhere = await run(countDatadog, dependencies(datadog), { orgId: ORG, credential: credentials.datadogCredential, from: old, to: recent + HOUR, indexes: ['archive'] });
  expect(elsewhere).toEqual({ kind: 'answered', value: {} });
});

test('one hour compared ID by ID: the missing, and a repeat as extra', async () => {
  const deps = dependencies(datadog);
  const compare = (hour: number) =>
    run(compareHour, deps, { orgId: ORG, ...credentials, hour: iso(hour), indexes: ['*'], pacing: pacing(), listUpTo: 100 }) as Promise<CompareHourOutcome>;
  expect(await compare(recent)).toMatchObject({
    kind: 'compared',
    comparison: { hour: iso(recent), expected: 3, present: 2, missingIds: [events.recent[1]], extraCount: 1, extraIds: [events.recent[0]] },
  });
  expect(await compare(old)).toMatchObject({ kind: 'compared', comparison: { expected: 2, present: 1, missingIds: [events.old[0]], extraCount: 0 } });
});

test('a repair re-ships exactly the listed events, marked repaired, re-dated when old; an ID Atlassian no longer serves is counted', async () => {
  const deps = dependencies(datadog);
  const before = datadog.received.length;
  const outcome = (await run(repairHour, deps, { orgId: ORG, ...credentials, hour: iso(old), eventIds: [events.old[0]!, 'gone-event'], pacing: pacing() })) as RepairHourOutcome;
  expect(outcome).toMatchObject({ kind: 'repaired', shipped: 1, redated: 1, deadLettered: 0, notFound: 1 });
  const repaired = datadog.received.slice(before);
  expect(repaired).toHaveLength(1);
  expect(repaired[0]).toMatchObject({ atlassian: { event_id: events.old[0], repaired: true, redated: { original_timestamp: old + 60_000 } } });
  expect((repaired[0]!['ddtags'] as string).split(',')).toEqual(expect.arrayContaining(['repaired:true', 'redated:true', `org_id:${ORG}`]));
  const counted = (await run(countDatadog, deps, { orgId: ORG, credential: credentials.datadogCredential, from: old, to: old + HOUR, indexes: ['*'] })) as DatadogAnswer<DatadogHourCounts>;
  expect(counted).toEqual({ kind: 'answered', value: { [iso(old)]: { logs: 2, distinctIds: 2 } } });
});

test("Datadog's spent budget: a short wait is slept in the activity, a long one handed back", async () => {
  const limited = await DatadogStandin.start({ apiKeys: [KEYS.datadog], applicationKeys: [KEYS.application], queryRateLimit: { limit: 1, periodSeconds: 3_600 } });
  const shortly = await DatadogStandin.start({ apiKeys: [KEYS.datadog], applicationKeys: [KEYS.application], queryRateLimit: { limit: 1, periodSeconds: 2 } });
  try {
    const input = { orgId: ORG, credential: credentials.datadogCredential, from: old, to: recent + HOUR, indexes: ['*'] };
    // Counting asks twice (dated and re-dated logs): the second request meets the spent budget.
    const long = await run(countDatadog, dependencies(limited), input);
    expect(long.kind).toBe('rateLimited');
    if (long.kind === 'rateLimited') expect(long.retryAfterMs).toBeGreaterThan(30_000);
    expect(limited.queries.map((query) => query.status)).toEqual([200]);
    const startedAt = Date.now();
    expect(await run(countDatadog, dependencies(shortly), input)).toEqual({ kind: 'answered', value: {} });
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(900);
  } finally {
    await Promise.all([limited.close(), shortly.close()]);
  }
});

test("Atlassian's 429 with a long Retry-After is handed back to the workflow to wait out", async () => {
  atlassian.injectFault(ORG, { kind: 'rateLimit', retryAfterSeconds: 120 });
  const outcome = (await run(countAtlassian, dependencies(datadog), {
    orgId: ORG,
    credential: credentials.atlassianCredential,
    from: old,
    to: recent + HOUR,
    cursor: null,
    pacing: pacing(),
  })) as CountAtlassianOutcome;
  expect(outcome).toMatchObject({ kind: 'waiting', counts: {}, cursor: null, requests: 1 });
  expect(outcome.pacing.nextRequestAt - Date.now()).toBeGreaterThan(100_000);
});

test("the verify leaves the last fifth of Atlassian's remaining budget to the collector", () => {
  const resetAt = Date.now() + 60_000;
  expect(leavingReserve({ limit: 50, remaining: 10, resetAt })).toEqual({ limit: 50, remaining: 0, resetAt });
  expect(leavingReserve({ limit: 50, remaining: 11, resetAt })).toEqual({ limit: 50, remaining: 11, resetAt });
  expect(leavingReserve({ remaining: 1 })).toEqual({ remaining: 1 });
});

test('refused or missing Datadog keys end the run, naming what to fix and never a key', async () => {
  const failureOf = async (promise: Promise<unknown>) => {
    const err = await promise.then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    return err as ApplicationFailure;
  };
  const input = { orgId: ORG, credential: credentials.datadogCredential, from: old, to: recent + HOUR, indexes: ['*'] };
  const denied = await failureOf(run(countDatadog, dependencies(datadog, { DD_APP_KEY: 'datadog-app-key-wrong-77' }), input));
  expect(denied).toMatchObject({ type: VerifyFailureType.DatadogQueryAccessDenied, nonRetryable: true });
  expect(denied.message).toMatch(/DD_APP_KEY/);
  const unset = await failureOf(run(countDatadog, dependencies(datadog, { DD_APP_KEY: '' }), input));
  expect(unset).toMatchObject({ type: VerifyFailureType.DatadogQueryNotConfigured, nonRetryable: true });
  for (const failure of [denied, unset]) {
    for (const key of [...Object.values(KEYS), 'datadog-app-key-wrong-77']) expect(failure.message).not.toContain(key);
  }
});
