import type { AtlassianEvent } from './atlassian-schema';

/**
 * One element of an `events-stream` page as the poll activity hands it on. An element that fails validation is
 * kept with its raw content and the reason, so the map activity can ship it marked rather than drop it.
 */
export type PolledEvent =
  | { readonly kind: 'event'; readonly id: string; readonly event: AtlassianEvent }
  | { readonly kind: 'malformed'; readonly id: string; readonly raw: unknown; readonly problem: string };
