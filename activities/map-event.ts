/**
 * The "map" step of poll → map → ship: one element of an `events-stream` page becomes one Datadog log.
 * Pure: same input, same log. The current time comes in through `MapContext.now`.
 *
 * Log shape (reference datadog-logs.md §2.3, §3):
 * - reserved: `ddsource` and `service` `atlassian-event-logs`, `status`, `timestamp` = the event's own time in
 *   epoch ms (the ship activity, not this step, re-dates logs outside Datadog's 18 h window), a readable `message`;
 * - tags: `org_id`, `collection_origin` (tail or backfill), `evt_category`, and `site` / `product` when the event
 *   names them;
 * - standard attributes: `usr.*` (the actor, when a person: see `actorAttributesOf`), `network.client.ip` and
 *   `network.client.geoip.*` (Atlassian's own location), `evt.name` (action key), `evt.category`, `evt.outcome`;
 * - everything Atlassian under `atlassian`, with the full original event in `atlassian.event`.
 *
 * Why `context[]` and `container[]` are not copied to `atlassian.context` / `atlassian.container`: they are the
 * parts that grow large (hundreds of users), they are already whole inside `atlassian.event`, and arrays of objects
 * cannot be faceted anyway. What rules and dashboards need from them is lifted into small summaries instead:
 * `atlassian.target_user`, `atlassian.target_group`, `atlassian.site`, `atlassian.product`,
 * `atlassian.classification` (first of each kind; see event-subjects.ts for where each comes from).
 */
import { type ActionCatalogue, type ResolvedAction, actorPhrase, resolveAction } from './action-catalogue';
import { type AtlassianEvent, atlassianGeoSchema } from './atlassian-schema';
import type { DatadogLog } from './datadog-log';
import { datadogTag, joinDatadogTags } from './datadog-tags';
import { type ActorAuth, type ActorSubject, type EventSubjects, subjectsOf, targetUserOf } from './event-subjects';
import { cutOversizedLog } from './oversized-log';
import type { PolledEvent } from './polled-event';
import { readableText } from './readable-text';

export const ATLASSIAN_EVENT_LOGS_SOURCE = 'atlassian-event-logs';

export interface MapContext {
  readonly orgId: string;
  /** Which collection read the event: the live tail of the stream, or a requested backfill range. */
  readonly origin: 'tail' | 'backfill';
  /**
   * Epoch ms, injected so mapping stays pure. Used only to date a malformed element that carries no readable
   * time: a log without a date would be stamped by Datadog on receipt anyway, this makes it explicit.
   */
  readonly now: number;
  /** The org's `/event-actions` catalogue, when fetched: display names and categories of unknown keys. */
  readonly actions?: ActionCatalogue;
  /** Datadog `service`; defaults to the source name, as Datadog advises when source and service match. */
  readonly service?: string;
}

/**
 * Datadog indexes 75 KiB of `message`; ours is a sentence, but Atlassian's own summary (used for unknown actions)
 * has no bound. The full text always stays in `atlassian.message`.
 */
const MAX_MESSAGE_CHARS = 4_000;

export function mapPolledEvent(polled: PolledEvent, context: MapContext): DatadogLog {
  const log = polled.kind === 'event' ? logForEvent(polled.event, context) : logForMalformed(polled, context);
  return cutOversizedLog(log);
}

export function mapPolledEvents(polled: readonly PolledEvent[], context: MapContext): DatadogLog[] {
  return polled.map((element) => mapPolledEvent(element, context));
}

function logForEvent(event: AtlassianEvent, context: MapContext): DatadogLog {
  const { attributes } = event;
  const action = resolveAction(attributes.action, context.actions);
  const subjects = subjectsOf(event);
  const location = attributes.location ?? undefined;
  const actor = actorAttributesOf(subjects.actor, attributes.actor);
  return {
    ddsource: ATLASSIAN_EVENT_LOGS_SOURCE,
    service: context.service ?? ATLASSIAN_EVENT_LOGS_SOURCE,
    ddtags: joinDatadogTags([
      ...commonTags(context),
      datadogTag('evt_category', action.category),
      ...subjects.sites.map((each) => datadogTag('site', each.name ?? each.host ?? each.id)),
      ...subjects.products.map((each) => datadogTag('product', each.name ?? each.id)),
    ]),
    status: 'info',
    timestamp: Date.parse(attributes.time),
    message: messageFor(event, action, subjects),
    ...actor.root,
    ...(location && networkFor(location)),
    evt: {
      name: attributes.action,
      category: action.category,
      // Only our known actions are known to record a change that happened; for others we cannot tell.
      ...(action.describe && { outcome: 'success' }),
    },
    atlassian: {
      event_id: event.id,
      org_id: context.orgId,
      time: attributes.time,
      ...(attributes.processedAt && { processed_at: attributes.processedAt }),
      action: attributes.action,
      ...(action.displayName && { action_display_name: action.displayName }),
      ...actor.atlassian,
      ...(subjects.actorAuth && { actor_auth: actorAuthSummary(subjects.actorAuth) }),
      ...(location && { location }),
      ...(event.message && { message: event.message }),
      ...summariesOf(subjects),
      event,
    },
  };
}

/**
 * Where the actor goes. A person is the log's user: `usr.{id,name,email}`, with Atlassian's object in
 * `atlassian.actor`. A system actor (an Atlassian product or app, or no account: see event-subjects.ts) is no
 * user, so the log has no `usr` and the actor's object is in `atlassian.system_actor` instead; it must not be
 * under `atlassian.actor`, which the pipeline in datadog/ remaps to `usr.*` when `usr` is absent, and would put
 * "Atlassian app" back as a user's email. What Datadog rules then see: a query on `@usr.email:*` skips the log,
 * a rule grouped by `@usr.*` ignores it (group-by fields are required unless a rule sets
 * `hasOptionalGroupByFields`), and `{{@usr.email}}` in a signal has nothing to show; Atlassian's own automation
 * is not an administrator to triage. `@atlassian.system_actor.id:*` finds these logs.
 */
function actorAttributesOf(
  actor: ActorSubject,
  original: AtlassianEvent['attributes']['actor']
): { root: Pick<DatadogLog, 'usr'>; atlassian: Record<string, object> } {
  if (actor.kind === 'system') return { root: {}, atlassian: { system_actor: original } };
  const { kind: _kind, ...usr } = actor;
  return { root: { usr }, atlassian: { actor: original } };
}

/** `actor.auth` in our naming, with the token's name under one attribute whichever spelling Atlassian used. */
function actorAuthSummary(auth: ActorAuth): Record<string, string> {
  return nonEmpty({ type: auth.type, token_id: auth.tokenId, token_name: auth.tokenName });
}

/** Scalar summaries of what the event acted on, in our snake_case naming; only those the event names. */
function summariesOf(subjects: EventSubjects): Record<string, object> {
  const targetUser = targetUserOf(subjects);
  const [group] = subjects.groups;
  const [site] = subjects.sites;
  const [product] = subjects.products;
  const { classification } = subjects;
  return {
    ...(targetUser && { target_user: targetUser }),
    ...(group && {
      target_group: { id: group.id, ...nonEmpty({ name: group.name, previous_name: group.previousName }) },
    }),
    ...(site && { site }),
    ...(product && { product }),
    ...(classification && {
      classification: { level: classification.level, ...nonEmpty({ previous_level: classification.previousLevel }) },
    }),
  };
}

function nonEmpty(fields: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(fields).filter((entry): entry is [string, string] => !!entry[1]));
}

/**
 * Our sentence for a known action. For any other: Atlassian's own summary, else the catalogue's display name,
 * each after the actor (Atlassian's summaries say what, not who: "Created group sre-oncall"), else
 * "<actor> performed <action key>". Always one readable line of bounded length.
 */
function messageFor(event: AtlassianEvent, action: ResolvedAction, subjects: EventSubjects): string {
  return readableText(sentenceFor(event, action, subjects), MAX_MESSAGE_CHARS);
}

function sentenceFor(event: AtlassianEvent, action: ResolvedAction, subjects: EventSubjects): string {
  if (action.describe) return action.describe(subjects);
  const actor = actorPhrase(subjects);
  const summary = event.message?.content || action.displayName;
  return summary ? `${actor}: ${summary}` : `${actor} performed ${event.attributes.action}`;
}

type AtlassianLocation = NonNullable<AtlassianEvent['attributes']['location']>;

/** Standard network attributes from Atlassian's location; absent when the location names neither IP nor place. */
function networkFor(location: AtlassianLocation): Pick<DatadogLog, 'network'> | undefined {
  const codes = geoCodesOf(location.geo);
  const country = nonEmpty({ name: location.countryName ?? undefined, iso_code: codes.country });
  const subdivision = nonEmpty({ name: location.regionName ?? undefined, iso_code: codes.subdivision });
  const geoip = {
    ...(codes.continent && { continent: { code: codes.continent } }),
    ...(Object.keys(country).length > 0 && { country }),
    ...(Object.keys(subdivision).length > 0 && { subdivision }),
    ...(location.city && { city: { name: location.city } }),
  };
  const hasPlace = Object.keys(geoip).length > 0;
  if (!location.ip && !hasPlace) return undefined;
  return { network: { client: { ...(location.ip && { ip: location.ip }), ...(hasPlace && { geoip }) } } };
}

interface GeoCodes {
  /** Datadog's `continent.code`: AF, AN, AS, EU, NA, OC, SA. */
  readonly continent?: string;
  /** ISO 3166-1 alpha-2. */
  readonly country?: string;
  /** ISO 3166-2, country included (`US-CA`), so that the code alone names the place. */
  readonly subdivision?: string;
}

const CONTINENT_CODES: ReadonlySet<string> = new Set(['AF', 'AN', 'AS', 'EU', 'NA', 'OC', 'SA']);
const COUNTRY_CODE = /^[A-Z]{2}$/;
const SUBDIVISION_CODE = /^([A-Z]{2})-[A-Z0-9]{1,3}$/;
const SUBDIVISION_PART = /^[A-Z0-9]{1,3}$/;

/**
 * The codes in `location.geo` that have a standard `network.client.geoip.*` attribute. Seen: `EU`, `NA` (reference
 * §11), continent codes as Datadog writes them. Also read, UNCONFIRMED: an ISO 3166-2 code (`US-CA`) and an object
 * `{ countryCode, regionCode }`. Any other two letters are not taken for a country, since several continent codes
 * are country codes too (NA is Namibia's); a value we cannot read maps to nothing and stays in
 * `atlassian.location.geo`. Codes are written in upper case, as ISO does, whatever case they came in.
 * Datadog's own GeoIP parser may write the subdivision code without its country (UNCONFIRMED).
 */
function geoCodesOf(geo: unknown): GeoCodes {
  const parsed = atlassianGeoSchema.safeParse(geo);
  if (!parsed.success) return {};
  if (typeof parsed.data === 'string') {
    const code = parsed.data.trim().toUpperCase();
    if (CONTINENT_CODES.has(code)) return { continent: code };
    const subdivision = SUBDIVISION_CODE.exec(code);
    return subdivision ? { country: subdivision[1], subdivision: code } : {};
  }
  const countryCode = parsed.data.countryCode?.trim().toUpperCase();
  const country = countryCode && COUNTRY_CODE.test(countryCode) ? countryCode : undefined;
  const region = parsed.data.regionCode?.trim().toUpperCase() ?? '';
  const full = SUBDIVISION_CODE.exec(region);
  if (full && (!country || full[1] === country)) return { country: full[1], subdivision: region };
  if (country && SUBDIVISION_PART.test(region)) return { country, subdivision: `${country}-${region}` };
  return { ...(country && { country }) };
}

/**
 * An element that failed validation is shipped, marked, rather than dropped: it is still evidence. Its content is
 * kept as JSON text in `atlassian.raw` because its shape is unknown: as an object it could clash with the types
 * of well-formed events' attributes or break the attribute limits.
 */
function logForMalformed(polled: Extract<PolledEvent, { kind: 'malformed' }>, context: MapContext): DatadogLog {
  const time = timeText(polled.raw, 'time');
  const processedAt = timeText(polled.raw, 'processedAt');
  return {
    ddsource: ATLASSIAN_EVENT_LOGS_SOURCE,
    service: context.service ?? ATLASSIAN_EVENT_LOGS_SOURCE,
    ddtags: joinDatadogTags(commonTags(context)),
    status: 'warn',
    // The event's own time when it can be read, so the log sits beside its neighbours; else now.
    timestamp: time === undefined ? context.now : Date.parse(time),
    message: readableText(`Unparsable Atlassian audit event ${polled.id}: ${polled.problem}`, MAX_MESSAGE_CHARS),
    atlassian: {
      event_id: polled.id,
      org_id: context.orgId,
      ...(time && { time }),
      ...(processedAt && { processed_at: processedAt }),
      parse_error: polled.problem,
      raw: JSON.stringify(polled.raw) ?? String(polled.raw),
    },
  };
}

function commonTags(context: MapContext): (string | undefined)[] {
  return [datadogTag('org_id', context.orgId), datadogTag('collection_origin', context.origin)];
}

/** `attributes[key]` of a raw element when it is a parseable time string. */
function timeText(raw: unknown, key: string): string | undefined {
  const attributes = isRecord(raw) ? raw.attributes : undefined;
  const value = isRecord(attributes) ? attributes[key] : undefined;
  return typeof value === 'string' && !Number.isNaN(Date.parse(value)) ? value : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
