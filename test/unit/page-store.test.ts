/**
 * The worker's page store, and the map and ship activities that work on its pages: a poll's events wait there
 * for the map, which replaces them with their logs, which wait for the ship, which lets the page go once Datadog
 * has it. A page this worker does not hold (restarted, evicted, idle too long, another org's) is a non-retryable
 * PageNotStored failure that names the page only: the workflow then polls the page again from its cursor.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { ActionCatalogueCache } from '../../activities/action-catalogue-cache';
import type { DatadogLog } from '../../activities/datadog-log';
import { DeadLetterStore } from '../../activities/dead-letters';
import { createHttpAgent } from '../../activities/http-client';
import { mapPage, type MapDependencies, type MapPageInput, type MapPageResult } from '../../activities/map';
import { PageStore, type PageStoreOptions, type StoredPage } from '../../activities/page-store';
import { eventKey, type PolledEvent } from '../../activities/polled-event';
import { shipPage, type ShipDependencies, type ShipLogsResult } from '../../activities/ship';
import { AtlassianStandin } from '../../dev/standins/atlassian-standin';
import { DatadogStandin } from '../../dev/standins/datadog-standin';
import { FailureType } from '../../shared/failure-types';
import { activityEnvironment } from '../support/activity-environment';
import { goldenCases } from '../support/map-golden-cases';

const ORG = 'org-of-the-page';
const OTHER_ORG = 'another-org';

/** Events whose content must never show in a failure: an ID, an action and a user's name that say who did what. */
function polled(id: string): PolledEvent {
  return {
    kind: 'event',
    id,
    event: {
      id,
      type: 'events',
      attributes: {
        time: '2026-11-30T10:00:00.000Z',
        processedAt: '2026-11-30T10:00:01.000Z',
        action: 'user_removed_from_group',
        actor: { id: 'actor-1', name: 'Confidential Carol' },
        context: [],
      },
    } as never,
  };
}

function malformedElement(id: string): PolledEvent {
  return { kind: 'malformed', id, raw: { id, attributes: { action: 'secret_malformed_action' } }, problem: 'attributes.actor: Required' };
}

function log(eventId: string): DatadogLog {
  return {
    ddsource: 'atlassian-event-logs',
    service: 'atlassian-event-logs',
    ddtags: `org_id:${ORG}`,
    status: 'info',
    timestamp: Date.now() - 1_000,
    message: `log of ${eventId}`,
    atlassian: { event_id: eventId, org_id: ORG },
  } as DatadogLog;
}

/** The failure `work` throws, which must be a non-retryable PageNotStored. */
function pageNotStored(work: () => unknown): ApplicationFailure {
  let thrown: unknown;
  try {
    work();
  } catch (err) {
    thrown = err;
  }
  return expectPageNotStored(thrown);
}

function expectPageNotStored(thrown: unknown): ApplicationFailure {
  expect(thrown).toBeInstanceOf(ApplicationFailure);
  const failure = thrown as ApplicationFailure;
  expect(failure.type).toBe(FailureType.PageNotStored);
  expect(failure.nonRetryable).toBe(true);
  return failure;
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a failure');
    },
    (err: unknown) => err
  );
}

const newStore = (options: Partial<PageStoreOptions> = {}) => new PageStore({ taskQueue: 'test-pages', ...options });

describe('PageStore', () => {
  test('keeps a page of events under a fresh reference on this worker’s task queue', () => {
    const store = newStore();
    const events = [polled('e1'), polled('e2')];
    const page = store.putEvents(ORG, events, 1_234);
    expect(page).toEqual({ ref: expect.any(String), taskQueue: 'test-pages' });
    expect(store.events(ORG, page.ref)).toEqual(events);
    expect(store.size).toEqual({ pages: 1, bytes: 1_234 });
    const second = store.putEvents(ORG, [polled('e3')], 100);
    expect(second.ref).not.toBe(page.ref);
    expect(store.size).toEqual({ pages: 2, bytes: 1_334 });
  });

  test('putLogs replaces the events with their logs; each is read only in its own form', () => {
    const store = newStore();
    const page = store.putEvents(ORG, [polled('e1')], 500);
    pageNotStored(() => store.logs(ORG, page.ref));
    const logs = [log('e1')];
    store.putLogs(ORG, page.ref, { logs, malformed: 0 });
    expect(store.logs(ORG, page.ref)).toEqual(logs);
    expect(store.mapped(ORG, page.ref)).toEqual({ logs, malformed: 0 });
    const failure = pageNotStored(() => store.events(ORG, page.ref));
    expect(failure.message).toContain(page.ref);
    // Logs are counted at up to 2.75 times the bodies they came from, so the bound holds for what is kept.
    expect(store.size).toEqual({ pages: 1, bytes: 1_375 });
    store.putLogs(ORG, page.ref, { logs, malformed: 0 });
    expect(store.size).toEqual({ pages: 1, bytes: 1_375 });
  });

  test('delete lets a page go; deleting an unknown page is nothing', () => {
    const store = newStore();
    const page = store.putEvents(ORG, [polled('e1')], 500);
    store.putLogs(ORG, page.ref, { logs: [log('e1')], malformed: 0 });
    store.delete(page.ref);
    expect(store.size).toEqual({ pages: 0, bytes: 0 });
    pageNotStored(() => store.logs(ORG, page.ref));
    expect(() => store.delete(page.ref)).not.toThrow();
    expect(() => store.delete('no-such-page')).not.toThrow();
    expect(store.size).toEqual({ pages: 0, bytes: 0 });
  });

  test('a wrong org or an unknown reference is a non-retryable PageNotStored naming the page, never its content', () => {
    const store = newStore();
    const page = store.putEvents(ORG, [polled('event-id-7f3a'), malformedElement('malformed-id-2b9c')], 500);
    const failures = [
      pageNotStored(() => store.events(OTHER_ORG, page.ref)),
      pageNotStored(() => store.putLogs(OTHER_ORG, page.ref, { logs: [log('x')], malformed: 0 })),
      pageNotStored(() => store.logs(OTHER_ORG, page.ref)),
      pageNotStored(() => store.events(ORG, 'unknown-ref')),
      pageNotStored(() => store.putLogs(ORG, 'unknown-ref', { logs: [], malformed: 0 })),
    ];
    for (const failure of failures) {
      const text = JSON.stringify({ message: failure.message, details: failure.details, stack: failure.stack });
      for (const content of ['event-id-7f3a', 'malformed-id-2b9c', 'user_removed_from_group', 'Confidential Carol', 'secret_malformed_action']) {
        expect(text).not.toContain(content);
      }
    }
    expect(failures[0]!.message).toContain(page.ref);
    expect(failures[3]!.message).toContain('unknown-ref');
    // Another org's attempt changed nothing.
    expect(store.events(ORG, page.ref).map((e) => e.id)).toEqual(['event-id-7f3a', 'malformed-id-2b9c']);
  });

  describe('past maxBytes, the least recently used page goes', () => {
    test('in the order the pages were put', () => {
      const store = newStore({ maxBytes: 300 });
      const [a, b, c] = ['a', 'b', 'c'].map((id) => store.putEvents(ORG, [polled(id)], 100));
      expect(store.size).toEqual({ pages: 3, bytes: 300 });
      const d = store.putEvents(ORG, [polled('d')], 100);
      pageNotStored(() => store.events(ORG, a!.ref));
      for (const page of [b!, c!, d]) expect(store.events(ORG, page.ref)).toHaveLength(1);
      expect(store.size).toEqual({ pages: 3, bytes: 300 });
    });

    test('a page read (events, logs) or mapped is used: it goes after the others', () => {
      const store = newStore({ maxBytes: 300 });
      const [a, b, c] = ['a', 'b', 'c'].map((id) => store.putEvents(ORG, [polled(id)], 100));
      store.events(ORG, a!.ref);
      const d = store.putEvents(ORG, [polled('d')], 100);
      // b, not a: a was read after b was put.
      pageNotStored(() => store.events(ORG, b!.ref));
      store.events(ORG, a!.ref);
      // Mapped, c is the most recent and counts 275 bytes (its logs): d, then a (the least recent) make room.
      store.putLogs(ORG, c!.ref, { logs: [log('c')], malformed: 0 });
      expect(store.size).toEqual({ pages: 1, bytes: 275 });
      expect(store.logs(ORG, c!.ref)).toHaveLength(1);
      pageNotStored(() => store.events(ORG, d.ref));
      pageNotStored(() => store.events(ORG, a!.ref));
    });

    test('a single page larger than the bound is kept, alone', () => {
      const store = newStore({ maxBytes: 300 });
      const small = store.putEvents(ORG, [polled('a')], 100);
      const big = store.putEvents(ORG, [polled('b')], 500);
      pageNotStored(() => store.events(ORG, small.ref));
      expect(store.events(ORG, big.ref)).toHaveLength(1);
      expect(store.size).toEqual({ pages: 1, bytes: 500 });
    });
  });

  describe('a page unused for idleExpiryMs goes', () => {
    test('when it is next asked for', () => {
      let now = 1_000_000;
      const store = newStore({ idleExpiryMs: 1_000, now: () => now });
      const page = store.putEvents(ORG, [polled('a')], 100);
      now += 1_000;
      // Used just in time: its idle time starts again.
      expect(store.events(ORG, page.ref)).toHaveLength(1);
      now += 1_000;
      store.putLogs(ORG, page.ref, { logs: [log('a')], malformed: 0 });
      now += 1_001;
      pageNotStored(() => store.logs(ORG, page.ref));
      expect(store.size).toEqual({ pages: 0, bytes: 0 });
    });

    test('when another page is put, used pages staying', () => {
      let now = 0;
      const store = newStore({ idleExpiryMs: 1_000, now: () => now });
      const idle = store.putEvents(ORG, [polled('a')], 100);
      const used = store.putEvents(ORG, [polled('b')], 100);
      now = 600;
      store.events(ORG, used.ref);
      now = 1_500;
      const fresh = store.putEvents(ORG, [polled('c')], 100);
      expect(store.size).toEqual({ pages: 2, bytes: 200 });
      pageNotStored(() => store.events(ORG, idle.ref));
      expect(store.events(ORG, used.ref)).toHaveLength(1);
      expect(store.events(ORG, fresh.ref)).toHaveLength(1);
    });
  });
});

describe('the map and ship activities on stored pages', () => {
  const ATLASSIAN_KEY = 'page-store-atlassian-key-41d0';
  const DATADOG_KEY = 'page-store-datadog-key-8c2e';
  const dispatcher = createHttpAgent({ headersTimeoutMs: 2_000, bodyTimeoutMs: 2_000 });
  const atlassianCredential = { ref: 'env:ATLASSIAN_API_KEY', version: 1 };
  const datadogCredential = { ref: 'env:DD_API_KEY', version: 1 };
  let atlassian: AtlassianStandin;
  let datadog: DatadogStandin;
  let deadLetterDir: string;
  let mapDeps: MapDependencies;
  let shipDeps: ShipDependencies;

  beforeAll(async () => {
    atlassian = await AtlassianStandin.start();
    atlassian.addOrg(ORG, { apiKeys: [ATLASSIAN_KEY] });
    datadog = await DatadogStandin.start({ apiKeys: [DATADOG_KEY] });
    deadLetterDir = await mkdtemp(path.join(os.tmpdir(), 'page-store-dead-letters-'));
    const env = { ATLASSIAN_API_KEY: ATLASSIAN_KEY, DD_API_KEY: DATADOG_KEY };
    mapDeps = { actionCatalogues: new ActionCatalogueCache({ atlassianBaseUrl: atlassian.url, dispatcher, env, now: Date.now }), now: Date.now };
    shipDeps = { datadogIntakeUrl: datadog.url, dispatcher, env, now: Date.now, deadLetters: new DeadLetterStore(deadLetterDir), refusedLogRetryDelayMs: 0 };
  });

  afterAll(async () => {
    await Promise.all([atlassian.close(), datadog.close()]);
    await dispatcher.close();
    await rm(deadLetterDir, { recursive: true, force: true });
  });

  const golden = goldenCases()
    .map((each) => each.polled)
    .filter((e) => e.kind === 'event')
    .slice(0, 4);

  function map(store: PageStore, page: StoredPage, skipKeys: string[] = [], orgId = ORG): Promise<MapPageResult> {
    const input: MapPageInput = { orgId, origin: 'tail', page, skipKeys, atlassianCredential };
    return activityEnvironment().run(mapPage, { ...mapDeps, pageStore: store }, input) as Promise<MapPageResult>;
  }

  function ship(store: PageStore, page: StoredPage, orgId = ORG): Promise<ShipLogsResult> {
    return activityEnvironment().run(shipPage, { ...shipDeps, pageStore: store }, { orgId, credential: datadogCredential, page }) as Promise<ShipLogsResult>;
  }

  const eventIdsOf = (logs: readonly { atlassian?: unknown }[]) => logs.map((l) => (l.atlassian as { event_id: string }).event_id);

  test('mapPage maps the page’s events but the skipped ones, in order, keeps the logs in the store, and counts them', async () => {
    expect(golden.length).toBeGreaterThanOrEqual(3);
    const store = newStore();
    const events = [golden[0]!, golden[1]!, malformedElement('malformed-1'), golden[2]!];
    const page = store.putEvents(ORG, events, 10_000);
    const result = await map(store, page, [eventKey(golden[1]!.id)]);
    expect(result).toEqual({ logs: 3, malformed: 1 });
    const logs = store.logs(ORG, page.ref);
    expect(eventIdsOf(logs)).toEqual([golden[0]!.id, 'malformed-1', golden[2]!.id]);
    expect(logs[1]).toMatchObject({ status: 'warn' });
    for (const each of logs) expect(each).toMatchObject({ ddsource: 'atlassian-event-logs', atlassian: { org_id: ORG } });
  });

  test('mapPage with every event skipped leaves an empty page of logs', async () => {
    const store = newStore();
    const page = store.putEvents(ORG, [golden[0]!, malformedElement('malformed-2')], 1_000);
    const result = await map(store, page, [eventKey(golden[0]!.id), eventKey('malformed-2')]);
    expect(result).toEqual({ logs: 0, malformed: 0 });
    expect(store.logs(ORG, page.ref)).toEqual([]);
  });

  test('mapPage of a page it mapped already (an attempt whose completion was lost) answers from the stored logs', async () => {
    const store = newStore();
    const page = store.putEvents(ORG, [golden[0]!, malformedElement('malformed-3')], 1_000);
    const first = await map(store, page);
    const logs = store.logs(ORG, page.ref);
    expect(await map(store, page)).toEqual(first);
    expect(first).toEqual({ logs: 2, malformed: 1 });
    expect(store.logs(ORG, page.ref)).toBe(logs);
  });

  test('mapPage of a page this worker does not hold, or holds for another org, fails PageNotStored', async () => {
    const store = newStore();
    const page = store.putEvents(ORG, [golden[0]!], 1_000);
    expectPageNotStored(await rejection(map(store, { ref: 'gone-with-its-worker', taskQueue: 'test-pages' })));
    expectPageNotStored(await rejection(map(store, page, [], OTHER_ORG)));
    expect(store.events(ORG, page.ref)).toHaveLength(1);
  });

  test('shipPage sends the stored logs, in order, then lets the page go', async () => {
    const store = newStore();
    const page = store.putEvents(ORG, [], 1_000);
    const logs = ['s1', 's2', 's3'].map(log);
    store.putLogs(ORG, page.ref, { logs, malformed: 0 });
    const before = datadog.received.length;
    const result = await ship(store, page);
    expect(result).toEqual({ accepted: 3, requests: 1, redated: 0, deadLettered: [] });
    expect(eventIdsOf(datadog.received.slice(before))).toEqual(['s1', 's2', 's3']);
    expect(store.size).toEqual({ pages: 0, bytes: 0 });
    pageNotStored(() => store.logs(ORG, page.ref));
  });

  test('shipPage of a missing page, or of one not mapped yet, fails PageNotStored and sends nothing', async () => {
    const store = newStore();
    const unmapped = store.putEvents(ORG, [polled('not-mapped')], 1_000);
    const requestsBefore = datadog.requests.length;
    expectPageNotStored(await rejection(ship(store, { ref: 'gone-with-its-worker', taskQueue: 'test-pages' })));
    expectPageNotStored(await rejection(ship(store, unmapped)));
    expect(datadog.requests.length).toBe(requestsBefore);
    // The unmapped page is still there for its map.
    expect(store.events(ORG, unmapped.ref)).toHaveLength(1);
  });

  test('a ship that fails keeps the page for its retry, which delivers it and lets it go', async () => {
    const store = newStore();
    const page = store.putEvents(ORG, [], 1_000);
    store.putLogs(ORG, page.ref, { logs: ['r1', 'r2'].map(log), malformed: 0 });
    datadog.injectFault({ kind: 'status', status: 503 });
    const failure = await rejection(ship(store, page));
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ type: FailureType.DatadogUnavailable, nonRetryable: false });
    expect(store.logs(ORG, page.ref)).toHaveLength(2);
    const before = datadog.received.length;
    expect(await ship(store, page)).toMatchObject({ accepted: 2 });
    expect(eventIdsOf(datadog.received.slice(before))).toEqual(['r1', 'r2']);
    expect(store.size.pages).toBe(0);
  });

  test('poll’s events through map and ship: what Datadog receives is the page minus the skipped', async () => {
    const store = newStore();
    const page = store.putEvents(ORG, golden.slice(0, 3), 5_000);
    await map(store, page, [eventKey(golden[0]!.id)]);
    const before = datadog.received.length;
    const result = await ship(store, page);
    expect(result.accepted).toBe(2);
    expect(eventIdsOf(datadog.received.slice(before))).toEqual([golden[1]!.id, golden[2]!.id]);
    expect(store.size.pages).toBe(0);
  });
});
