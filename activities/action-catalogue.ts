/**
 * What an Atlassian action key means: its category and how to say it in one sentence.
 *
 * Two sources, merged here and nowhere else:
 * - `KNOWN_ACTIONS`, our table: the keys the demo and the stand-in use, with our category and phrasing. Only
 *   `user_logged_in_as_user` is confirmed as a real Atlassian key (reference §7); every other key is UNCONFIRMED,
 *   a plausible guess, so an unknown key must still map well (see `resolveAction`).
 * - the organization's own catalogue from `GET /admin/v1/orgs/{orgId}/event-actions` (`actionCatalogueFrom`),
 *   which names every real key with a display name and a display group.
 * For a key in our table our category and phrasing win (they are what rules and dashboards are written against);
 * the catalogue supplies the display name, and the category of keys we do not know.
 */
import type { EventActions } from './atlassian-schema';
import {
  type ActorSubject,
  type EventSubjects,
  type SubjectEntity,
  type SubjectUser,
  targetUserOf,
} from './event-subjects';
import { readableText } from './readable-text';

export const EventCategory = {
  GroupManagement: 'group_management',
  GroupAccess: 'group_access',
  ProductAccess: 'product_access',
  ApiToken: 'api_token',
  Invites: 'invites',
  Authentication: 'authentication',
  /** Guard Premium: data classification and export. */
  DataSecurity: 'data_security',
  Other: 'other',
} as const;
export type EventCategory = (typeof EventCategory)[keyof typeof EventCategory];

export interface KnownAction {
  readonly category: EventCategory;
  readonly describe: (subjects: EventSubjects) => string;
}

/** Longest name kept in a sentence: a name is evidence, but a 10 KB "name" would drown the message. */
const MAX_NAME_CHARS = 200;

export const KNOWN_ACTIONS = {
  group_created: {
    category: EventCategory.GroupManagement,
    describe: (s) => `${actorPhrase(s)} created ${groupPhrase(s.groups[0])}`,
  },
  group_deleted: {
    category: EventCategory.GroupManagement,
    describe: (s) => `${actorPhrase(s)} deleted ${groupPhrase(s.groups[0])}`,
  },
  group_renamed: {
    category: EventCategory.GroupManagement,
    describe: (s) => {
      const [group] = s.groups;
      const previousName = readable(group?.previousName);
      return previousName
        ? `${actorPhrase(s)} renamed group ${previousName} to ${nameOf(group) ?? 'a new name'}`
        : `${actorPhrase(s)} renamed ${groupPhrase(group)}`;
    },
  },
  user_added_to_group: {
    category: EventCategory.GroupManagement,
    describe: (s) => `${actorPhrase(s)} added ${userPhrase(targetUserOf(s))} to ${groupPhrase(s.groups[0])}`,
  },
  user_removed_from_group: {
    category: EventCategory.GroupManagement,
    describe: (s) => `${actorPhrase(s)} removed ${userPhrase(targetUserOf(s))} from ${groupPhrase(s.groups[0])}`,
  },
  group_product_access_granted: {
    category: EventCategory.GroupAccess,
    describe: (s) =>
      `${actorPhrase(s)} granted ${groupPhrase(s.groups[0])} access to ${productPhrase(s)}${onSitePhrase(s)}`,
  },
  group_product_access_revoked: {
    category: EventCategory.GroupAccess,
    describe: (s) =>
      `${actorPhrase(s)} revoked access to ${productPhrase(s)}${onSitePhrase(s)} from ${groupPhrase(s.groups[0])}`,
  },
  user_invited: {
    category: EventCategory.Invites,
    describe: (s) => {
      const product = s.products[0] && ` to ${productPhrase(s)}`;
      return `${actorPhrase(s)} invited ${userPhrase(targetUserOf(s))}${product ?? ''}${onSitePhrase(s)}`;
    },
  },
  third_party_invites_enabled: {
    category: EventCategory.Invites,
    describe: (s) => `${actorPhrase(s)} enabled invites of third-party accounts${onSitePhrase(s)}`,
  },
  third_party_invites_disabled: {
    category: EventCategory.Invites,
    describe: (s) => `${actorPhrase(s)} disabled invites of third-party accounts${onSitePhrase(s)}`,
  },
  api_token_created: {
    category: EventCategory.ApiToken,
    describe: (s) => `${actorPhrase(s)} created ${apiTokenPhrase(s)}`,
  },
  api_token_revoked: {
    category: EventCategory.ApiToken,
    describe: (s) => `${actorPhrase(s)} revoked ${apiTokenPhrase(s)}`,
  },
  user_logged_in_as_user: {
    category: EventCategory.Authentication,
    describe: (s) => `${actorPhrase(s)} logged in as ${userPhrase(targetUserOf(s))}${onSitePhrase(s)}`,
  },
  classification_level_changed: {
    category: EventCategory.DataSecurity,
    describe: (s) => {
      const level = readable(s.classification?.level);
      const previousLevel = readable(s.classification?.previousLevel);
      const change = `${previousLevel ? ` from ${previousLevel}` : ''}${level ? ` to ${level}` : ''}`;
      return `${actorPhrase(s)} changed the classification level of ${contentPhrase(s)}${change}`;
    },
  },
  data_export_started: {
    category: EventCategory.DataSecurity,
    describe: (s) => {
      const site = siteLabel(s);
      return `${actorPhrase(s)} started a data export${site ? ` of site ${site}` : ''}`;
    },
  },
} as const satisfies Record<string, KnownAction>;
export type KnownActionKey = keyof typeof KNOWN_ACTIONS;

/** The org's `/event-actions` catalogue, keyed by action: plain JSON, so it can travel through Temporal. */
export type ActionCatalogue = Readonly<Record<string, CatalogueEntry>>;

export interface CatalogueEntry {
  readonly displayName?: string;
  /** Atlassian's display groups of the action, as sent: "Group management", or upper case, "SECURITY POLICIES". */
  readonly groupDisplayNames?: readonly string[];
}

/** Entries of one or more `/event-actions` pages; a key listed twice keeps its last entry. */
export function actionCatalogueFrom(response: Pick<EventActions, 'data'>): ActionCatalogue {
  // Object.fromEntries defines own properties, so even a key such as `__proto__` stays plain data.
  return Object.fromEntries(
    response.data.map(({ id, attributes }) => {
      const displayName = attributes?.displayName || undefined;
      // The spec has both a single group and a list; the real dump only the list.
      const groups = [attributes?.groupDisplayName, ...(attributes?.groupDisplayNames ?? [])].flatMap((group) => {
        const trimmed = group?.trim();
        return trimmed ? [trimmed] : [];
      });
      const groupDisplayNames = [...new Set(groups)];
      return [
        id,
        { ...(displayName && { displayName }), ...(groupDisplayNames.length > 0 && { groupDisplayNames }) },
      ];
    })
  );
}

export interface ResolvedAction {
  /**
   * One of `EventCategory`; for a key we do not know that no word places there, the catalogue's first display
   * group in our snake_case ("SECURITY POLICIES" → `security_policies`), else `other`.
   */
  readonly category: string;
  readonly displayName?: string;
  /** Our sentence for the action; absent when the key is not in `KNOWN_ACTIONS`. */
  readonly describe?: (subjects: EventSubjects) => string;
}

export function resolveAction(actionKey: string, catalogue: ActionCatalogue = {}): ResolvedAction {
  // Own-property lookups only: an action named `constructor` must not find Object.prototype.constructor.
  const entry = Object.hasOwn(catalogue, actionKey) ? catalogue[actionKey] : undefined;
  const displayName = entry?.displayName;
  if (Object.hasOwn(KNOWN_ACTIONS, actionKey)) {
    const known: KnownAction = KNOWN_ACTIONS[actionKey as KnownActionKey];
    return { category: known.category, describe: known.describe, ...(displayName && { displayName }) };
  }
  const groups = entry?.groupDisplayNames ?? [];
  const category =
    categoryFromWords([...groups, actionKey, displayName]) ?? categoryOfGroup(groups[0]) ?? EventCategory.Other;
  return { category, ...(displayName && { displayName }) };
}

/**
 * Category of an action we do not know, guessed from the words Atlassian uses for it: its display groups first
 * (the most deliberate classification), then the key, then the display name. First rule that matches wins, so the
 * specific rules (group *access*) come before the general ones (group). Case does not matter: the real catalogue
 * writes its groups in capitals.
 */
const CATEGORY_BY_WORDS: readonly { readonly category: EventCategory; readonly words: RegExp }[] = [
  { category: EventCategory.Authentication, words: /log(ged)?[\s_-]?(in|out)|impersonat|authenticat/i },
  { category: EventCategory.ApiToken, words: /api[\s_-]?token/i },
  { category: EventCategory.Invites, words: /invit/i },
  { category: EventCategory.DataSecurity, words: /classif|export|data[\s_-]?security/i },
  { category: EventCategory.GroupAccess, words: /group.*(access|product|role)|(access|product|role).*group/i },
  { category: EventCategory.GroupManagement, words: /group/i },
  { category: EventCategory.ProductAccess, words: /product|access/i },
];

function categoryFromWords(texts: readonly (string | undefined)[]): EventCategory | undefined {
  for (const text of texts) {
    const match = text && CATEGORY_BY_WORDS.find(({ words }) => words.test(text));
    if (match) return match.category;
  }
  return undefined;
}

/** Longest category made from a display group; Atlassian's are a few words. */
const MAX_GROUP_CATEGORY_CHARS = 64;

/**
 * Atlassian's own group as a category in the form of ours (lower case, words joined by `_`), so "SECURITY
 * POLICIES" and "Security policies" facet as one value and the `evt_category` tag reads like the others. Better
 * than `other` for rules and dashboards: it still says which part of the organization changed.
 */
function categoryOfGroup(group: string | undefined): string | undefined {
  const words = group?.toLowerCase().match(/[\p{L}\p{N}]+/gu);
  if (!words) return undefined;
  // Cut at code points, and never left ending in the separator.
  return Array.from(words.join('_')).slice(0, MAX_GROUP_CATEGORY_CHARS).join('').replace(/_+$/, '');
}

/**
 * The actor as a sentence subject: a person by name, else email, else account ID; a system actor by name, else
 * ID, else its label ("Atlassian app"). "X on behalf of Y" when recorded.
 */
export function actorPhrase(subjects: EventSubjects): string {
  const onBehalfOf = subjects.actorOnBehalfOf;
  const actor = actorLabel(subjects.actor);
  return onBehalfOf
    ? `${actor} on behalf of ${personLabel(onBehalfOf.name, onBehalfOf.email, onBehalfOf.id)}`
    : actor;
}

function actorLabel(actor: ActorSubject): string {
  if (actor.kind === 'person') return personLabel(actor.name, actor.email, actor.id);
  return readable(actor.name) ?? readable(actor.id) ?? readable(actor.label) ?? 'An unidentified actor';
}

/** A user acted upon: email first, the identity an admin searches for, then name, then account ID. */
function userPhrase(user: SubjectUser | undefined): string {
  return user ? personLabel(user.email, user.name, user.id) : 'a user';
}

function personLabel(preferred: string | undefined, second: string | undefined, id: string): string {
  return readable(preferred) ?? readable(second) ?? readableText(id, MAX_NAME_CHARS);
}

function groupPhrase(group: SubjectEntity | undefined): string {
  const name = nameOf(group);
  return name ? `group ${name}` : 'a group';
}

function nameOf(entity: SubjectEntity | undefined): string | undefined {
  return readable(entity?.name) ?? readable(entity?.id);
}

function productPhrase(subjects: EventSubjects): string {
  return nameOf(subjects.products[0]) ?? 'a product';
}

function apiTokenPhrase(subjects: EventSubjects): string {
  const label = nameOf(subjects.apiTokens[0]);
  const tokenPhrase = label ? `API token ${label}` : 'an API token';
  const owner = targetUserOf(subjects);
  return owner && owner.id !== subjects.actor.id ? `${tokenPhrase} for ${userPhrase(owner)}` : tokenPhrase;
}

/** What a classification acted on (a page, a space…). */
function contentPhrase(subjects: EventSubjects): string {
  return nameOf(subjects.otherEntities[0]) ?? 'content';
}

function onSitePhrase(subjects: EventSubjects): string {
  const site = siteLabel(subjects);
  return site ? ` on site ${site}` : '';
}

function siteLabel(subjects: EventSubjects): string | undefined {
  const site = subjects.sites[0];
  return readable(site?.name) ?? readable(site?.host) ?? readable(site?.id);
}

/** Readable text, or undefined when nothing readable is left (a name made only of control characters). */
function readable(value: string | undefined): string | undefined {
  const cleaned = value === undefined ? '' : readableText(value, MAX_NAME_CHARS);
  return cleaned === '' ? undefined : cleaned;
}
