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
  const actions = await deps.actionCatalogues.get(input.orgId, input.atlassianCredential);
  return mapPolledEvents(input.events, { orgId: input.orgId, origin: input.origin, actions, now: deps.now() });
}
