import { request } from 'undici';
import { atlassianEventSchema, pollingPageSchema, type AtlassianEvent } from '../../activities/atlassian-schema';
import {
  AtlassianEndpoint,
  AtlassianStandin,
  type AtlassianStandinOptions,
  type StandinEventInput,
  usersContext,
} from '../../dev/standins/atlassian-standin';
import { demoEventActions } from '../../dev/standins/demo-event-actions';
import { generateDemoEvents } from '../../dev/standins/demo-events';

const ORG = 'org-1';
const KEY = 'key-1';
const T0 = Date.parse('2026-01-01T00:00:00.000Z');

interface Page {
  data: AtlassianEvent[];
  meta: { next: string | null; page_size: number };
  links: { self: string; next: string | null };
}

let clock = T0;
let standin: AtlassianStandin;

async function startStandin(options: Partial<AtlassianStandinOptions> = {}): Promise<AtlassianStandin> {
  standin = await AtlassianStandin.start({ now: () => clock, ...options });
  standin.addOrg(ORG, { apiKeys: [KEY] });
  return standin;
}

beforeEach(() => {
  clock = T0;
});

afterEach(async () => {
  await standin.close();
});

async function get(path: string, query: Record<string, string | number> = {}, key: string | null = KEY) {
  const url = new URL(`${standin.url}/admin/v1/orgs/${ORG}/${path}`);
  for (const [name, value] of Object.entries(query)) url.searchParams.set(name, String(value));
  const response = await request(url, { headers: key === null ? {} : { authorization: `Bearer ${key}` } });
  const text = await response.body.text();
  return { status: response.statusCode, headers: response.headers, text, json: () => JSON.parse(text) as unknown };
}

async function streamPage(query: Record<string, string | number> = {}): Promise<Page> {
  const response = await get('events-stream', query);
  expect(response.status).toBe(200);
  return response.json() as Page;
}

/** Events whose processing and event times are `spacingMs` apart, starting at T0. */
function events(count: number, spacingMs = 1000, action = 'group_created'): StandinEventInput[] {
  return Array.from({ length: count }, (_, index) => ({
    id: `e${index + 1}`,
    action,
    time: T0 + index * spacingMs,
    processedAt: T0 + index * spacingMs + 500,
  }));
}

const ids = (page: Page) => page.data.map((event) => event.id);

describe('events-stream paging and ordering', () => {
  beforeEach(() => startStandin());

  it('pages through events in processing order; the cursor alone continues with the same page size', async () => {
    standin.addEvents(ORG, events(7));

    const first = await streamPage({ limit: 3 });
    expect(ids(first)).toEqual(['e1', 'e2', 'e3']);
    expect(first.meta.page_size).toBe(3);
    expect(first.links.next).toBe(`${standin.url}/admin/v1/orgs/${ORG}/events-stream?cursor=${first.meta.next}`);
    const second = await streamPage({ cursor: first.meta.next! });
    expect(ids(second)).toEqual(['e4', 'e5', 'e6']);
    const last = await streamPage({ cursor: second.meta.next! });
    expect(ids(last)).toEqual(['e7']);
    expect(last.meta.next).toEqual(expect.any(String));
    const caughtUp = await streamPage({ cursor: last.meta.next! });
    expect(caughtUp.data).toEqual([]);
    expect(caughtUp.meta.next).toEqual(expect.any(String));
    for (const event of [...first.data, ...second.data, ...last.data]) {
      expect(atlassianEventSchema.safeParse(event).success).toBe(true);
      expect(event.attributes.processedAt).toEqual(expect.any(String));
    }
  });

  it('defaults to 200 events per page', async () => {
    standin.addEvents(ORG, events(201));
    const page = await streamPage();
    expect(page.data).toHaveLength(200);
    expect(page.meta.page_size).toBe(200);
  });

  it('delivers each of several events on the same millisecond exactly once, in insertion order', async () => {
    const sameInstant = ['a', 'b', 'c', 'd', 'e'].map((id) => ({ id, action: 'x', time: T0, processedAt: T0 }));
    standin.addEvents(ORG, sameInstant);

    const seen: AtlassianEvent[] = [];
    let page = await streamPage({ limit: 2 });
    while (page.data.length > 0) {
      seen.push(...page.data);
      page = await streamPage({ cursor: page.meta.next! });
    }
    expect(seen.map((event) => event.id)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(new Set(seen.map((event) => event.attributes.processedAt))).toEqual(new Set([new Date(T0).toISOString()]));
  });

  it('returns only events processed since, when the last cursor is reused later', async () => {
    standin.addEvents(ORG, events(3));
    const page = await streamPage();
    expect(ids(page)).toEqual(['e1', 'e2', 'e3']);

    standin.addEvents(ORG, [
      { id: 'new-1', action: 'group_deleted', time: T0 + 10_000 },
      { id: 'new-2', action: 'group_deleted', time: T0 + 11_000 },
    ]);
    const later = await streamPage({ cursor: page.meta.next! });
    expect(ids(later)).toEqual(['new-1', 'new-2']);
    expect(ids(await streamPage({ cursor: later.meta.next! }))).toEqual([]);
  });

  it('an empty first page already returns a cursor that later sees new events', async () => {
    const empty = await streamPage();
    expect(empty.data).toEqual([]);
    standin.addEvents(ORG, events(1));
    expect(ids(await streamPage({ cursor: empty.meta.next! }))).toEqual(['e1']);
  });

  it('delivers a late event (old own time, processed now) after the cursor, in processing order', async () => {
    standin.addEvents(ORG, events(2));
    const caughtUp = await streamPage();

    clock = T0 + 3_600_000;
    const [late] = standin.addEvents(ORG, [{ id: 'late', action: 'user_added_to_group', time: T0 - 86_400_000 }]);
    expect(late?.attributes.processedAt).toBe(new Date(clock).toISOString());

    const next = await streamPage({ cursor: caughtUp.meta.next! });
    expect(ids(next)).toEqual(['late']);
    expect(next.data[0]?.attributes.time).toBe(new Date(T0 - 86_400_000).toISOString());
  });

  it('never lets processing time go backwards: an earlier processedAt is raised to the last one', async () => {
    standin.addEvents(ORG, [{ id: 'first', action: 'x', time: T0, processedAt: T0 + 5000 }]);
    const [second] = standin.addEvents(ORG, [{ id: 'second', action: 'x', time: T0, processedAt: T0 + 1000 }]);
    expect(second?.attributes.processedAt).toBe(new Date(T0 + 5000).toISOString());
    expect(standin.events(ORG).map((event) => event.id)).toEqual(['first', 'second']);
  });

  it('refuses a batch with a repeated event ID and adds none of it', () => {
    standin.addEvents(ORG, events(1));
    const input = (id: string) => ({ id, action: 'x', time: T0 });
    expect(() => standin.addEvents(ORG, [input('fresh'), input('e1')])).toThrow(/e1 already exists/);
    expect(() => standin.addEvents(ORG, [input('twice'), input('twice')])).toThrow(/twice already exists/);
    expect(standin.events(ORG).map((event) => event.id)).toEqual(['e1']);
  });

  it('keeps an ISO time exactly as given, with or without milliseconds', () => {
    const [event] = standin.addEvents(ORG, [{ action: 'x', time: '2025-11-21T08:45:00Z' }]);
    expect(event?.attributes.time).toBe('2025-11-21T08:45:00Z');
    expect(event?.id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('pages newest-processed first with sortOrder=desc, ignoring events added during the walk', async () => {
    standin.addEvents(ORG, events(5));
    const first = await streamPage({ sortOrder: 'desc', limit: 2 });
    expect(ids(first)).toEqual(['e5', 'e4']);
    standin.addEvents(ORG, [{ id: 'during-walk', action: 'x', time: T0 }]);
    const second = await streamPage({ cursor: first.meta.next! });
    expect(ids(second)).toEqual(['e3', 'e2']);
    const third = await streamPage({ cursor: second.meta.next! });
    expect(ids(third)).toEqual(['e1']);
    expect(ids(await streamPage({ cursor: third.meta.next! }))).toEqual([]);
  });

  it('filters on the event time with from inclusive and to exclusive, and keeps the filter in the cursor', async () => {
    standin.addEvents(ORG, events(5));
    const page = await streamPage({ from: T0 + 1000, to: T0 + 3000, limit: 1 });
    expect(ids(page)).toEqual(['e2']);
    const next = await streamPage({ cursor: page.meta.next! });
    expect(ids(next)).toEqual(['e3']);
    expect(ids(await streamPage({ cursor: next.meta.next! }))).toEqual([]);
  });

  it('filters late events by their own time, not their processing time', async () => {
    standin.addEvents(ORG, events(2));
    clock = T0 + 86_400_000;
    standin.addEvents(ORG, [{ id: 'late-in-range', action: 'x', time: T0 + 500 }]);
    const page = await streamPage({ from: T0, to: T0 + 1000 });
    expect(ids(page)).toEqual(['e1', 'late-in-range']);
  });

  it.each([
    [{ cursor: 'not-a-cursor' }, 'ADMIN-400-1'],
    [{ cursor: Buffer.from('{"kind":"events"}').toString('base64url') }, 'ADMIN-400-1'],
    [{ from: 'yesterday' }, 'ADMIN-400-3'],
    [{ to: '2026-01-01T00:00:00Z' }, 'ADMIN-400-3'],
    [{ from: 2000, to: 1000 }, 'ADMIN-400-3'],
    [{ limit: 501 }, 'ADMIN-400-4'],
    [{ limit: 0 }, 'ADMIN-400-4'],
    [{ sortOrder: 'sideways' }, 'ADMIN-400-4'],
  ])('answers 400 to %j with %s', async (query, code) => {
    const response = await get('events-stream', query);
    expect(response.status).toBe(400);
    expect(response.json()).toMatchObject({ errors: [{ status: '400', code }] });
  });
});

describe('authentication', () => {
  beforeEach(() => startStandin());

  it('answers 401 without a key and with a wrong key', async () => {
    const missing = await get('events-stream', {}, null);
    expect(missing.status).toBe(401);
    expect(missing.json()).toEqual({ errors: [{ status: '401', title: 'Unauthorized' }] });
    expect((await get('events-stream', {}, 'wrong')).status).toBe(401);
  });

  it('answers 401 to the old key once keys are rotated, and 200 to the new one', async () => {
    expect((await get('events-stream')).status).toBe(200);
    standin.setApiKeys(ORG, ['key-2']);
    expect((await get('events-stream')).status).toBe(401);
    expect((await get('events-stream', {}, 'key-2')).status).toBe(200);
  });

  it('answers 404 ADMIN-404-2 for an unknown org', async () => {
    const response = await request(`${standin.url}/admin/v1/orgs/nope/events-stream`, {
      headers: { authorization: `Bearer ${KEY}` },
    });
    expect(response.statusCode).toBe(404);
    expect(await response.body.json()).toMatchObject({ errors: [{ code: 'ADMIN-404-2' }] });
  });
});

describe('rate limits', () => {
  it('answers 429 with Retry-After and X-RateLimit-* once the bucket is empty, and recovers after refill', async () => {
    await startStandin({ rateLimit: { requestsPerMinute: 6, burst: 2 } });

    const first = await get('events-stream');
    expect(first.status).toBe(200);
    expect(first.headers['x-ratelimit-limit']).toBe('2');
    expect(first.headers['x-ratelimit-remaining']).toBe('1');
    expect((await get('events-stream')).headers['x-ratelimit-remaining']).toBe('0');

    const limited = await get('events-stream');
    expect(limited.status).toBe(429);
    expect(limited.headers['retry-after']).toBe('10');
    expect(limited.headers['x-ratelimit-remaining']).toBe('0');
    expect(limited.headers['x-ratelimit-reset']).toBe('2026-01-01T00:00:10Z');
    expect(limited.json()).toMatchObject({ errors: [{ status: '429', code: 'ADMIN-429-1' }] });

    clock += 9_999;
    expect((await get('events-stream')).status).toBe(429);
    clock += 1;
    expect((await get('events-stream')).status).toBe(200);
    expect(standin.stats()[ORG]?.rateLimited).toBe(2);
  });

  it('can leave out Retry-After so that clients must read X-RateLimit-Reset', async () => {
    await startStandin({ rateLimit: { requestsPerMinute: 60, burst: 1 }, retryAfterHeader: false });
    await get('events-stream');
    const limited = await get('events-stream');
    expect(limited.status).toBe(429);
    expect(limited.headers['retry-after']).toBeUndefined();
    expect(limited.headers['x-ratelimit-reset']).toBe('2026-01-01T00:00:01Z');
  });

  it('limits the filtered events endpoint to 10 requests per minute per org by default', async () => {
    await startStandin();
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) statuses.push((await get('events')).status);
    expect(statuses).toEqual([...Array<number>(10).fill(200), 429]);
    expect((await get('events-stream')).status).toBe(200);
  });
});

describe('injected faults', () => {
  beforeEach(() => startStandin());

  it('answers the queued status the given number of times, then recovers', async () => {
    standin.injectFault(ORG, { kind: 'status', status: 503 }, 2);
    expect((await get('events-stream')).status).toBe(503);
    expect((await get('events-stream')).status).toBe(503);
    expect((await get('events-stream')).status).toBe(200);
  });

  it("applies a '*' fault to any org, first in first out", async () => {
    standin.addOrg('org-2', { apiKeys: [KEY] });
    standin.injectFault('*', { kind: 'status', status: 500 });
    standin.injectFault(ORG, { kind: 'status', status: 502 });
    const other = await request(`${standin.url}/admin/v1/orgs/org-2/events-stream`, {
      headers: { authorization: `Bearer ${KEY}` },
    });
    expect(other.statusCode).toBe(500);
    expect(await other.body.json()).toMatchObject({ errors: [{ code: 'ADMIN-500-1' }] });
    expect((await get('events-stream')).status).toBe(502);
  });

  it('leaves faults queued for events-stream when other endpoints are called', async () => {
    standin.injectFault(ORG, { kind: 'status', status: 504 });
    expect((await get('event-actions')).status).toBe(200);
    expect((await get('events-stream')).status).toBe(504);
  });

  it('resets the connection without an answer', async () => {
    standin.injectFault(ORG, { kind: 'reset' });
    await expect(get('events-stream')).rejects.toMatchObject({ code: 'UND_ERR_SOCKET' });
    expect(standin.requests.at(-1)).toMatchObject({ endpoint: 'events-stream', status: null });
    expect((await get('events-stream')).status).toBe(200);
  });

  it('hangs for the given time, then drops the connection', async () => {
    standin.injectFault(ORG, { kind: 'hang', ms: 80 });
    const startedAt = Date.now();
    await expect(get('events-stream')).rejects.toMatchObject({ code: 'UND_ERR_SOCKET' });
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(70);
  });

  it('answers 200 with an HTML body that is not JSON', async () => {
    standin.injectFault(ORG, { kind: 'malformedBody' });
    const response = await get('events-stream');
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/html/);
    expect(() => response.json()).toThrow(SyntaxError);
  });

  it('answers 200 with JSON that is not a page', async () => {
    standin.injectFault(ORG, { kind: 'wrongShape' });
    const response = await get('events-stream');
    expect(response.status).toBe(200);
    expect(pollingPageSchema.safeParse(response.json()).success).toBe(false);
  });

  it('serves one schema-invalid event (with its id) on the next non-empty page only', async () => {
    standin.injectFault(ORG, { kind: 'invalidEvent' });
    const empty = await streamPage();
    expect(empty.data).toEqual([]);

    standin.addEvents(ORG, events(3));
    const page = await streamPage({ cursor: empty.meta.next! });
    expect(ids(page)).toEqual(['e1', 'e2', 'e3']);
    expect(pollingPageSchema.safeParse(page).success).toBe(true);
    const validity = page.data.map((event) => atlassianEventSchema.safeParse(event).success);
    expect(validity).toEqual([false, true, true]);

    const reread = await streamPage();
    expect(reread.data.every((event) => atlassianEventSchema.safeParse(event).success)).toBe(true);
  });

  it('answers 429 on demand with the requested Retry-After', async () => {
    standin.injectFault(ORG, { kind: 'rateLimit', retryAfterSeconds: 7 });
    const response = await get('events-stream');
    expect(response.status).toBe(429);
    expect(response.headers['retry-after']).toBe('7');
    expect(response.headers['x-ratelimit-reset']).toBe('2026-01-01T00:00:07Z');
    expect(standin.stats()[ORG]?.rateLimited).toBe(1);
  });

  it('closes promptly while a request hangs', async () => {
    standin.injectFault(ORG, { kind: 'hang', ms: 60_000 });
    const hanging = get('events-stream');
    await new Promise((resolve) => setTimeout(resolve, 30));
    const startedAt = Date.now();
    await standin.close();
    expect(Date.now() - startedAt).toBeLessThan(1000);
    await expect(hanging).rejects.toMatchObject({ code: 'UND_ERR_SOCKET' });
  });
});

describe('pages a collector did not write itself', () => {
  it('serves at most maxStreamPageSize events a page, whatever limit asks, and loses none', async () => {
    await startStandin({ maxStreamPageSize: 3 });
    standin.addEvents(ORG, events(8));
    const first = await streamPage({ limit: 5 });
    expect(ids(first)).toEqual(['e1', 'e2', 'e3']);
    expect(first.meta.page_size).toBe(3);
    const second = await streamPage({ cursor: first.meta.next!, limit: 5 });
    expect(ids(second)).toEqual(['e4', 'e5', 'e6']);

    standin.setMaxStreamPageSize(undefined);
    const rest = await streamPage({ cursor: second.meta.next!, limit: 5 });
    expect(ids(rest)).toEqual(['e7', 'e8']);
    expect(rest.meta.page_size).toBe(5);
    expect(() => standin.setMaxStreamPageSize(0)).toThrow(/positive integer/);
  });

  it('answers the stuck-cursor fault with the page and the cursor it was asked with, the given number of times', async () => {
    await startStandin();
    standin.addEvents(ORG, events(4));
    const start = await streamPage({ limit: 2 });
    standin.injectFault(ORG, { kind: 'stuckCursor' }, 2);
    for (let read = 0; read < 2; read++) {
      const stuck = await streamPage({ cursor: start.meta.next! });
      expect(ids(stuck)).toEqual(['e3', 'e4']);
      expect(stuck.meta.next).toBe(start.meta.next);
      expect(stuck.links.next).toBe(`${standin.url}/admin/v1/orgs/${ORG}/events-stream?cursor=${start.meta.next}`);
    }
    const moved = await streamPage({ cursor: start.meta.next! });
    expect(ids(moved)).toEqual(['e3', 'e4']);
    expect(moved.meta.next).not.toBe(start.meta.next);
    expect(ids(await streamPage({ cursor: moved.meta.next! }))).toEqual([]);
  });

  it('a stuck first request (no cursor) returns a cursor that reads the same page again', async () => {
    await startStandin();
    standin.addEvents(ORG, events(3));
    standin.injectFault(ORG, { kind: 'stuckCursor' });
    const stuck = await streamPage({ limit: 2 });
    expect(ids(stuck)).toEqual(['e1', 'e2']);
    expect(ids(await streamPage({ cursor: stuck.meta.next! }))).toEqual(['e1', 'e2']);
  });

  it('serves one event ID twice in a page, and the stream behind it unchanged', async () => {
    await startStandin();
    standin.injectFault(ORG, { kind: 'duplicateEvent' });
    expect((await streamPage()).data).toEqual([]);
    standin.addEvents(ORG, events(4));
    const page = await streamPage({ limit: 3 });
    expect(ids(page)).toEqual(['e1', 'e2', 'e3', 'e1']);
    expect(ids(await streamPage({ cursor: page.meta.next! }))).toEqual(['e4']);
  });

  it('serves a page whose cursor is one event short, so the next page repeats its last event', async () => {
    await startStandin();
    standin.addEvents(ORG, events(5));
    standin.injectFault(ORG, { kind: 'overlappingCursor' });
    const first = await streamPage({ limit: 3 });
    expect(ids(first)).toEqual(['e1', 'e2', 'e3']);
    const second = await streamPage({ cursor: first.meta.next! });
    expect(ids(second)).toEqual(['e3', 'e4', 'e5']);
  });

  it('serves identical elements without an ID at the end of the next page', async () => {
    await startStandin();
    standin.addEvents(ORG, events(1));
    standin.injectFault(ORG, { kind: 'unidentifiedElements', count: 3 });
    const page = (await get('events-stream')).json() as { data: unknown[] };
    expect(page.data).toHaveLength(4);
    const [event, ...unidentified] = page.data;
    expect(atlassianEventSchema.safeParse(event).success).toBe(true);
    expect(new Set(unidentified.map((element) => JSON.stringify(element))).size).toBe(1);
    expect(unidentified[0]).not.toHaveProperty('id');
  });

  it('refuses every cursor issued before expireCursors with 400 ADMIN-400-1; a fresh stream works', async () => {
    await startStandin();
    standin.addEvents(ORG, events(3));
    const first = await streamPage({ limit: 1 });
    const second = await streamPage({ cursor: first.meta.next! });
    standin.expireCursors(ORG);
    for (const cursor of [first.meta.next!, second.meta.next!]) {
      const refused = await get('events-stream', { cursor });
      expect(refused.status).toBe(400);
      expect(refused.json()).toMatchObject({ errors: [{ status: '400', code: 'ADMIN-400-1' }] });
    }
    const fresh = await streamPage({ from: T0 + 1000, limit: 1 });
    expect(ids(fresh)).toEqual(['e2']);
    expect(ids(await streamPage({ cursor: fresh.meta.next! }))).toEqual(['e3']);
  });

  it('serves an event with a large context whole', async () => {
    await startStandin();
    const context = usersContext(5_000);
    expect(usersContext(5_000)).toEqual(context);
    standin.addEvents(ORG, [{ id: 'big', action: 'group_deleted', time: T0, context }]);
    const response = await get('events-stream');
    expect(Buffer.byteLength(response.text)).toBeGreaterThan(500_000);
    const [event] = (response.json() as Page).data;
    expect(atlassianEventSchema.safeParse(event).success).toBe(true);
    expect(event?.attributes.context).toEqual(context);
  });

  it('serves the actor and location shapes seen in the wild as given', async () => {
    await startStandin();
    const inputs: StandinEventInput[] = [
      {
        id: 'sys',
        action: 'x',
        time: T0,
        actor: { id: 'confluence', name: 'Confluence', email: 'Atlassian app' },
        location: { geo: 'EU' },
      },
      { id: 'tok', action: 'x', time: T0, actor: { id: '712020:a', auth: { authType: 'session', tokenName: 'cli' } } },
      { id: 'geo', action: 'x', time: T0, location: { ip: '192.0.2.1', geo: { countryCode: 'US', regionCode: 'CA' } } },
    ];
    standin.addEvents(ORG, inputs);
    const served = (await streamPage()).data;
    expect(served.map((event) => atlassianEventSchema.safeParse(event).success)).toEqual([true, true, true]);
    expect(served.map(({ attributes: { actor, location } }) => ({ actor, location }))).toEqual([
      { actor: inputs[0]?.actor, location: inputs[0]?.location },
      { actor: inputs[1]?.actor, location: undefined },
      { actor: expect.objectContaining({ name: 'Stand-in Admin' }), location: inputs[2]?.location },
    ]);
  });
});

describe('other endpoints', () => {
  beforeEach(() => startStandin());

  it('serves the filtered query newest first by event time, without processedAt, with an action filter', async () => {
    standin.addEvents(ORG, [
      { id: 'old', action: 'group_created', time: T0 },
      { id: 'newest', action: 'group_created', time: T0 + 2000 },
      { id: 'other-action', action: 'group_deleted', time: T0 + 1500 },
      { id: 'middle', action: 'group_created', time: T0 + 1000 },
    ]);
    const first = (await get('events', { action: 'group_created', limit: 2 })).json() as Page;
    expect(ids(first)).toEqual(['newest', 'middle']);
    expect(first.data[0]?.attributes.processedAt).toBeUndefined();
    expect(first.links.next).toBe(`${standin.url}/admin/v1/orgs/${ORG}/events?cursor=${first.meta.next}`);

    const filters = { action: 'group_created', limit: 2 };
    const second = (await get('events', { ...filters, cursor: first.meta.next! })).json() as Page;
    expect(ids(second)).toEqual(['old']);
    expect(second.meta.next).toBeNull();
  });

  it('serves one event by ID, and 404 ADMIN-404-4 for an unknown one', async () => {
    standin.addEvents(ORG, events(1));
    const found = await get('events/e1');
    expect(found.status).toBe(200);
    expect(found.json()).toMatchObject({ data: { id: 'e1', attributes: { action: 'group_created' } } });
    const missing = await get('events/nope');
    expect(missing.status).toBe(404);
    expect(missing.json()).toMatchObject({ errors: [{ code: 'ADMIN-404-4' }] });
  });

  it('lists every action the demo generator produces in /event-actions, in one answer shaped like the real dump', async () => {
    const body = (await get('event-actions')).json() as { data: { id: string; type: string; attributes: object }[] };
    expect(body.data.map((action) => action.id).sort()).toEqual(demoEventActions.map((action) => action.id).sort());
    expect(body).toMatchObject({ links: {}, meta: null });
    expect(body.data[0]).toStrictEqual({
      id: 'group_created',
      type: 'eventActions',
      attributes: { displayName: 'Created group', groupDisplayNames: ['GROUP MANAGEMENT'] },
    });
  });

  it('pages /event-actions with eventActionsPageSize, and refuses a cursor it did not issue', async () => {
    await standin.close();
    await startStandin({ eventActionsPageSize: 6 });
    type ActionsPage = { data: { id: string }[]; meta: { next: string | null }; links: { next: string | null } };
    const pages: ActionsPage[] = [(await get('event-actions')).json() as ActionsPage];
    for (let next = pages[0]?.meta.next; next; next = pages.at(-1)?.meta.next) {
      const page = (await get('event-actions', { cursor: next })).json() as ActionsPage;
      expect(pages.at(-1)?.links.next).toBe(`${standin.url}/admin/v1/orgs/${ORG}/event-actions?cursor=${next}`);
      pages.push(page);
    }
    expect(pages.map((page) => page.data.length)).toEqual([6, 6, 3]);
    expect(pages.flatMap((page) => page.data.map((action) => action.id))).toEqual(demoEventActions.map((action) => action.id));
    expect(pages.at(-1)?.links.next).toBeNull();
    expect((await get('event-actions', { cursor: 'not-a-cursor' })).json()).toMatchObject({ errors: [{ code: 'ADMIN-400-1' }] });
    await expect(AtlassianStandin.start({ eventActionsPageSize: 0 })).rejects.toThrow('eventActionsPageSize');
  });

  it('records requests with org, endpoint, query and status', async () => {
    await get('events-stream', { limit: 5 });
    await get('event-actions', {}, 'wrong');
    expect(standin.requestCount(ORG)).toBe(2);
    expect(standin.requestCount(ORG, AtlassianEndpoint.eventsStream)).toBe(1);
    expect(standin.requests).toEqual([
      {
        orgId: ORG,
        endpoint: 'events-stream',
        path: `/admin/v1/orgs/${ORG}/events-stream`,
        query: { limit: '5' },
        status: 200,
        at: T0,
      },
      {
        orgId: ORG,
        endpoint: 'event-actions',
        path: `/admin/v1/orgs/${ORG}/event-actions`,
        query: {},
        status: 401,
        at: T0,
      },
    ]);
  });
});

describe('control endpoints', () => {
  beforeEach(() => startStandin());

  async function post(path: string, body: unknown) {
    const response = await request(`${standin.url}/_standin/${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: response.statusCode, body: (await response.body.json()) as Record<string, unknown> };
  }

  it('creates an org, seeds events, queues a fault and reports stats over HTTP', async () => {
    expect((await post('orgs/org-9/keys', { apiKeys: ['k9'] })).status).toBe(200);
    const added = await post('orgs/org-9/events', [{ id: 'x1', action: 'x', time: '2026-01-01T00:00:00Z' }]);
    expect(added).toMatchObject({ status: 200, body: { data: [{ id: 'x1', type: 'events' }] } });
    const fault = { kind: 'status', status: 502 };
    expect((await post('faults', { orgId: 'org-9', fault, times: 1 })).status).toBe(200);

    const poll = () =>
      request(`${standin.url}/admin/v1/orgs/org-9/events-stream`, { headers: { authorization: 'Bearer k9' } });
    const faulted = await poll();
    await faulted.body.text();
    expect(faulted.statusCode).toBe(502);
    const recovered = await poll();
    await recovered.body.text();
    expect(recovered.statusCode).toBe(200);

    const stats = await request(`${standin.url}/_standin/stats`);
    expect(await stats.body.json()).toMatchObject({
      orgs: { 'org-9': { events: 1, requests: 2, requestsByEndpoint: { 'events-stream': 2 } } },
    });
  });

  it('caps the stream page size and expires cursors over HTTP', async () => {
    standin.addEvents(ORG, events(3));
    expect(await post('stream-page-size', { maxPageSize: 1 })).toEqual({ status: 200, body: { maxPageSize: 1 } });
    const capped = await streamPage({ limit: 3 });
    expect(ids(capped)).toEqual(['e1']);
    expect((await post('stream-page-size', { maxPageSize: null })).status).toBe(200);
    expect(ids(await streamPage({ limit: 3 }))).toEqual(['e1', 'e2', 'e3']);
    expect((await post('stream-page-size', { maxPageSize: 0 })).status).toBe(400);

    const expired = await request(`${standin.url}/_standin/orgs/${ORG}/expire-cursors`, { method: 'POST' });
    expect(expired.statusCode).toBe(200);
    await expired.body.dump();
    expect((await get('events-stream', { cursor: capped.meta.next! })).status).toBe(400);
    const ghost = await request(`${standin.url}/_standin/orgs/ghost/expire-cursors`, { method: 'POST' });
    expect(ghost.statusCode).toBe(404);
    await ghost.body.dump();
  });

  it('queues the page faults over HTTP', async () => {
    standin.addEvents(ORG, events(2));
    expect((await post('faults', { orgId: ORG, fault: { kind: 'stuckCursor' }, times: 1 })).status).toBe(200);
    const stuck = await streamPage();
    expect(ids(await streamPage({ cursor: stuck.meta.next! }))).toEqual(['e1', 'e2']);
  });

  it('refuses invalid control bodies with 400 and events for an unknown org with 404', async () => {
    expect((await post('orgs/org-1/events', [{ action: 'x' }])).status).toBe(400);
    expect((await post('faults', { orgId: ORG, fault: { kind: 'status', status: 418 } })).status).toBe(400);
    expect((await post('orgs/ghost/events', [])).status).toBe(404);
    expect(standin.events(ORG)).toEqual([]);
  });
});

describe('demo events', () => {
  beforeEach(() => startStandin());
  const options = { seed: 42, count: 300, startTime: T0, spacingMs: 60_000, orgId: ORG };

  it('are deterministic for a seed and org, and differ across orgs', () => {
    expect(generateDemoEvents(options)).toEqual(generateDemoEvents(options));
    expect(generateDemoEvents({ ...options, orgId: 'org-2' })).not.toEqual(generateDemoEvents(options));
  });

  it('are valid events once served, cover the whole catalogue and include late and non-ASCII ones', () => {
    const served = standin.addEvents(ORG, generateDemoEvents(options));
    expect(served.every((event) => atlassianEventSchema.safeParse(event).success)).toBe(true);
    expect(new Set(served.map((event) => event.attributes.action))).toEqual(new Set(demoEventActions.map((a) => a.id)));
    const lateness = served.map(
      (event) => Date.parse(event.attributes.processedAt!) - Date.parse(event.attributes.time)
    );
    expect(lateness.some((ms) => ms > 5 * 60_000)).toBe(true);
    expect(lateness.every((ms) => ms >= 0)).toBe(true);
    const text = JSON.stringify(served);
    expect(text).toMatch(/[^\x00-\x7f]/);
    expect(text).toContain('<script>');
    expect(served.some((event) => /^Added .+ to .+/.test(event.message?.content ?? ''))).toBe(true);
  });
});
