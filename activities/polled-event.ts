import type { AtlassianEvent } from './atlassian-schema';

/**
 * One element of an `events-stream` page as the poll activity hands it on. An element that fails validation is
 * kept with its raw content and the reason, so the map activity can ship it marked rather than drop it; so is an
 * event too large to pass through a workflow's history, whose `raw` is then a preview (ID, times, action and the
 * start of its JSON) and whose `problem` says so. `id` is the dedupe key: Atlassian's event ID when the element has
 * one, else `malformed:<hash of the content>:<occurrence among identical elements on its page>`.
 */
export type PolledEvent =
  | { readonly kind: 'event'; readonly id: string; readonly event: AtlassianEvent }
  | { readonly kind: 'malformed'; readonly id: string; readonly raw: unknown; readonly problem: string };
