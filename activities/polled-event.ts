import { createHash } from 'node:crypto';
import type { AtlassianEvent } from './atlassian-schema';

/**
 * One element of an `events-stream` page as the poll activity hands it on. An element that fails validation is
 * kept with its raw content and the reason, so the map activity can ship it marked rather than drop it; so is an
 * event too large for one Datadog intake request, whose `raw` is then a preview (ID, times, action and the start of
 * its JSON) and whose `problem` says so. `id` identifies it for dedupe: Atlassian's event ID when the element has one,
 * else `malformed:<hash of the content>:<occurrence among identical elements on its page>`.
 */
export type PolledEvent =
  | { readonly kind: 'event'; readonly id: string; readonly event: AtlassianEvent }
  | { readonly kind: 'malformed'; readonly id: string; readonly raw: unknown; readonly problem: string };

/**
 * The dedupe key the workflow keeps for an event instead of its ID: 72 bits of SHA-256 of the ID, 12 characters.
 * The workflow compares a page's keys with the keys of the last `recentIdsLimit` events it delivered; a new event
 * would be taken for one of 1,000 recent ones with a chance of 1,000 / 2^72 ≈ 2·10⁻¹⁹.
 */
export function eventKey(id: string): string {
  return createHash('sha256').update(id, 'utf8').digest('base64url').slice(0, 12);
}
