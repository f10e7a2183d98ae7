import { Context } from '@temporalio/activity';
import type { CredentialRef } from '../shared/credential-ref';
import type { DatadogLog } from './datadog-log';
import { mapPolledEvents } from './map-event';
import type { PolledEvent } from './polled-event';
import type { ActionCatalogueCache } from './action-catalogue-cache';
import type { PageStore, StoredPage } from './page-store';
import { eventKey } from './polled-event';

export interface MapEventsInput {
  orgId: string;
  origin: 'tail' | 'backfill';
  events: PolledEvent[];
  /** Used to fetch Atlassian's action catalogue (display names); mapping never fails for lack of it. */
  atlassianCredential: CredentialRef;
}

export interface MapDependencies {
  actionCatalogues: ActionCatalogueCache;
  now: () => number;
}

/** Atlassian events → Datadog logs. An activity, so the mapping can change without breaking running workflows. */
export async function mapEvents(deps: MapDependencies, input: MapEventsInput): Promise<DatadogLog[]> {
  // The catalogue waits at most its fetch budget; a cancelled activity (timed out, or its workflow cancelled) stops
  // waiting at once and maps with the built-in phrasing, a result Temporal then discards.
  const { cancellationSignal } = Context.current();
  const actions = await deps.actionCatalogues.get(input.orgId, input.atlassianCredential, cancellationSignal);
  return mapPolledEvents(input.events, { orgId: input.orgId, origin: input.origin, actions, now: deps.now() });
}

export interface MapPageInput {
  orgId: string;
  origin: 'tail' | 'backfill';
  /** A page a poll kept in this worker's page store. */
  page: StoredPage;
  /** Dedupe keys of the page's events the workflow delivered before: they are not mapped again. */
  skipKeys: string[];
  atlassianCredential: CredentialRef;
}

export interface MapPageResult {
  /** Logs made and kept in the page store for the ship. */
  logs: number;
  /** Of which from elements that were not a documented event (shipped marked). */
  malformed: number;
}

/**
 * The map activity: a stored page's events become its logs, in the same store; only counts enter history. A page
 * mapped already (an attempt whose completion did not reach the server) is answered from its logs.
 */
export async function mapPage(deps: MapDependencies & { pageStore: PageStore }, input: MapPageInput): Promise<MapPageResult> {
  const done = deps.pageStore.mapped(input.orgId, input.page.ref);
  if (done !== undefined) return { logs: done.logs.length, malformed: done.malformed };
  const stored = deps.pageStore.events(input.orgId, input.page.ref);
  // Keys are hashed only when the workflow named repeats: most pages have none.
  const skip = new Set(input.skipKeys);
  const events = skip.size === 0 ? stored : stored.filter((e) => !skip.has(eventKey(e.id)));
  const logs = await mapEvents(deps, { orgId: input.orgId, origin: input.origin, events, atlassianCredential: input.atlassianCredential });
  const malformed = events.filter((e) => e.kind === 'malformed').length;
  deps.pageStore.putLogs(input.orgId, input.page.ref, { logs, malformed });
  return { logs: logs.length, malformed };
}
