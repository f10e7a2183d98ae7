import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { actionCatalogueFrom, EventCategory, KNOWN_ACTIONS, resolveAction } from '../../activities/action-catalogue';
import { type AtlassianEvent, atlassianEventSchema, eventActionsSchema } from '../../activities/atlassian-schema';
import type { DatadogLog } from '../../activities/datadog-log';
import { datadogTag } from '../../activities/datadog-tags';
import { mapPolledEvent, mapPolledEvents } from '../../activities/map-event';
import { cutOversizedLog, DEFAULT_MAX_LOG_BYTES } from '../../activities/oversized-log';
import type { PolledEvent } from '../../activities/polled-event';
import { readableText } from '../../activities/readable-text';
import { EXPECTED_DIR, GOLDEN_CONTEXT, type GoldenCase, goldenCases } from '../support/map-golden-cases';

const cases = goldenCases();
/** What actually goes over the wire: the JSON form, where absent fields are simply not there. */
const wire = (log: DatadogLog): unknown => JSON.parse(JSON.stringify(log));
const mapped = new Map(cases.map((golden) => [golden.name, mapPolledEvent(golden.polled, golden.context)]));
const logOf = (name: string): DatadogLog => {
  const log = mapped.get(name);
  if (!log) throw new Error(`no golden case ${name}`);
  return log;
};
const eventOf = (golden: GoldenCase): AtlassianEvent => {
  if (golden.polled.kind !== 'event') throw new Error(`${golden.name} is not a valid event`);
  return golden.polled.event;
};
const bytesOf = (value: unknown) => Buffer.byteLength(JSON.stringify(value), 'utf8');

describe('mapPolledEvent golden examples', () => {
  it.each(cases.map((golden) => [golden.name, golden] as const))('%s', (name, golden) => {
    const expected: unknown = JSON.parse(readFileSync(path.join(EXPECTED_DIR, `${name}.json`), 'utf8'));
    expect(wire(logOf(golden.name))).toStrictEqual(expected);
  });

  it('has one expected file per case and no stale ones', () => {
    const expectedNames = readdirSync(EXPECTED_DIR).map((file) => path.basename(file, '.json'));
    expect(expectedNames.sort()).toStrictEqual(cases.map((golden) => golden.name).sort());
  });

  it('covers every known action', () => {
    const actions = new Set(
      cases.flatMap((golden) => (golden.polled.kind === 'event' ? [golden.polled.event.attributes.action] : []))
    );
    const knownWithoutExample = Object.keys(KNOWN_ACTIONS).filter((action) => !actions.has(action));
    expect(knownWithoutExample).toStrictEqual([]);
  });
});

describe('every mapped log', () => {
  const logs = [...mapped.entries()];

  it.each(logs)('%s fits Datadog limits and carries the org, origin and event ID', (name, log) => {
    const golden = cases.find((each) => each.name === name);
    expect(bytesOf(log)).toBeLessThanOrEqual(DEFAULT_MAX_LOG_BYTES);
    expect(log.atlassian.event_id).toBe(golden?.polled.id);
    const tags = log.ddtags.split(',');
    expect(tags).toContain(`org_id:${GOLDEN_CONTEXT.orgId}`);
    expect(tags).toContain(`collection_origin:${golden?.context.origin}`);
    for (const tag of tags) expect(tag).toMatch(/^[a-z_]+:[\p{Ll}\p{Lo}\p{N}_\-:./]{1,190}$/u);
    // One line, nothing that would reorder or break it.
    expect(log.message).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/);
  });

  const untruncatedEvents = cases.filter((golden) => golden.polled.kind === 'event' && golden.name !== 'oversized');
  it.each(untruncatedEvents.map((golden) => [golden.name, golden] as const))(
    '%s keeps the whole original event',
    (name, golden) => {
      const { event, event_json: eventJson } = logOf(name).atlassian;
      const kept: unknown = eventJson === undefined ? event : JSON.parse(String(eventJson));
      expect(kept).toStrictEqual(eventOf(golden));
    }
  );
});

describe('mapping rules', () => {
  it('dates the log by the event time, in epoch ms', () => {
    expect(logOf('group-created').timestamp).toBe(Date.parse('2025-11-20T14:02:11.482Z'));
    expect(logOf('group-deleted').timestamp).toBe(Date.parse('2025-11-19T09:13:00.000Z'));
  });

  it('dates a malformed element by its own time when readable, else by the injected now', () => {
    expect(logOf('malformed-with-time').timestamp).toBe(Date.parse('2025-11-21T11:50:00.000Z'));
    expect(logOf('malformed-without-time').timestamp).toBe(GOLDEN_CONTEXT.now);
  });

  it('cuts an oversized event at the context and records the cut', () => {
    const log = logOf('oversized');
    expect(log.status).toBe('warn');
    expect(log.atlassian['truncated']).toMatchObject({
      reason: 'log_over_size_limit',
      limit_bytes: DEFAULT_MAX_LOG_BYTES,
      removed: ['atlassian.event.attributes.context'],
    });
    expect((log.atlassian['truncated'] as { original_bytes: number }).original_bytes).toBeGreaterThan(1_000_000);
    expect(log.atlassian['event']).toMatchObject({
      id: log.atlassian.event_id,
      attributes: { action: 'group_deleted' },
    });
  });

  it('uses a given service and maps a batch in order', () => {
    const polled = cases.slice(0, 3).map((golden) => golden.polled);
    const logs = mapPolledEvents(polled, { ...GOLDEN_CONTEXT, service: 'atlassian-audit-eu' });
    expect(logs.map((log) => log.atlassian.event_id)).toStrictEqual(polled.map((each) => each.id));
    expect(logs.every((log) => log.service === 'atlassian-audit-eu')).toBe(true);
  });

  it('maps without a catalogue: no display name, same sentence', () => {
    const golden = cases.find((each) => each.name === 'user-added-to-group');
    if (!golden) throw new Error('missing case');
    const { actions: _actions, ...withoutCatalogue } = golden.context;
    const log = mapPolledEvent(golden.polled, withoutCatalogue);
    expect(log.atlassian['action_display_name']).toBeUndefined();
    expect(log.message).toBe('Ada Lovelace added bob@example.com to group site-admins');
  });

  it('stringifies an event nested deeper than Datadog indexes', () => {
    const deep = { level: { level: { level: { level: { level: { value: 'deep' } } } } } };
    const golden = cases.find((each) => each.name === 'group-created');
    if (!golden) throw new Error('missing case');
    const event = eventOf(golden);
    const context = [{ id: 'x', type: 'deep', attributes: deep }];
    const deepEvent = { ...event, attributes: { ...event.attributes, context } };
    const log = mapPolledEvent({ kind: 'event', id: event.id, event: deepEvent }, GOLDEN_CONTEXT);
    expect(log.atlassian['event']).toBeUndefined();
    expect(JSON.parse(String(log.atlassian['event_json']))).toStrictEqual(deepEvent);
  });
});

describe('cutOversizedLog beyond the event', () => {
  const golden = cases.find((each) => each.name === 'unknown-action-with-message');
  if (!golden) throw new Error('missing case');
  const event = eventOf(golden);

  it('drops a huge Atlassian summary from the event, then from atlassian.message, and caps the message', () => {
    const huge = 'x'.repeat(1_000_000);
    const hugeEvent = { ...event, message: { content: huge, format: 'simple' } };
    const log = mapPolledEvent({ kind: 'event', id: event.id, event: hugeEvent }, GOLDEN_CONTEXT);
    expect(log.atlassian['truncated']).toMatchObject({ removed: ['atlassian.event.message', 'atlassian.message'] });
    expect(Array.from(log.message)).toHaveLength(4_000);
    expect(bytesOf(log)).toBeLessThanOrEqual(DEFAULT_MAX_LOG_BYTES);
  });

  it('drops the raw content of a huge malformed element as a whole', () => {
    const raw = { blob: 'y'.repeat(1_000_000) };
    const polled: PolledEvent = { kind: 'malformed', id: 'm-1', raw, problem: 'no attributes' };
    const log = mapPolledEvent(polled, GOLDEN_CONTEXT);
    expect(log.atlassian['raw']).toBeUndefined();
    expect(log.atlassian['truncated']).toMatchObject({ removed: ['atlassian.raw'] });
    expect(log.atlassian.parse_error).toBe('no attributes');
  });

  it('with an actor too large to fit, removes everything removable, the event last, and still returns the log', () => {
    const hugeName = 'z'.repeat(1_000_000);
    const hugeActor = { ...event.attributes.actor, name: hugeName };
    const hugeEvent = { ...event, attributes: { ...event.attributes, actor: hugeActor } };
    const log = mapPolledEvent({ kind: 'event', id: event.id, event: hugeEvent }, GOLDEN_CONTEXT);
    const { removed } = log.atlassian['truncated'] as { removed: string[] };
    expect(removed[0]).toBe('atlassian.actor');
    expect(removed.at(-1)).toBe('atlassian.event');
    expect(log.usr?.name).toBe(hugeName);
    expect(log.atlassian.event_id).toBe(event.id);
  });

  it('returns a log under the limit unchanged', () => {
    const log = logOf('group-created');
    expect(cutOversizedLog(log)).toBe(log);
  });
});

describe('resolveAction for keys we do not know', () => {
  it.each([
    ['user_api_token_rotated', EventCategory.ApiToken],
    ['admin_logged_in', EventCategory.Authentication],
    ['invite_link_created', EventCategory.Invites],
    ['page_classification_removed', EventCategory.DataSecurity],
    ['group_role_assigned', EventCategory.GroupAccess],
    ['group_description_updated', EventCategory.GroupManagement],
    ['product_access_requested', EventCategory.ProductAccess],
    ['constructor', EventCategory.Other],
    ['__proto__', EventCategory.Other],
  ])('%s → %s', (key, category) => {
    expect(resolveAction(key)).toStrictEqual({ category });
  });

  it('takes the category from the catalogue display group before the key', () => {
    const catalogue = { group_thing: { displayName: 'Thing', groupDisplayNames: ['Data export'] } };
    expect(resolveAction('group_thing', catalogue)).toStrictEqual({
      category: EventCategory.DataSecurity,
      displayName: 'Thing',
    });
  });

  it.each([
    [['PRODUCTS'], EventCategory.ProductAccess],
    [['SECURITY POLICIES', 'USER ACCESS SETTINGS'], EventCategory.ProductAccess],
    [['SECURITY POLICIES'], 'security_policies'],
    [['Security  policies!'], 'security_policies'],
    [['ÉQUIPE SÉCURITÉ'], 'équipe_sécurité'],
    [['***'], EventCategory.Other],
    // Cut at 64 characters, which here falls on a separator: it is not kept.
    [['ABC '.repeat(20)], 'abc_'.repeat(16).slice(0, -1)],
  ])('display groups %j of an unknown key → %s', (groups, category) => {
    expect(resolveAction('some_setting_changed', { some_setting_changed: { groupDisplayNames: groups } })).toStrictEqual({
      category,
    });
  });
});

describe('actionCatalogueFrom and the /event-actions envelope', () => {
  const entries = [
    { id: 'a', type: 'eventActions', attributes: { displayName: 'A', groupDisplayNames: [' SETTINGS ', 'SETTINGS', ''] } },
    {
      id: 'b',
      type: 'event-actions',
      attributes: { displayName: 'B', groupDisplayName: 'Domains', groupDisplayNames: ['DOMAINS'] },
    },
    { id: 'c', type: 'eventActions', attributes: null },
  ];

  it.each([
    ['one unpaginated answer, as in the real dump', { data: entries, links: {}, meta: null }],
    ['a page of a paged answer', { data: entries, meta: { next: 'c2' }, links: { self: 'x', next: 'https://h/e?cursor=c2' } }],
    ['no envelope beyond data', { data: entries }],
  ])('reads %s', (_name, response) => {
    expect(actionCatalogueFrom(eventActionsSchema.parse(response))).toStrictEqual({
      a: { displayName: 'A', groupDisplayNames: ['SETTINGS'] },
      b: { displayName: 'B', groupDisplayNames: ['Domains', 'DOMAINS'] },
      c: {},
    });
  });
});

/** `golden`'s event with some attributes replaced, mapped in the golden context. */
function mapVariant(name: string, attributes: Partial<AtlassianEvent['attributes']>): DatadogLog {
  const golden = cases.find((each) => each.name === name);
  if (!golden) throw new Error(`no golden case ${name}`);
  const event = eventOf(golden);
  const variant = atlassianEventSchema.parse({ ...event, attributes: { ...event.attributes, ...attributes } });
  return mapPolledEvent({ kind: 'event', id: variant.id, event: variant }, GOLDEN_CONTEXT);
}

describe('actors', () => {
  it.each([
    ['a product by name, without email', { id: 'jira', name: 'Jira' }],
    ['an account ID with a label for email', { id: '5b10ac8d82e05b22cc7d4ef5', email: 'Atlassian app' }],
    ['an app named by an ARI', { id: 'ari:cloud:ecosystem::app/77' }],
    ['no account ID', { id: '', name: 'Someone' }],
  ])('%s is a system actor: no usr, kept under atlassian.system_actor', (_name, actor) => {
    const log = mapVariant('group-created', { actor });
    expect(log.usr).toBeUndefined();
    expect(log.atlassian['actor']).toBeUndefined();
    expect(log.atlassian['system_actor']).toStrictEqual(actor);
  });

  it.each([
    ['a 24-digit account ID', { id: '5b10ac8d82e05b22cc7d4ef5' }],
    ['a prefixed account ID', { id: '557058:0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6', name: 'Sam' }],
    ['an ID of a form we do not know, with an address', { id: 'someone', email: 'someone@example.com' }],
  ])('%s is a person: usr', (_name, actor) => {
    const log = mapVariant('group-created', { actor });
    expect(log.usr).toStrictEqual(actor);
    expect(log.atlassian['actor']).toStrictEqual(actor);
    expect(log.atlassian['system_actor']).toBeUndefined();
  });

  it("names the token by the spec's tokenLabel when both spellings are present", () => {
    const auth = { authType: 'api-token', tokenLabel: 'ci-pipeline', tokenName: 'ci pipeline (old name)' };
    const log = mapVariant('group-created', { actor: { id: '712020:4a5b6c7d-8e9f', auth } });
    expect(log.atlassian['actor_auth']).toStrictEqual({ type: 'api-token', token_name: 'ci-pipeline' });
  });

  it('gives no actor_auth for an empty auth object', () => {
    const log = mapVariant('group-created', { actor: { id: '712020:4a5b6c7d-8e9f', auth: {} } });
    expect(log.atlassian['actor_auth']).toBeUndefined();
  });
});

describe('location.geo', () => {
  it.each([
    ['EU', { continent: { code: 'EU' } }],
    [' na ', { continent: { code: 'NA' } }],
    ['GB-ENG', { country: { iso_code: 'GB' }, subdivision: { iso_code: 'GB-ENG' } }],
    ['APAC', undefined],
    ['IE', undefined],
    [{ countryCode: 'us' }, { country: { iso_code: 'US' } }],
    [{ countryCode: 'US', regionCode: 'us-ca' }, { country: { iso_code: 'US' }, subdivision: { iso_code: 'US-CA' } }],
    [{ regionCode: 'US-CA' }, { country: { iso_code: 'US' }, subdivision: { iso_code: 'US-CA' } }],
    [{ countryCode: 'FR', regionCode: 'US-CA' }, { country: { iso_code: 'FR' } }],
    [{ regionCode: 'CA' }, undefined],
    [{ countryCode: 'USA', regionCode: 'CA' }, undefined],
    [42, undefined],
    [['EU'], undefined],
  ])('%j → network.client.geoip %j, kept as sent', (geo, geoip) => {
    const location = { ip: '192.0.2.1', geo };
    const log = mapVariant('group-created', { location });
    expect(log.network).toStrictEqual({ client: { ip: '192.0.2.1', ...(geoip && { geoip }) } });
    expect(log.atlassian['location']).toStrictEqual(location);
  });
});

describe('text and tag hygiene', () => {
  it('readableText keeps one line and cuts at code points', () => {
    expect(readableText(' a\nb\t\u202ec ', 100)).toBe('a b c');
    expect(readableText('🚀🚀🚀', 2)).toBe('🚀…');
  });

  it('datadogTag lowercases, replaces forbidden characters and caps the length', () => {
    expect(datadogTag('site', 'Exämple Docs, Wiki')).toBe('site:exämple_docs_wiki');
    expect(datadogTag('site', ',,,')).toBeUndefined();
    expect(Array.from(datadogTag('site', 'a'.repeat(500)) ?? '')).toHaveLength(200);
  });
});
