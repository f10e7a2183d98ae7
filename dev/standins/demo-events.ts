/**
 * Deterministic, realistic Atlassian organization audit events for the stand-in, the demo and tests.
 *
 * Shapes follow reference/atlassian-org-audit-api.md §3 (actor with id/name/email, `context` items of type
 * `users`/`groups`, `container` sites, `location`, `message.content` such as "Added Lee Dev to sre-oncall").
 * The ACTION KEYS ARE UNCONFIRMED (reference §7): only `user_logged_in_as_user` appears in public material; every
 * other key here is a plausible guess. Collector code must not depend on them.
 *
 * Names deliberately include non-ASCII letters, an emoji and HTML/quote characters, so that mapping, encoding and
 * rendering bugs show up in the demo rather than in production.
 */
import type { AtlassianActor, AtlassianEntity, AtlassianEvent } from '../../activities/atlassian-schema';
import type { StandinEventInput } from './atlassian-standin';

import { demoEventActions, type DemoEventAction } from './demo-event-actions';

export interface DemoEventGeneratorOptions {
  /** Same seed (and org) ⇒ same events, byte for byte. */
  seed: number;
  /**
   * Mixed into the seed so that several demo orgs do not carry identical streams.
   * @default '' (the seed alone decides)
   */
  orgId?: string;
}

export interface DemoEventGenerator {
  /**
   * The next event, to be processed by Atlassian at `processedAtMs`. Its own `time` is a little earlier; about one
   * event in fifteen is a late event whose `time` lies minutes to hours before its processing time.
   */
  next(processedAtMs: number): StandinEventInput;
}

export interface GenerateDemoEventsOptions extends DemoEventGeneratorOptions {
  count: number;
  /** Epoch ms at which the first event is processed. */
  startTime: number;
  /** Milliseconds between the processing times of consecutive events. */
  spacingMs: number;
}

/** `count` events, processed at `startTime`, `startTime + spacingMs`, …, in processing order. */
export function generateDemoEvents(options: GenerateDemoEventsOptions): StandinEventInput[] {
  const generator = createDemoEventGenerator(options);
  return Array.from({ length: options.count }, (_, index) =>
    generator.next(options.startTime + index * options.spacingMs)
  );
}

export function createDemoEventGenerator(options: DemoEventGeneratorOptions): DemoEventGenerator {
  const random = mulberry32((options.seed ^ fnv1a32(options.orgId ?? '')) >>> 0);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const draw: Draw = { random, pick, uuid: () => randomUuid(random) };
  return {
    next(processedAtMs) {
      const action = pickWeightedAction(random);
      const parts = eventBuilders[action](draw);
      return {
        id: draw.uuid(),
        action,
        time: formatEventTime(processedAtMs - processingDelayMs(random), random),
        processedAt: processedAtMs,
        ...parts,
      };
    },
  };
}

type EventParts = Pick<StandinEventInput, 'actor' | 'context' | 'container' | 'location' | 'message'>;

interface Draw {
  random: () => number;
  pick: <T>(items: readonly T[]) => T;
  uuid: () => string;
}

interface Person {
  id: string;
  name: string;
  email: string;
}

const admins: readonly Person[] = [
  { id: '5b10ac8d82e05b22cc7d4ef5', name: 'Dana Admin', email: 'dana@example.com' },
  { id: '5f3e9a1c2b4d6e8f0a1b2c3d', name: 'Priya Raman', email: 'priya.raman@example.com' },
  { id: '712020:9c8b7a65-4321-4fed-8cba-0123456789ab', name: 'Zoë Ørsted-Łukasiewicz', email: 'zoe@example.com' },
];

const members: readonly Person[] = [
  { id: '5c2f1e0a9b8d7c6e5f4a3b21', name: 'Lee Dev', email: 'lee@example.com' },
  { id: '60a1b2c3d4e5f60718293a4b', name: '李小龍', email: 'xiaolong.li@example.com' },
  { id: '61b2c3d4e5f60718293a4b5c', name: 'José "Pepe" Álvarez', email: 'jose.alvarez@example.com' },
  { id: '62c3d4e5f60718293a4b5c6d', name: "Mallory <script>alert('x')</script>", email: 'mallory@example.net' },
  { id: '63d4e5f60718293a4b5c6d7e', name: 'Ngozi Okonkwo-Adébáyọ̀', email: 'ngozi@example.com' },
  { id: '64e5f60718293a4b5c6d7e8f', name: 'Sam O’Brien', email: 'sam.obrien@example.com' },
];

const buildBot: AtlassianActor = {
  id: '712020:4a5b6c7d-8e9f-4a0b-9c1d-2e3f4a5b6c7d',
  name: 'Build Bot',
  auth: { authType: 'api-token', tokenId: 'tok-31f2', tokenLabel: 'ci-pipeline' },
};

const groupNames = [
  'sre-oncall',
  'jira-software-users',
  'confluence-users',
  'R&D <core>',
  '🚀 launch-team',
  'site-admins',
];

const products = [
  { key: 'jira-software', name: 'Jira Software' },
  { key: 'confluence', name: 'Confluence' },
  { key: 'jira-servicedesk', name: 'Jira Service Management' },
];

const sites: readonly AtlassianEntity[] = [
  {
    id: 'd2c4e6f8-0000-4000-8000-123456789abc',
    type: 'sites',
    attributes: { siteHostName: 'https://example.atlassian.net', siteName: 'example' },
    links: { alt: 'https://example.atlassian.net' },
  },
  {
    id: 'e3d5f7a9-1111-4111-9111-23456789abcd',
    type: 'sites',
    attributes: { siteHostName: 'https://exämple-docs.atlassian.net', siteName: 'Exämple Docs' },
    links: { alt: 'https://exämple-docs.atlassian.net' },
  },
];

const locations: readonly NonNullable<AtlassianEvent['attributes']['location']>[] = [
  { ip: '203.0.113.24', countryName: 'Ireland', regionName: 'Leinster', city: 'Dublin' },
  { ip: '198.51.100.7', countryName: 'Brazil', regionName: 'São Paulo', city: 'São Paulo' },
  { ip: '192.0.2.44', countryName: 'Poland', regionName: 'Lesser Poland', city: 'Kraków' },
  { ip: '2001:db8::1f', countryName: 'Japan', regionName: 'Tokyo', city: 'Tokyo' },
  { ip: '203.0.113.200', countryName: 'Côte d’Ivoire', city: 'Abidjan' },
];

const classificationLevels = ['Public', 'Internal', 'Confidential', 'Restricted'];

const actorOf = (person: Person): AtlassianActor => ({ id: person.id, name: person.name, email: person.email });

const userItem = (person: Person): AtlassianEntity => ({
  id: person.id,
  type: 'users',
  attributes: { name: person.name, email: person.email, accountType: 'atlassian' },
  links: { alt: `https://admin.atlassian.com/users/${person.id}` },
});

const groupItem = (draw: Draw, name: string): AtlassianEntity => ({
  id: draw.uuid(),
  type: 'groups',
  attributes: { name, groupName: name },
});

// `products` and `api-tokens` item types are UNCONFIRMED (reference §3): their attributes stay an opaque map.
const productItem = (product: { key: string; name: string }): AtlassianEntity => ({
  id: product.key,
  type: 'products',
  attributes: { name: product.name, productKey: product.key },
});

const simple = (content: string) => ({ content, format: 'simple' });

/** Common frame of an admin action: a human admin, somewhere, on one of the sites. */
const adminAction = (draw: Draw, context: AtlassianEntity[], message: string): EventParts => ({
  actor: actorOf(draw.pick(admins)),
  context,
  container: [draw.pick(sites)],
  location: draw.pick(locations),
  message: simple(message),
});

/** A setting of a site changed: the site is both what was acted upon and where. */
const siteSettingChange = (draw: Draw, message: string): EventParts => {
  const site = draw.pick(sites);
  return {
    actor: actorOf(draw.pick(admins)),
    context: [site],
    container: [site],
    location: draw.pick(locations),
    message: simple(message),
  };
};

const eventBuilders: Record<DemoEventAction, (draw: Draw) => EventParts> = {
  group_created: (draw) => {
    const group = draw.pick(groupNames);
    return adminAction(draw, [groupItem(draw, group)], `Created group ${group}`);
  },
  group_deleted: (draw) => {
    const group = draw.pick(groupNames);
    return adminAction(draw, [groupItem(draw, group)], `Deleted group ${group}`);
  },
  group_renamed: (draw) => {
    const group = draw.pick(groupNames);
    const newName = `${group}-${draw.pick(['archived', 'legacy', 'v2'])}`;
    const renamed = groupItem(draw, newName);
    const withPreviousName = { ...renamed, attributes: { ...renamed.attributes, previousName: group } };
    return adminAction(draw, [withPreviousName], `Renamed group ${group} to ${newName}`);
  },
  user_added_to_group: (draw) => {
    const member = draw.pick(members);
    const group = draw.pick(groupNames);
    return adminAction(draw, [userItem(member), groupItem(draw, group)], `Added ${member.name} to ${group}`);
  },
  user_removed_from_group: (draw) => {
    const member = draw.pick(members);
    const group = draw.pick(groupNames);
    return adminAction(draw, [userItem(member), groupItem(draw, group)], `Removed ${member.name} from ${group}`);
  },
  group_product_access_granted: (draw) => {
    const group = draw.pick(groupNames);
    const product = draw.pick(products);
    const context = [groupItem(draw, group), productItem(product)];
    return adminAction(draw, context, `Granted ${product.name} access to ${group}`);
  },
  group_product_access_revoked: (draw) => {
    const group = draw.pick(groupNames);
    const product = draw.pick(products);
    const context = [groupItem(draw, group), productItem(product)];
    return adminAction(draw, context, `Revoked ${product.name} access from ${group}`);
  },
  user_invited: (draw) => {
    const member = draw.pick(members);
    const product = draw.pick(products);
    return adminAction(draw, [userItem(member), productItem(product)], `Invited ${member.name} to ${product.name}`);
  },
  third_party_invites_enabled: (draw) =>
    siteSettingChange(draw, 'Enabled invitations from Google and Microsoft accounts'),
  third_party_invites_disabled: (draw) =>
    siteSettingChange(draw, 'Disabled invitations from Google and Microsoft accounts'),
  // Shaped like the reference's API-token example: the actor authenticates with the token it acts through.
  api_token_created: (draw) => ({
    actor: buildBot,
    context: [{ id: buildBot.id, type: 'users', attributes: { accountType: 'atlassian' } }],
    location: draw.pick(locations),
    message: simple(`Created API token ${draw.pick(['ci-pipeline', 'backup-script', 'jira→slack bridge'])}`),
  }),
  api_token_revoked: (draw) =>
    adminAction(
      draw,
      [{ id: draw.uuid(), type: 'api-tokens', attributes: { label: 'ci-pipeline', ownerAccountId: buildBot.id } }],
      `Revoked API token ci-pipeline of ${buildBot.name ?? 'Build Bot'}`
    ),
  user_logged_in_as_user: (draw) => {
    const admin = draw.pick(admins);
    const member = draw.pick(members);
    return {
      actor: actorOf(admin),
      context: [userItem(member)],
      container: [draw.pick(sites)],
      location: draw.pick(locations),
      message: simple(`${admin.name} logged in as ${member.name}`),
    };
  },
  classification_level_changed: (draw) => {
    const from = draw.pick(classificationLevels);
    const to = draw.pick(classificationLevels.filter((level) => level !== from));
    const page = draw.pick(['Q3 plan', 'Incident 4711 <postmortem>', 'Gehälter & Boni 2026']);
    return adminAction(
      draw,
      [{ id: draw.uuid(), type: 'pages', attributes: { title: page, classificationLevel: to, previousLevel: from } }],
      `Changed classification level of "${page}" from ${from} to ${to}`
    );
  },
  data_export_started: (draw) => {
    const member = draw.pick(members);
    const site = draw.pick(sites);
    return {
      actor: actorOf(member),
      context: [
        { id: draw.uuid(), type: 'exports', attributes: { scope: 'site', includeAttachments: draw.random() < 0.5 } },
      ],
      container: [site],
      location: draw.pick(locations),
      message: simple(`${member.name} started a site export of ${String(site.attributes?.['siteName'])}`),
    };
  },
};

/** Membership churn dominates a real audit log; Guard and impersonation events are rarer. */
const actionWeights: Record<DemoEventAction, number> = {
  group_created: 4,
  group_deleted: 2,
  group_renamed: 2,
  user_added_to_group: 14,
  user_removed_from_group: 8,
  group_product_access_granted: 4,
  group_product_access_revoked: 2,
  user_invited: 8,
  third_party_invites_enabled: 1,
  third_party_invites_disabled: 1,
  api_token_created: 3,
  api_token_revoked: 2,
  user_logged_in_as_user: 2,
  classification_level_changed: 2,
  data_export_started: 1,
};

const totalWeight = Object.values(actionWeights).reduce((sum, weight) => sum + weight, 0);

function pickWeightedAction(random: () => number): DemoEventAction {
  // Integer tickets keep the walk exact: the ticket is always below the sum of the weights.
  let ticket = Math.floor(random() * totalWeight);
  for (const { id } of demoEventActions) {
    ticket -= actionWeights[id];
    if (ticket < 0) return id;
  }
  throw new Error('unreachable: the ticket is below the total weight');
}

/** Usually well under a few seconds; about one in fifteen events is processed 5 minutes to 6 hours late. */
function processingDelayMs(random: () => number): number {
  if (random() < 1 / 15) return 5 * 60_000 + Math.floor(random() * (6 * 3_600_000 - 5 * 60_000));
  return 50 + Math.floor(random() * 3_000);
}

/** Atlassian sends event times both with and without milliseconds (reference §3); so does the demo. */
function formatEventTime(timeMs: number, random: () => number): string {
  const iso = new Date(timeMs).toISOString();
  return random() < 0.2 ? iso.replace(/\.\d{3}Z$/, 'Z') : iso;
}

/** mulberry32: a tiny, well-mixed 32-bit PRNG; enough for reproducible demo data, not for anything secret. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = state;
    mixed = Math.imul(mixed ^ (mixed >>> 15), mixed | 1);
    mixed ^= mixed + Math.imul(mixed ^ (mixed >>> 7), mixed | 61);
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  return hash;
}

/** A version-4-shaped UUID drawn from the seeded PRNG, so event IDs are reproducible too. */
function randomUuid(random: () => number): string {
  const bytes = Array.from({ length: 16 }, () => Math.floor(random() * 256));
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = bytes.map((byte) => byte.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
