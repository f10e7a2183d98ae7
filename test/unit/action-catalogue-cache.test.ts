/**
 * Atlassian's action catalogue is fetched once per org and cached; when it cannot be had, mapping goes on without
 * it. A slow catalogue holds a map up for at most the fetch budget, concurrent maps share one fetch, and a
 * cancelled map stops waiting at once.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ActionCatalogueCache, type ActionCatalogueCacheOptions } from '../../activities/action-catalogue-cache';
import { createHttpAgent } from '../../activities/http-client';
import { mapEvents } from '../../activities/map';
import { AtlassianStandin } from '../../dev/standins/atlassian-standin';
import { demoEventActions } from '../../dev/standins/demo-event-actions';
import { goldenCases } from '../support/map-golden-cases';
import { activityEnvironment } from '../support/activity-environment';

const KEY = 'catalogue-test-key';
const credential = { ref: 'env:ATLASSIAN_API_KEY', version: 1 };
const env = { ATLASSIAN_API_KEY: KEY };
let standin: AtlassianStandin;
let pagedStandin: AtlassianStandin;
const dispatcher = createHttpAgent();

beforeAll(async () => {
  standin = await AtlassianStandin.start();
  standin.addOrg('org-a', { apiKeys: [KEY] });
  pagedStandin = await AtlassianStandin.start({ eventActionsPageSize: 4 });
  pagedStandin.addOrg('org-p', { apiKeys: [KEY] });
});

afterAll(async () => {
  await standin.close();
  await pagedStandin.close();
  await dispatcher.close();
});

function cache(options: Partial<ActionCatalogueCacheOptions> & Pick<ActionCatalogueCacheOptions, 'atlassianBaseUrl'>) {
  return new ActionCatalogueCache({ dispatcher, env, now: Date.now, ttlMs: 1_000, retryAfterFailureMs: 500, ...options });
}

/** The cache logs through the activity context, so it runs inside a mock one, as in the map activity. */
const within = <T>(work: () => Promise<T>, activity = activityEnvironment()) => activity.run(work) as Promise<T>;

describe('fetching and caching', () => {
  test('fetches once per org within the TTL, then again after it', async () => {
    let now = 0;
    const catalogues = cache({ atlassianBaseUrl: standin.url, now: () => now });
    const first = await within(() => catalogues.get('org-a', credential));
    expect(first?.group_created).toStrictEqual({ displayName: 'Created group', groupDisplayNames: ['GROUP MANAGEMENT'] });
    await within(() => catalogues.get('org-a', credential));
    expect(standin.requestCount('org-a', 'event-actions')).toBe(1);
    now = 1_001;
    await within(() => catalogues.get('org-a', credential));
    expect(standin.requestCount('org-a', 'event-actions')).toBe(2);
  });

  test('a refused key gives no catalogue, no failure, and a retry only after the back-off', async () => {
    let now = 0;
    const catalogues = cache({ atlassianBaseUrl: standin.url, now: () => now, env: { ATLASSIAN_API_KEY: 'not-the-key' } });
    const before = standin.requestCount('org-a', 'event-actions');
    expect(await within(() => catalogues.get('org-a', credential))).toBeUndefined();
    await within(() => catalogues.get('org-a', credential));
    expect(standin.requestCount('org-a', 'event-actions')).toBe(before + 1);
    now = 501;
    await within(() => catalogues.get('org-a', credential));
    expect(standin.requestCount('org-a', 'event-actions')).toBe(before + 2);
  });

  test('reads a paged catalogue to its last page', async () => {
    const catalogue = await within(() => cache({ atlassianBaseUrl: pagedStandin.url }).get('org-p', credential));
    expect(Object.keys(catalogue ?? {}).sort()).toStrictEqual(demoEventActions.map((action) => action.id).sort());
    const pages = Math.ceil(demoEventActions.length / 4);
    expect(pagedStandin.requestCount('org-p', 'event-actions')).toBe(pages);
    expect(pagedStandin.requests.filter((each) => each.status !== 200)).toStrictEqual([]);
  });
});

/** A catalogue endpoint on node:http whose answers the test gives, or never gives. */
interface HeldRequest {
  readonly url: string;
  readonly host: string | undefined;
  readonly authorization: string | undefined;
  /** Resolves when the connection closed before an answer: the client aborted. */
  readonly aborted: Promise<void>;
  answer(body: unknown): void;
}

interface CatalogueServer {
  readonly url: string;
  readonly requests: HeldRequest[];
  nextRequest(): Promise<HeldRequest>;
  close(): Promise<void>;
}

let server: CatalogueServer;

async function startCatalogueServer(): Promise<CatalogueServer> {
  const requests: HeldRequest[] = [];
  const waiting: ((request: HeldRequest) => void)[] = [];
  const http = createServer((req: IncomingMessage, res: ServerResponse) => {
    const aborted = new Promise<void>((resolve) => res.on('close', () => !res.writableFinished && resolve()));
    const held: HeldRequest = {
      url: req.url ?? '',
      host: req.headers.host,
      authorization: req.headers.authorization,
      aborted,
      answer: (body) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body)),
    };
    requests.push(held);
    waiting.shift()?.(held);
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    nextRequest: () => new Promise((resolve) => waiting.push(resolve)),
    close: () => {
      http.closeAllConnections();
      return new Promise((resolve) => http.close(() => resolve()));
    },
  };
}

const catalogueAnswer = {
  data: [{ id: 'user_added_to_group', type: 'eventActions', attributes: { displayName: 'Added user to group' } }],
  links: {},
  meta: null,
};

const golden = goldenCases().find((each) => each.name === 'user-added-to-group');
if (!golden) throw new Error('missing golden case user-added-to-group');
const mapInput = { orgId: 'org-slow', origin: 'tail' as const, events: [golden.polled], atlassianCredential: credential };
const BUILT_IN_MESSAGE = 'Ada Lovelace added bob@example.com to group site-admins';

/** One map activity, as the worker runs it. */
function runMap(catalogues: ActionCatalogueCache, activity = activityEnvironment()) {
  return within(() => mapEvents({ actionCatalogues: catalogues, now: Date.now }, mapInput), activity);
}

describe('a slow or endless catalogue', () => {
  beforeEach(async () => {
    server = await startCatalogueServer();
  });

  afterEach(async () => {
    await server.close();
  });

  test('an endpoint that never answers: the map finishes within the budget, with the built-in phrasing', async () => {
    const catalogues = cache({ atlassianBaseUrl: server.url, fetchBudgetMs: 300 });
    const startedAt = Date.now();
    const arrived = server.nextRequest();
    const [log] = await runMap(catalogues);
    const elapsed = Date.now() - startedAt;
    expect(elapsed).toBeGreaterThanOrEqual(280);
    expect(elapsed).toBeLessThan(1_300);
    expect(log?.message).toBe(BUILT_IN_MESSAGE);
    expect(log?.atlassian['action_display_name']).toBeUndefined();
    // The request itself was aborted, not left open.
    await (await arrived).aborted;
    // The failure is remembered: the next map does not wait again before the back-off.
    const again = Date.now();
    await runMap(catalogues);
    expect(Date.now() - again).toBeLessThan(200);
    expect(server.requests).toHaveLength(1);
  });

  test('concurrent maps of an org share one fetch and all get the catalogue', async () => {
    const catalogues = cache({ atlassianBaseUrl: server.url, fetchBudgetMs: 5_000 });
    const maps = [runMap(catalogues), runMap(catalogues), runMap(catalogues)];
    (await server.nextRequest()).answer(catalogueAnswer);
    const logs = (await Promise.all(maps)).flat();
    expect(logs.map((log) => log.atlassian['action_display_name'])).toStrictEqual(Array(3).fill('Added user to group'));
    expect(server.requests).toHaveLength(1);
  });

  test('a cancelled map stops waiting at once and, as the only waiter, aborts the request', async () => {
    const catalogues = cache({ atlassianBaseUrl: server.url, fetchBudgetMs: 60_000 });
    const activity = activityEnvironment();
    const map = runMap(catalogues, activity);
    const request = await server.nextRequest();
    const cancelledAt = Date.now();
    activity.cancel();
    const [log] = await map;
    expect(Date.now() - cancelledAt).toBeLessThan(500);
    expect(log?.message).toBe(BUILT_IN_MESSAGE);
    await request.aborted;
    // A cancellation says nothing about the catalogue: the next map fetches again at once.
    const next = server.nextRequest();
    const retried = runMap(catalogues);
    (await next).answer(catalogueAnswer);
    expect((await retried)[0]?.atlassian['action_display_name']).toBe('Added user to group');
  });

  test('a cancelled map leaves the shared fetch to the maps still waiting', async () => {
    const catalogues = cache({ atlassianBaseUrl: server.url, fetchBudgetMs: 60_000 });
    const cancelled = activityEnvironment();
    const first = runMap(catalogues, cancelled);
    const request = await server.nextRequest();
    const second = runMap(catalogues);
    cancelled.cancel();
    expect((await first)[0]?.atlassian['action_display_name']).toBeUndefined();
    request.answer(catalogueAnswer);
    expect((await second)[0]?.atlassian['action_display_name']).toBe('Added user to group');
    expect(server.requests).toHaveLength(1);
  });

  test('a paging that comes back to a page already read gives no catalogue', async () => {
    const catalogues = cache({ atlassianBaseUrl: server.url });
    const catalogue = within(() => catalogues.get('org-loop', credential));
    (await server.nextRequest()).answer({ ...catalogueAnswer, meta: { next: 'p2' } });
    (await server.nextRequest()).answer({ ...catalogueAnswer, meta: { next: 'p2' } });
    expect(await catalogue).toBeUndefined();
    expect(server.requests.map((each) => each.url)).toStrictEqual([
      '/admin/v1/orgs/org-loop/event-actions',
      '/admin/v1/orgs/org-loop/event-actions?cursor=p2',
    ]);
  });

  test('links.next on another host: only its query is followed, the key stays with the configured host', async () => {
    const catalogues = cache({ atlassianBaseUrl: server.url });
    const catalogue = within(() => catalogues.get('org-links', credential));
    const elsewhere = 'https://elsewhere.example/admin/v1/orgs/org-links/event-actions?cursor=p%202';
    (await server.nextRequest()).answer({ ...catalogueAnswer, links: { next: elsewhere } });
    const second = await server.nextRequest();
    expect(second).toMatchObject({
      url: '/admin/v1/orgs/org-links/event-actions?cursor=p+2',
      host: new URL(server.url).host,
      authorization: `Bearer ${KEY}`,
    });
    second.answer({ data: [{ id: 'group_created', attributes: { displayName: 'Created group' } }], links: {} });
    expect(Object.keys((await catalogue) ?? {}).sort()).toStrictEqual(['group_created', 'user_added_to_group']);
  });
});
