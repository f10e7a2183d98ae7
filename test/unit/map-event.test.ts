import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { EventCategory, KNOWN_ACTIONS, resolveAction } from '../../activities/action-catalogue';
import type { AtlassianEvent } from '../../activities/atlassian-schema';
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
    const catalogue = { group_thing: { displayName: 'Thing', groupDisplayName: 'Data export' } };
    expect(resolveAction('group_thing', catalogue)).toStrictEqual({
      category: EventCategory.DataSecurity,
      displayName: 'Thing',
    });
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
