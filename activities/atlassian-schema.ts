/**
 * Zod schemas for the Atlassian Organizations audit API (`/admin/v1/orgs/{orgId}/events-stream`).
 * Unknown fields are kept (`z.looseObject`): an event is evidence and no field may be lost on its way to Datadog.
 * Shapes follow ../shared/reference/atlassian-org-audit-api.md §3.
 */
import { z } from 'zod';

const linksSchema = z.looseObject({ self: z.string().nullish(), alt: z.string().nullish() });

const entitySchema = z.looseObject({
  id: z.string(),
  type: z.string().nullish(),
  attributes: z.record(z.string(), z.unknown()).nullish(),
  links: linksSchema.nullish(),
});

/**
 * Shapes seen beside the documented ones (reference §11), accepted so that none makes an event malformed:
 * - `id` that is not an account ID (`"confluence"`), or empty: a system actor, see event-subjects.ts. The field
 *   itself stays required as documented: every actor seen, system actors included, carries one;
 * - `auth.authType` is an open set: `session` appears beside the documented token types;
 * - `auth.tokenName` where the spec says `tokenLabel` (Google SecOps' parser reads it): both name the token.
 */
export const atlassianActorSchema = z.looseObject({
  id: z.string(),
  name: z.string().nullish(),
  email: z.string().nullish(),
  links: linksSchema.nullish(),
  auth: z
    .looseObject({
      authType: z.string().nullish(),
      tokenId: z.string().nullish(),
      tokenLabel: z.string().nullish(),
      tokenName: z.string().nullish(),
    })
    .nullish(),
  onBehalfOf: z.looseObject({ id: z.string(), name: z.string().nullish(), email: z.string().nullish() }).nullish(),
  app: z.looseObject({ id: z.string(), type: z.string().nullish() }).nullish(),
});

export const atlassianLocationSchema = z.looseObject({
  ip: z.string().nullish(),
  /**
   * Documented as a string; seen holding region codes (`EU`, `NA`), and its form is not settled, so any value is
   * accepted here: delivering the event never depends on it. The map reads the forms it knows
   * (`atlassianGeoSchema`) and the value stays whole in `atlassian.location`.
   */
  geo: z.unknown().optional(),
  countryName: z.string().nullish(),
  regionName: z.string().nullish(),
  city: z.string().nullish(),
});

/**
 * The forms of `location.geo` the map understands: a code string (`EU`, `US-CA`), or an object of ISO codes
 * (`{ countryCode: "US", regionCode: "CA" }`, UNCONFIRMED: not in the reference, accepted in case it appears).
 */
export const atlassianGeoSchema = z.union([
  z.string(),
  z.looseObject({ countryCode: z.string().nullish(), regionCode: z.string().nullish() }),
]);

const isoTime = z.string().refine((value) => !Number.isNaN(Date.parse(value)), 'not an ISO-8601 time');

export const atlassianEventSchema = z.looseObject({
  id: z.string().min(1),
  type: z.string().nullish(),
  attributes: z.looseObject({
    time: isoTime,
    processedAt: isoTime.nullish(),
    action: z.string().min(1),
    actor: atlassianActorSchema,
    context: z.array(entitySchema).nullish(),
    container: z.array(entitySchema).nullish(),
    location: atlassianLocationSchema.nullish(),
  }),
  links: linksSchema.nullish(),
  message: z.looseObject({ content: z.string().nullish(), format: z.string().nullish() }).nullish(),
});

/**
 * The page envelope is strict about what paging depends on (`data` is an array, `meta.next` a string or absent);
 * each element of `data` is validated on its own so one bad event never hides the others.
 */
export const pollingPageSchema = z.looseObject({
  data: z.array(z.unknown()),
  meta: z.looseObject({ next: z.string().nullish(), page_size: z.number().nullish() }).nullish(),
  links: z.looseObject({ self: z.string().nullish(), next: z.string().nullish() }).nullish(),
});

/**
 * `/event-actions` comes as one unpaginated response in the one real dump seen (`links: {}`, `meta: null`, about
 * 530 entries, reference §11), but the spec gives it the paged envelope of the other endpoints, so `meta.next`
 * (a cursor) and `links.next` (a URL carrying it) are read when present. Group names come in either field, in
 * any case (`"SECURITY POLICIES"`).
 */
export const eventActionsSchema = z.looseObject({
  meta: z.looseObject({ next: z.string().nullish() }).nullish(),
  links: z.looseObject({ next: z.string().nullish() }).nullish(),
  data: z.array(
    z.looseObject({
      id: z.string(),
      attributes: z
        .looseObject({
          displayName: z.string().nullish(),
          groupDisplayName: z.string().nullish(),
          groupDisplayNames: z.array(z.string()).nullish(),
        })
        .nullish(),
    })
  ),
});

export type AtlassianEvent = z.infer<typeof atlassianEventSchema>;
export type AtlassianActor = z.infer<typeof atlassianActorSchema>;
export type AtlassianEntity = z.infer<typeof entitySchema>;
export type PollingPage = z.infer<typeof pollingPageSchema>;
export type EventActions = z.infer<typeof eventActionsSchema>;
