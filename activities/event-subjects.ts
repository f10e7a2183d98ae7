/**
 * Who did what to whom and where, read out of an Atlassian event's `actor`, `context[]` ("what") and
 * `container[]` ("where") once, so the message phrasing, the Datadog tags and the `atlassian.*` summaries all
 * agree. Values are kept exactly as Atlassian sent them; making them readable is the phrasing's job.
 *
 * Entity types `users`, `groups` and `sites` are seen in public samples (reference §3). `products` and
 * `api-tokens` are our guess at how product-access and token events name their subject: UNCONFIRMED. Any other
 * type (pages, spaces, policies…) lands in `otherEntities`, which is what classification events act on.
 * Also guessed, after the demo data: a renamed group's `previousName`, and the `classificationLevel` /
 * `previousLevel` attributes of classified content.
 */
import type { AtlassianActor, AtlassianEntity, AtlassianEvent } from './atlassian-schema';

export interface SubjectEntity {
  readonly id: string;
  readonly name?: string;
}

export interface SubjectUser extends SubjectEntity {
  readonly email?: string;
}

export interface SubjectSite extends SubjectEntity {
  readonly host?: string;
}

export interface SubjectGroup extends SubjectEntity {
  /** Set on a renamed group: the name it had before. */
  readonly previousName?: string;
}

/** An actor with an Atlassian account: a person, the only kind of actor presented as `usr.*`. */
export interface PersonActor extends SubjectUser {
  readonly kind: 'person';
}

/** An actor that is not a person (see `isSystemActor`): an Atlassian product or app, or no account at all. */
export interface SystemActor {
  readonly kind: 'system';
  readonly id?: string;
  readonly name?: string;
  /** What Atlassian put in `email` for it: a label such as "Atlassian app", not an address. */
  readonly label?: string;
}

export type ActorSubject = PersonActor | SystemActor;

/** How the actor authenticated (`actor.auth`), whichever of Atlassian's spellings named the token. */
export interface ActorAuth {
  /** An open set: the documented token types, and `session` seen beside them. */
  readonly type?: string;
  readonly tokenId?: string;
  /** `tokenLabel` (the spec's name), else `tokenName` (seen in the wild). */
  readonly tokenName?: string;
}

export interface ClassificationChange {
  readonly level: string;
  readonly previousLevel?: string;
}

export interface EventSubjects {
  readonly actor: ActorSubject;
  readonly actorAuth?: ActorAuth;
  /** The person the actor acted for, when Atlassian records one (an app or token acting on a user's behalf). */
  readonly actorOnBehalfOf?: SubjectUser;
  readonly users: readonly SubjectUser[];
  readonly groups: readonly SubjectGroup[];
  readonly sites: readonly SubjectSite[];
  readonly products: readonly SubjectEntity[];
  readonly apiTokens: readonly SubjectEntity[];
  readonly otherEntities: readonly SubjectEntity[];
  /** The classification level given to content, from the first entity that carries one. */
  readonly classification?: ClassificationChange;
}

const EntityType = {
  Users: 'users',
  Groups: 'groups',
  Sites: 'sites',
  Products: 'products',
  ApiTokens: 'api-tokens',
} as const;

export function subjectsOf(event: AtlassianEvent): EventSubjects {
  const { actor } = event.attributes;
  // A site or product can be named in either list depending on the action, so both are searched.
  const entities = [...(event.attributes.context ?? []), ...(event.attributes.container ?? [])];
  const ofType = (type: string) => entities.filter((entity) => entity.type === type);
  const knownTypes: readonly (string | null | undefined)[] = Object.values(EntityType);
  return {
    actor: actorSubjectOf(actor),
    ...actorAuthOf(actor),
    ...(actor.onBehalfOf && {
      actorOnBehalfOf: withoutEmpty({
        id: actor.onBehalfOf.id,
        name: actor.onBehalfOf.name ?? undefined,
        email: actor.onBehalfOf.email ?? undefined,
      }),
    }),
    users: ofType(EntityType.Users).map((entity) =>
      withoutEmpty({ id: entity.id, name: text(entity, 'name'), email: text(entity, 'email') })
    ),
    groups: ofType(EntityType.Groups).map((entity) =>
      withoutEmpty({ ...named(entity, 'name', 'groupName'), previousName: text(entity, 'previousName') })
    ),
    sites: ofType(EntityType.Sites).map((entity) =>
      withoutEmpty({ id: entity.id, name: text(entity, 'siteName'), host: text(entity, 'siteHostName') })
    ),
    products: ofType(EntityType.Products).map((entity) => named(entity, 'name', 'productName')),
    apiTokens: ofType(EntityType.ApiTokens).map((entity) => named(entity, 'label', 'name')),
    otherEntities: entities
      .filter((entity) => !knownTypes.includes(entity.type))
      .map((entity) => named(entity, 'name', 'title')),
    ...classificationOf(entities),
  };
}

function actorSubjectOf(actor: AtlassianActor): ActorSubject {
  const name = actor.name ?? undefined;
  const email = actor.email ?? undefined;
  return isSystemActor(actor)
    ? withoutEmpty({ kind: 'system', id: actor.id, name, label: email })
    : withoutEmpty({ kind: 'person', id: actor.id, name, email });
}

/**
 * Atlassian's own products and apps act too, and they are not people: peers' fixtures show `id: "confluence"`
 * with `email: "Atlassian app"` (reference §11), and an app is named by an ARI (`ari:cloud:ecosystem::app/…`).
 * Presenting one as `usr.*` would make "Atlassian app" a user's email in every rule and dashboard, so an actor
 * is a system actor when
 * - its ID is empty: there is no account at all; or
 * - its `email` is not an address: Atlassian puts a label there for its own apps; or, without an address,
 * - its ID is an ARI, or has no digit: account IDs always have some (24 hex digits, or `712020:<uuid>`), a
 *   product name never does.
 * A real address always makes a person: an account ID of a form we have not seen must not hide a person from the
 * rules keyed on `usr.*`.
 */
function isSystemActor(actor: AtlassianActor): boolean {
  if (actor.id === '') return true;
  if (actor.email) return !actor.email.includes('@');
  return /^ari:/i.test(actor.id) || !/\d/.test(actor.id);
}

function actorAuthOf(actor: AtlassianActor): Pick<EventSubjects, 'actorAuth'> {
  const { auth } = actor;
  if (!auth) return {};
  const actorAuth = withoutEmpty({
    type: auth.authType ?? undefined,
    tokenId: auth.tokenId ?? undefined,
    tokenName: auth.tokenLabel || auth.tokenName || undefined,
  });
  return Object.keys(actorAuth).length > 0 ? { actorAuth } : {};
}

function classificationOf(entities: readonly AtlassianEntity[]): Pick<EventSubjects, 'classification'> {
  for (const entity of entities) {
    const level = text(entity, 'classificationLevel');
    if (level) return { classification: withoutEmpty({ level, previousLevel: text(entity, 'previousLevel') }) };
  }
  return {};
}

/**
 * The user an action was done to: the first user in `context` who is not the actor, else the first user (someone
 * creating an API token for themselves is both actor and subject).
 */
export function targetUserOf(subjects: EventSubjects): SubjectUser | undefined {
  return subjects.users.find((user) => user.id !== subjects.actor.id) ?? subjects.users[0];
}

function named(entity: AtlassianEntity, preferredKey: string, fallbackKey: string): SubjectEntity {
  return withoutEmpty({ id: entity.id, name: text(entity, preferredKey) ?? text(entity, fallbackKey) });
}

/** A free-form entity attribute, when it is a non-empty string. */
function text(entity: AtlassianEntity, key: string): string | undefined {
  const value = entity.attributes?.[key];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** Drops absent and empty fields so summaries and golden files carry only what the event said. */
function withoutEmpty<T extends object>(subject: T): T {
  return Object.fromEntries(Object.entries(subject).filter(([, value]) => value !== undefined && value !== '')) as T;
}
