/**
 * The activities of the poll → map → ship pipeline, built from their dependencies so tests can inject HTTP
 * endpoints, clocks and environments. Workflows import only the type.
 */
import type { Dispatcher } from 'undici';
import { ActionCatalogueCache } from './action-catalogue-cache';
import type { CredentialPolicy } from './credentials';
import { mapPage, type MapPageInput } from './map';
import type { PageStore } from './page-store';
import { pollEventsPage, type PollInput } from './poll';
import { resendDeadLetters, shipPage, type ShipPageInput } from './ship';
import { DeadLetterStore, type ResendDeadLettersInput } from './dead-letters';
import { withHeartbeats } from './heartbeat-ticker';
import { createVerifyActivities } from './verify-activities';

export interface ActivityDependencies {
  atlassianBaseUrl: string;
  datadogIntakeUrl: string;
  dispatcher: Dispatcher;
  /** Where `env:NAME` credential references are resolved. @default process.env */
  env?: NodeJS.ProcessEnv;
  /** Which credential references may be resolved (variables per service, secrets directory). @default DEFAULT_CREDENTIAL_POLICY */
  credentialPolicy?: CredentialPolicy;
  /** @default Date.now */
  now?: () => number;
  /** Where logs Datadog keeps refusing are kept (relative to the working directory). @default '.data/dead-letters' */
  deadLetterDir?: string;
  /** This worker process's pages between poll and ship, and the task queue that reaches them. */
  pageStore: PageStore;
}

export function createActivities(deps: ActivityDependencies) {
  const env = deps.env ?? process.env;
  const now = deps.now ?? Date.now;
  const http = { dispatcher: deps.dispatcher, env, now, credentialPolicy: deps.credentialPolicy };
  const actionCatalogues = new ActionCatalogueCache({ atlassianBaseUrl: deps.atlassianBaseUrl, ...http });
  const deadLetters = new DeadLetterStore(deps.deadLetterDir);
  const ship = { datadogIntakeUrl: deps.datadogIntakeUrl, deadLetters, ...http };
  const { pageStore } = deps;
  return {
    pollEventsPage: (input: PollInput) =>
      withHeartbeats(() => pollEventsPage({ atlassianBaseUrl: deps.atlassianBaseUrl, pageStore, ...http }, input)),
    mapEvents: (input: MapPageInput) => mapPage({ actionCatalogues, now, pageStore }, input),
    shipLogs: (input: ShipPageInput) => shipPage({ ...ship, pageStore }, input),
    resendDeadLetters: (input: ResendDeadLettersInput) => resendDeadLetters(ship, input),
    ...createVerifyActivities({ poll: { atlassianBaseUrl: deps.atlassianBaseUrl, ...http }, datadog: http, map: { actionCatalogues, now }, ship }),
  };
}

export type Activities = ReturnType<typeof createActivities>;
