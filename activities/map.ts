import { Context } from '@temporalio/activity';
import type { CredentialRef } from '../shared/credential-ref';
import type { DatadogLog } from './datadog-log';
import { mapPolledEvents } from './map-event';
import type { PolledEvent } from './polled-event';
import type { ActionCatalogueCache } from './action-catalogue-cache';

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
