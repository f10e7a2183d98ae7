import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { request } from 'undici';
import {
  DATADOG_INTAKE_LIMITS,
  DATADOG_SEARCH_PAGE_LIMIT,
  DATADOG_STANDIN_INDEX,
  DatadogStandin,
  parseLogQuery,
  type DatadogStandinOptions,
} from '../../dev/standins/datadog-standin';

const KEY = 'dd-key-1';
const APP_KEY = 'dd-app-key-1';
const NOW = Date.parse('2026-01-01T12:00:00.000Z');
const HOUR = 3_600_000;

let standin: DatadogStandin;
let tempDir: string;

async function startStandin(options: Partial<DatadogStandinOptions> = {}): Promise<DatadogStandin> {
  standin = await DatadogStandin.start({ apiKeys: [KEY], now: () => NOW, ...options });
  return standin;
}

beforeAll(async () => {
  tempDir = await mkdtemp(path.join(os.tmpdir(), 'datadog-standin-'));
});

afterAll(async () => {
  await rm(tempDir, { recursive: true, force: true });
});

afterEach(async () => {
  await standin.close();
});

function log(eventId: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    ddsource: 'atlassian-event-logs',
    service: 'atlassian-event-logs',
    message: `event ${eventId}`,
    timestamp: NOW - 60_000,
    atlassian: { event_id: eventId, org_id: 'org-1' },
    ...extra,
  };
}

interface SendOptions {
  key?: string | null;
  encoding?: string;
  raw?: Buffer;
}

async function send(body: unknown, options: SendOptions = {}) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (options.key !== null) headers['dd-api-key'] = options.key ?? KEY;
  if (options.encoding) headers['content-encoding'] = options.encoding;
  const response = await request(standin.url, {
    method: 'POST',
    headers,
    body: options.raw ?? JSON.stringify(body),
  });
  const text = await response.body.text();
  return { status: response.statusCode, headers: response.headers, json: () => JSON.parse(text) as unknown };
}

describe('Datadog logs intake stand-in', () => {
  describe('accepting logs', () => {
    beforeEach(() => startStandin());

    it('answers 202 {} to a gzip batch and records the logs in order', async () => {
      const raw = zlib.gzipSync(JSON.stringify([log('a'), log('b')]));
      const response = await send(undefined, { encoding: 'gzip', raw });
      expect(response.status).toBe(202);
      expect(response.json()).toEqual({});
      expect(standin.receivedEventIds()).toEqual(['a', 'b']);
      expect(standin.received[0]).toEqual(log('a'));
      expect(standin.requests).toEqual([{ status: 202, entries: 2, bytes: raw.length, at: NOW }]);
    });

    it('accepts deflate (zlib) and identity bodies', async () => {
      const deflated = zlib.deflateSync(JSON.stringify([log('d')]));
      expect((await send(undefined, { encoding: 'deflate', raw: deflated })).status).toBe(202);
      expect((await send([log('i')], { encoding: 'identity' })).status).toBe(202);
      expect((await send([log('n')])).status).toBe(202);
      expect(standin.receivedEventIds()).toEqual(['d', 'i', 'n']);
    });

    it('takes a single JSON object as one log', async () => {
      expect((await send(log('single'))).status).toBe(202);
      expect(standin.receivedEventIds()).toEqual(['single']);
    });

    it('keeps repeats, so duplicates can be counted', async () => {
      await send([log('dup')]);
      await send([log('dup')]);
      expect(standin.receivedEventIds()).toEqual(['dup', 'dup']);
    });
  });

  describe('refusing requests', () => {
    beforeEach(() => startStandin());

    it('answers 401 without DD-API-KEY and 403 with an unknown key', async () => {
      const missing = await send([log('a')], { key: null });
      expect(missing.status).toBe(401);
      expect(missing.json()).toMatchObject({ errors: [{ status: '401' }] });
      expect((await send([log('a')], { key: 'wrong' })).status).toBe(403);
      expect(standin.received).toEqual([]);
    });

    it('answers 403 to the old key after rotation, 202 to the new one', async () => {
      standin.setApiKeys(['dd-key-2']);
      expect((await send([log('a')])).status).toBe(403);
      expect((await send([log('a')], { key: 'dd-key-2' })).status).toBe(202);
    });

    it.each([
      ['an unsupported Content-Encoding', { encoding: 'br', raw: Buffer.from('[]') }],
      ['a body that is not gzip although declared so', { encoding: 'gzip', raw: Buffer.from('[]') }],
      ['a body that is not JSON', { raw: Buffer.from('{"unterminated":') }],
      ['a JSON value that is neither array nor object', { raw: Buffer.from('42') }],
      ['an array with a non-object log', { raw: Buffer.from('[{"message":"ok"},"bare string"]') }],
    ])('answers 400 to %s', async (_, options) => {
      expect((await send(undefined, options)).status).toBe(400);
      expect(standin.received).toEqual([]);
    });

    it('answers 400 to more than 1000 logs in one request, keeping none of them', async () => {
      const logs = Array.from({ length: DATADOG_INTAKE_LIMITS.maxEntriesPerRequest + 1 }, (_, i) => log(`e${i}`));
      const response = await send(logs);
      expect(response.status).toBe(400);
      expect(standin.received).toEqual([]);
      expect(standin.requests.at(-1)).toMatchObject({ status: 400, entries: 1001 });
      expect((await send(logs.slice(0, 1000))).status).toBe(202);
      expect(standin.received).toHaveLength(1000);
    });

    it('answers 413 above 5 MB uncompressed, also when the gzip body is small', async () => {
      const filler = 'x'.repeat(900_000);
      const tooLarge = JSON.stringify(Array.from({ length: 6 }, (_, i) => log(`big${i}`, { filler })));
      expect(Buffer.byteLength(tooLarge)).toBeGreaterThan(DATADOG_INTAKE_LIMITS.maxPayloadBytes);

      expect((await send(undefined, { raw: Buffer.from(tooLarge) })).status).toBe(413);
      const gzipped = zlib.gzipSync(tooLarge);
      expect(gzipped.length).toBeLessThan(100_000);
      expect((await send(undefined, { encoding: 'gzip', raw: gzipped })).status).toBe(413);
      expect(standin.received).toEqual([]);
    });
  });

  describe('refusing malformed logs', () => {
    const stub = (eventId: string) => log(eventId, { atlassian: { event_id: eventId, org_id: 'org-1', dead_letter: { status: 400 } } });

    it('refuses no log for its content unless told to', async () => {
      await startStandin();
      expect((await send([log('anything')])).status).toBe(202);
    });

    it('answers 400 to every request holding a log of a listed event, keeping none of its logs', async () => {
      await startStandin({ malformedLogs: ['bad'] });
      const refused = await send([log('good'), log('bad')]);
      expect(refused.status).toBe(400);
      expect(refused.json()).toEqual({ errors: [{ status: '400', title: 'Bad Request', detail: 'malformed log of event bad' }] });
      expect((await send([log('bad', { atlassian: { event_id: 'bad', org_id: 'org-1', resent_dead_letter: true } })])).status).toBe(400);
      expect(standin.requests.map((r) => [r.status, r.entries])).toEqual([[400, 2], [400, 1]]);
      expect((await send([log('good')])).status).toBe(202);
      expect(standin.receivedEventIds()).toEqual(['good']);
    });

    it('lets through the dead-letter stub of a listed event, a different log', async () => {
      await startStandin({ malformedLogs: ['bad'] });
      expect((await send([stub('bad')])).status).toBe(202);
      expect(standin.receivedEventIds()).toEqual(['bad']);
    });

    it('takes a predicate on the whole log instead, which sees stubs too', async () => {
      await startStandin({ malformedLogs: (received) => received['message'] === 'event bad' });
      expect((await send([stub('bad')])).status).toBe(400);
      expect((await send([log('good')])).status).toBe(202);
    });

    it('is told again at run time, and an empty list or undefined ends it', async () => {
      await startStandin();
      standin.setMalformedLogs(['bad']);
      expect((await send([log('bad')])).status).toBe(400);
      standin.setMalformedLogs(undefined);
      expect((await send([log('bad')])).status).toBe(202);
    });
  });

  describe('what 202 does not promise', () => {
    beforeEach(() => startStandin());

    it('drops logs dated more than 18 h in the past or 2 h in the future, still answering 202', async () => {
      const response = await send([
        log('too-old', { timestamp: NOW - 18 * HOUR - 1 }),
        log('just-in-window', { timestamp: NOW - 18 * HOUR }),
        log('iso-recent', { timestamp: new Date(NOW - 17 * HOUR).toISOString() }),
        log('too-far-ahead', { timestamp: new Date(NOW + 2 * HOUR + 1000).toISOString() }),
        log('no-timestamp', { timestamp: undefined }),
      ]);
      expect(response.status).toBe(202);
      expect(standin.receivedEventIds()).toEqual(['just-in-window', 'iso-recent', 'no-timestamp']);
      expect(standin.dropped.map((dropped) => (dropped['atlassian'] as { event_id: string }).event_id)).toEqual([
        'too-old',
        'too-far-ahead',
      ]);
    });

    it('keeps a log over 1 MB but counts it as truncated', async () => {
      const huge = log('huge', { message: 'y'.repeat(DATADOG_INTAKE_LIMITS.maxLogBytes) });
      const response = await send([huge, log('small')]);
      expect(response.status).toBe(202);
      expect(standin.receivedEventIds()).toEqual(['huge', 'small']);
      expect(standin.truncatedCount).toBe(1);
    });
  });

  describe('faults', () => {
    beforeEach(() => startStandin());

    it('answers a queued status with Retry-After, then recovers', async () => {
      standin.injectFault({ kind: 'status', status: 429, retryAfterSeconds: 3 });
      standin.injectFault({ kind: 'status', status: 503 });
      const limited = await send([log('a')]);
      expect(limited.status).toBe(429);
      expect(limited.headers['retry-after']).toBe('3');
      const unavailable = await send([log('a')]);
      expect(unavailable.status).toBe(503);
      expect(unavailable.headers['retry-after']).toBeUndefined();
      expect((await send([log('a')])).status).toBe(202);
      expect(standin.receivedEventIds()).toEqual(['a']);
    });

    it('answers every request during an outage, ahead of queued faults, and recovers when its time is up', async () => {
      await standin.close();
      let now = NOW;
      await startStandin({ now: () => now });
      standin.injectFault({ kind: 'status', status: 500 });
      standin.startOutage({ kind: 'status', status: 503 }, NOW + 60_000);
      for (let i = 0; i < 5; i++) {
        const refused = await send([log('a')]);
        expect(refused.status).toBe(503);
        expect(refused.headers['retry-after']).toBeUndefined();
        now += 10_000;
      }
      now = NOW + 59_999;
      expect((await send([log('a')])).status).toBe(503);
      now = NOW + 60_000;
      // Over: the fault queued before the outage comes next, then logs are accepted again.
      expect((await send([log('a')])).status).toBe(500);
      expect((await send([log('a')])).status).toBe(202);
      expect(standin.receivedEventIds()).toEqual(['a']);
      expect(standin.stats().requestsByStatus).toEqual({ '202': 1, '500': 1, '503': 6 });
    });

    it('ends an outage early when started again with a time in the past', async () => {
      standin.startOutage({ kind: 'reset' }, NOW + 60_000);
      await expect(send([log('a')])).rejects.toMatchObject({ code: 'UND_ERR_SOCKET' });
      standin.startOutage({ kind: 'reset' }, NOW);
      expect((await send([log('a')])).status).toBe(202);
    });

    it('resets the connection, receiving nothing', async () => {
      standin.injectFault({ kind: 'reset' });
      await expect(send([log('a')])).rejects.toMatchObject({ code: 'UND_ERR_SOCKET' });
      expect(standin.received).toEqual([]);
      expect(standin.requests.at(-1)).toMatchObject({ status: null, entries: null });
    });

    it('hangs for the given time, then drops the connection', async () => {
      standin.injectFault({ kind: 'hang', ms: 80 });
      const startedAt = Date.now();
      await expect(send([log('a')])).rejects.toMatchObject({ code: 'UND_ERR_SOCKET' });
      expect(Date.now() - startedAt).toBeGreaterThanOrEqual(70);
      expect(standin.received).toEqual([]);
    });
  });

  describe('observability', () => {
    it('appends each accepted log as one NDJSON line, never the dropped ones', async () => {
      const ndjsonPath = path.join(tempDir, 'nested', 'logs.ndjson');
      await startStandin({ ndjsonPath });
      await send([log('a'), log('old', { timestamp: NOW - 20 * HOUR })]);
      await send(undefined, { encoding: 'gzip', raw: zlib.gzipSync(JSON.stringify([log('b')])) });

      const lines = (await readFile(ndjsonPath, 'utf8')).trimEnd().split('\n');
      expect(lines.map((line) => JSON.parse(line) as unknown)).toEqual([log('a'), log('b')]);
    });

    it('waitFor resolves once the predicate holds and rejects after its timeout', async () => {
      await startStandin();
      const waiting = standin.waitFor((received) => received.length >= 2, 2000);
      await send([log('a')]);
      await send([log('b')]);
      await expect(waiting).resolves.toBeUndefined();
      const neverMet = standin.waitFor((received) => received.length > 5, 60);
      await expect(neverMet).rejects.toThrow(/within 60 ms \(2 logs received\)/);
    });

    it('serves stats and logs, and takes faults, keys and malformed events, over its control endpoints', async () => {
      await startStandin();
      const control = async (method: 'GET' | 'POST', controlPath: string, body?: unknown) => {
        const response = await request(`${standin.origin}/_standin/${controlPath}`, {
          method,
          ...(body === undefined
            ? {}
            : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
        });
        return { status: response.statusCode, body: (await response.body.json()) as unknown };
      };

      expect((await control('POST', 'faults', { fault: { kind: 'status', status: 500 }, times: 1 })).status).toBe(200);
      expect((await send([log('a')])).status).toBe(500);
      expect((await control('POST', 'keys', { apiKeys: ['rotated'] })).status).toBe(200);
      expect((await send([log('a')])).status).toBe(403);
      expect((await send([log('a'), log('old', { timestamp: 0 })], { key: 'rotated' })).status).toBe(202);
      expect((await control('POST', 'faults', { fault: { kind: 'status', status: 418 } })).status).toBe(400);
      expect(await control('POST', 'malformed', { eventIds: ['bad'] })).toEqual({ status: 200, body: { eventIds: 1 } });
      expect((await send([log('bad')], { key: 'rotated' })).status).toBe(400);
      expect((await control('POST', 'malformed', { eventIds: [] })).status).toBe(200);
      expect((await control('POST', 'malformed', { eventIds: [''] })).status).toBe(400);
      expect(await control('POST', 'outage', { fault: { kind: 'status', status: 503 }, durationMs: 1 })).toEqual({
        status: 200,
        body: { until: new Date(NOW + 1).toISOString() },
      });
      expect((await send([log('a')], { key: 'rotated' })).status).toBe(503);
      expect((await control('POST', 'outage', { fault: { kind: 'status', status: 503 } })).status).toBe(400);

      expect(await control('GET', 'stats')).toEqual({
        status: 200,
        body: {
          received: 1,
          dropped: 1,
          truncated: 0,
          requests: 5,
          requestsByStatus: { '202': 1, '400': 1, '403': 1, '500': 1, '503': 1 },
        },
      });
      expect(await control('GET', 'logs')).toEqual({ status: 200, body: { data: [log('a')] } });
    });
  });
});

describe('Logs query APIs over what was received', () => {
  const HOUR_START = Date.parse('2026-01-01T09:00:00.000Z');
  const at = (hours: number, minutes = 0) => HOUR_START + hours * HOUR + minutes * 60_000;
  /** A log dated at its event's time, or re-dated at ingest as the ship activity does. */
  const orgLog = (eventId: string, time: number, extra: Record<string, unknown> = {}) =>
    log(eventId, { ddtags: 'org_id:org-1,collection_origin:tail', timestamp: time, ...extra });
  const redatedLog = (eventId: string, eventTime: number) =>
    log(eventId, {
      ddtags: 'org_id:org-1,collection_origin:backfill,redated:true',
      timestamp: NOW - 60_000,
      atlassian: { event_id: eventId, org_id: 'org-1', redated: { original_timestamp: eventTime, reason: 'older-than-18h' } },
    });

  async function query(api: 'search' | 'aggregate', body: unknown, keys: { api?: string; app?: string } = { api: KEY, app: APP_KEY }) {
    const path = api === 'search' ? '/api/v2/logs/events/search' : '/api/v2/logs/analytics/aggregate';
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (keys.api) headers['dd-api-key'] = keys.api;
    if (keys.app) headers['dd-application-key'] = keys.app;
    const response = await request(`${standin.origin}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
    return { status: response.statusCode, headers: response.headers, json: (await response.body.json()) as Record<string, any> };
  }
  const search = (filter: Record<string, unknown>, page: Record<string, unknown> = {}, sort = 'timestamp') =>
    query('search', { filter: { from: '0', to: 'now', ...filter }, page, sort });
  const eventIdsOf = (answer: { json: Record<string, any> }) =>
    (answer.json['data'] as Array<{ attributes: { attributes: { atlassian: { event_id: string } } } }>).map((hit) => hit.attributes.attributes.atlassian.event_id);

  beforeEach(async () => {
    await startStandin({ applicationKeys: [APP_KEY] });
    expect(
      (
        await send([
          orgLog('a', at(0, 5)),
          orgLog('b', at(0, 50)),
          orgLog('c', at(1, 10)),
          orgLog('c', at(1, 10)),
          log('other-org', { ddtags: 'org_id:org-2', timestamp: at(0, 20) }),
          redatedLog('old-1', at(-30)),
          redatedLog('old-2', at(-30, 30)),
        ])
      ).status
    ).toBe(202);
  });

  it('answers only with the API key and an application key, 403 otherwise', async () => {
    expect((await query('search', {}, { api: KEY })).status).toBe(403);
    expect((await query('search', {}, { api: KEY, app: 'wrong' })).status).toBe(403);
    expect((await query('aggregate', {}, { api: 'wrong', app: APP_KEY })).status).toBe(403);
    const refused = await query('search', {}, { app: APP_KEY });
    expect(refused).toMatchObject({ status: 403, json: { errors: ['Forbidden'] } });
    standin.setApplicationKeys(['rotated-app-key']);
    expect((await query('search', {}, { api: KEY, app: APP_KEY })).status).toBe(403);
    expect((await query('search', {}, { api: KEY, app: 'rotated-app-key' })).status).toBe(200);
    expect(standin.queries.map((q) => q.status)).toEqual([403, 403, 403, 403, 403, 200]);
  });

  it('searches by source, tag, negation, attribute and numeric range, within the time range, in time order', async () => {
    expect(eventIdsOf(await search({ query: 'source:atlassian-event-logs org_id:org-1 -redated:true' }))).toEqual(['a', 'b', 'c', 'c']);
    expect(eventIdsOf(await search({ query: 'org_id:ORG-1 -redated:true', from: String(at(0, 30)), to: String(at(1)) }))).toEqual(['b']);
    expect(eventIdsOf(await search({ query: `redated:true @atlassian.redated.original_timestamp:[${at(-30)} TO ${at(-30, 29)}]` }))).toEqual(['old-1']);
    expect(eventIdsOf(await search({ query: '@atlassian.event_id:c' }))).toEqual(['c', 'c']);
    expect(eventIdsOf(await search({ query: 'org_id:* -org_id:org-1' }))).toEqual(['other-org']);
    expect(eventIdsOf(await search({ query: 'source:nginx' }))).toEqual([]);
    // ISO times and `now-…` too.
    expect(eventIdsOf(await search({ query: '*', from: new Date(at(1)).toISOString(), to: 'now' }))).toEqual(['c', 'c', 'old-1', 'old-2']);
    expect(eventIdsOf(await search({ query: '-redated:true', from: 'now-1h' }))).toEqual([]);
  });

  it('returns logs as Datadog does: reserved attributes on top, tags as a list, the rest under attributes', async () => {
    const answer = await search({ query: '@atlassian.event_id:a' });
    expect(answer.json['data']).toEqual([
      {
        id: expect.stringMatching(/^AQAAA/),
        type: 'log',
        attributes: {
          timestamp: new Date(at(0, 5)).toISOString(),
          service: 'atlassian-event-logs',
          message: 'event a',
          tags: ['org_id:org-1', 'collection_origin:tail', 'source:atlassian-event-logs'],
          attributes: { atlassian: { event_id: 'a', org_id: 'org-1' } },
        },
      },
    ]);
    expect(answer.json['meta']).toEqual({ status: 'done', elapsed: 0 });
  });

  it('pages with its cursor, which belongs to one search', async () => {
    const first = await search({ query: 'org_id:org-1' }, { limit: 2 });
    expect(eventIdsOf(first)).toEqual(['a', 'b']);
    const after = first.json['meta'].page.after as string;
    expect(first.json['links'].next).toContain(after);
    const second = await search({ query: 'org_id:org-1' }, { limit: 2, cursor: after });
    expect(eventIdsOf(second)).toEqual(['c', 'c']);
    // The re-dated logs are dated at their ingest, a minute ago.
    const third = await search({ query: 'org_id:org-1' }, { limit: 2, cursor: second.json['meta'].page.after });
    expect(eventIdsOf(third)).toEqual(['old-1', 'old-2']);
    expect(third.json['meta'].page).toBeUndefined();
    expect((await search({ query: 'org_id:org-2' }, { limit: 2, cursor: after })).status).toBe(400);
    // Newest first by default, as Datadog sorts.
    expect(eventIdsOf(await query('search', { filter: { from: '0', query: '-redated:true org_id:org-1' } }))).toEqual(['c', 'c', 'b', 'a']);
  });

  it('finds nothing in an index other than its own, main', async () => {
    expect(eventIdsOf(await search({ query: 'org_id:org-1', indexes: [DATADOG_STANDIN_INDEX] }))).toHaveLength(6);
    expect(eventIdsOf(await search({ query: 'org_id:org-1', indexes: ['archive'] }))).toEqual([]);
  });

  it('refuses what its query subset and schemas do not cover, with 400', async () => {
    for (const unsupported of ['free text', 'org_id:org-1 OR org_id:org-2', '@atlassian.event_id:[a TO b]', '@x:[1 2]']) {
      const answer = await search({ query: unsupported });
      expect([unsupported, answer.status]).toEqual([unsupported, 400]);
      expect(answer.json['errors']).toHaveLength(1);
    }
    expect((await search({ query: '*', from: 'yesterday' })).status).toBe(400);
    expect((await search({ query: '*' }, { limit: DATADOG_SEARCH_PAGE_LIMIT.max + 1 })).status).toBe(400);
    expect((await query('aggregate', { compute: [{ aggregation: 'cardinality' }] })).status).toBe(400);
    expect((await query('aggregate', { group_by: [{ facet: '@evt.name' }] })).status).toBe(400);
    expect(() => parseLogQuery('(a:b)')).toThrow('key:value terms only');
  });

  it('aggregates counts and cardinalities per hour of Datadog time', async () => {
    const answer = await query('aggregate', {
      compute: [
        { aggregation: 'count', type: 'timeseries', interval: '1h' },
        { aggregation: 'cardinality', metric: '@atlassian.event_id', type: 'timeseries', interval: '1h' },
        { aggregation: 'count' },
      ],
      filter: { query: 'org_id:org-1 -redated:true', from: String(at(0)), to: String(at(2)) },
    });
    expect(answer.status).toBe(200);
    expect(answer.json['data']).toEqual({
      buckets: [
        {
          by: {},
          computes: {
            c0: [
              { time: new Date(at(0)).toISOString(), value: 2 },
              { time: new Date(at(1)).toISOString(), value: 2 },
            ],
            c1: [
              { time: new Date(at(0)).toISOString(), value: 2 },
              { time: new Date(at(1)).toISOString(), value: 1 },
            ],
            c2: 4,
          },
        },
      ],
    });
    const nothing = await query('aggregate', { filter: { query: 'org_id:org-9', from: '0' } });
    expect(nothing.json['data']).toEqual({ buckets: [{ by: {}, computes: { c0: 0 } }] });
  });

  it('aggregates by a numeric histogram: re-dated logs per hour of their event time', async () => {
    const answer = await query('aggregate', {
      compute: [{ aggregation: 'count' }, { aggregation: 'cardinality', metric: '@atlassian.event_id' }],
      filter: { query: 'redated:true', from: String(at(-31)), to: 'now' },
      group_by: [{ facet: '@atlassian.redated.original_timestamp', histogram: { interval: HOUR, min: at(-31), max: at(-29) - 1 } }],
    });
    expect(answer.json['data']).toEqual({ buckets: [{ by: { '@atlassian.redated.original_timestamp': at(-30) }, computes: { c0: 2, c1: 2 } }] });
  });

  it("sends Datadog's X-RateLimit headers and answers 429 once a period's budget is spent", async () => {
    await standin.close();
    let now = Date.parse('2026-01-01T12:00:10.000Z');
    await startStandin({ applicationKeys: [APP_KEY], queryRateLimit: { limit: 2, periodSeconds: 60 }, now: () => now });
    const first = await query('search', {});
    expect(first.status).toBe(200);
    expect(first.headers).toMatchObject({ 'x-ratelimit-limit': '2', 'x-ratelimit-period': '60', 'x-ratelimit-remaining': '1', 'x-ratelimit-reset': '50', 'x-ratelimit-name': 'logs_query' });
    expect((await query('aggregate', {})).headers['x-ratelimit-remaining']).toBe('0');
    const limited = await query('search', {});
    expect(limited).toMatchObject({ status: 429, json: { errors: ['Too many requests'] } });
    expect(limited.headers['x-ratelimit-reset']).toBe('50');
    now += 50_000;
    expect((await query('search', {})).status).toBe(200);
  });

  it('forgets deleted logs, in code and over its control endpoint', async () => {
    expect(standin.deleteReceived((received) => (received['atlassian'] as { event_id: string }).event_id === 'a')).toBe(1);
    const response = await request(`${standin.origin}/_standin/delete`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ eventIds: ['c', 'unknown'] }),
    });
    expect(await response.body.json()).toEqual({ deleted: 2 });
    expect(eventIdsOf(await search({ query: 'org_id:org-1 -redated:true' }))).toEqual(['b']);
    expect(standin.receivedEventIds()).toEqual(['b', 'other-org', 'old-1', 'old-2']);
    const refused = await request(`${standin.origin}/_standin/delete`, { method: 'POST', body: JSON.stringify({ eventIds: [] }) });
    expect(refused.statusCode).toBe(400);
    await refused.body.dump();
  });
});
