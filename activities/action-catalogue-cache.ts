import { log } from '@temporalio/activity';
import type { Dispatcher } from 'undici';
import { request } from 'undici';
import type { CredentialRef } from '../shared/credential-ref';
import { actionCatalogueFrom, type ActionCatalogue } from './action-catalogue';
import { type EventActions, eventActionsSchema } from './atlassian-schema';
import { recordAtlassianRequest } from './activity-metrics';
import { resolveCredential, type CredentialPolicy } from './credentials';

export interface ActionCatalogueCacheOptions {
  atlassianBaseUrl: string;
  dispatcher: Dispatcher;
  env: NodeJS.ProcessEnv;
  /** @default DEFAULT_CREDENTIAL_POLICY */
  credentialPolicy?: CredentialPolicy;
  now: () => number;
  /** @default 6 hours */
  ttlMs?: number;
  /** After a failed fetch, mapping goes on with our own phrasing; the fetch is tried again after this. @default 5 minutes */
  retryAfterFailureMs?: number;
  /**
   * Longest a fetch may take, every page included. Maps wait for it, so it must stay well inside the map's 20 s
   * local-activity timeout; when it runs out the request is aborted and counts as a failed fetch.
   * @default 3 seconds
   */
  fetchBudgetMs?: number;
}

/** Why the catalogue could not be had; mapping goes on without it. */
export class ActionCatalogueError extends Error {
  override readonly name: string = 'ActionCatalogueError';
}

/**
 * The fetch was aborted because every map waiting for it was cancelled: nothing is wrong with the catalogue, so this
 * is not remembered as a failure and the next map fetches again.
 */
export class ActionCatalogueAbandonedError extends ActionCatalogueError {
  override readonly name = 'ActionCatalogueAbandonedError';
}

/** A real catalogue fits in one response (about 530 entries); more pages than this means the paging does not end. */
const MAX_PAGES = 50;

interface InFlightFetch {
  /** Never rejects: undefined when the fetch failed. */
  readonly catalogue: Promise<ActionCatalogue | undefined>;
  readonly controller: AbortController;
  waiters: number;
}

/**
 * Atlassian's `/event-actions` catalogue (action keys with display names), fetched once per org and cached in the
 * worker. It only enriches messages: a failure to fetch it never holds up delivery. A slow Atlassian holds a map
 * up for at most `fetchBudgetMs`, and only one fetch per org is under way at a time: concurrent maps of an org wait
 * for the same one.
 */
export class ActionCatalogueCache {
  private readonly entries = new Map<string, { actions: ActionCatalogue | undefined; expiresAt: number }>();
  private readonly inFlight = new Map<string, InFlightFetch>();

  constructor(private readonly options: ActionCatalogueCacheOptions) {}

  /**
   * The org's catalogue, or undefined when it cannot be had within the budget. `signal` is the caller's own
   * cancellation (the map activity's): it ends this caller's wait at once, and the shared request is aborted when
   * no caller is left waiting for it. A fetch started by one caller uses that caller's credential for all.
   */
  async get(orgId: string, credential: CredentialRef, signal?: AbortSignal): Promise<ActionCatalogue | undefined> {
    const cached = this.entries.get(orgId);
    if (cached && cached.expiresAt > this.options.now()) return cached.actions;
    if (signal?.aborted) return undefined;
    const fetch = this.inFlight.get(orgId) ?? this.startFetch(orgId, credential);
    fetch.waiters += 1;
    try {
      // A cancelled caller stops waiting at once; the fetch goes on for any other.
      return await (signal ? orOnAbort(fetch.catalogue, signal, () => undefined) : fetch.catalogue);
    } finally {
      fetch.waiters -= 1;
      // Still in flight with nobody waiting: every waiter was cancelled.
      if (fetch.waiters === 0 && this.inFlight.get(orgId) === fetch) {
        fetch.controller.abort(new ActionCatalogueAbandonedError('every map waiting for the catalogue was cancelled'));
      }
    }
  }

  private startFetch(orgId: string, credential: CredentialRef): InFlightFetch {
    const { ttlMs = 6 * 3_600_000, retryAfterFailureMs = 5 * 60_000, fetchBudgetMs = 3_000 } = this.options;
    const controller = new AbortController();
    const budget = setTimeout(
      () => controller.abort(new ActionCatalogueError(`event-actions gave no catalogue within ${fetchBudgetMs} ms`)),
      fetchBudgetMs
    );
    // The abort also rejects a step that does not listen to the signal (resolving a `file:` credential), so the
    // budget holds whatever the fetch is doing.
    const aborted = () => Promise.reject<never>(controller.signal.reason);
    const catalogue = orOnAbort(this.fetch(orgId, credential, controller.signal), controller.signal, aborted)
      .then(
        (actions) => {
          this.entries.set(orgId, { actions, expiresAt: this.options.now() + ttlMs });
          return actions;
        },
        (err: unknown) => {
          if (err instanceof ActionCatalogueAbandonedError) return undefined;
          log.warn('Atlassian action catalogue unavailable; using built-in phrasing', {
            orgId,
            reason: err instanceof Error ? err.message : 'unknown',
          });
          this.entries.set(orgId, { actions: undefined, expiresAt: this.options.now() + retryAfterFailureMs });
          return undefined;
        }
      )
      .finally(() => {
        clearTimeout(budget);
        this.inFlight.delete(orgId);
      });
    const fetch: InFlightFetch = { catalogue, controller, waiters: 0 };
    this.inFlight.set(orgId, fetch);
    return fetch;
  }

  /** Every page of the catalogue, following `meta.next` / `links.next` when the answer is paged. */
  private async fetch(orgId: string, credential: CredentialRef, signal: AbortSignal): Promise<ActionCatalogue> {
    const apiKey = await resolveCredential(credential, 'atlassian', this.options.env, this.options.credentialPolicy);
    const base = new URL(this.options.atlassianBaseUrl.replace(/\/?$/, '/'));
    const data: EventActions['data'] = [];
    // The first page has no query; a next page asking for one already read means the paging goes round in a circle.
    const queriesRead = new Set<string>(['']);
    let query = '';
    for (let pages = 1; ; pages += 1) {
      const page = await this.fetchPage(orgId, apiKey, base, query, signal);
      data.push(...page.data);
      const next = nextPageQuery(page, base);
      if (next === undefined) return actionCatalogueFrom({ data });
      if (queriesRead.has(next) || pages >= MAX_PAGES) {
        throw new ActionCatalogueError(`event-actions paging did not end after ${pages} pages`);
      }
      queriesRead.add(next);
      query = next;
    }
  }

  private async fetchPage(
    orgId: string,
    apiKey: string,
    base: URL,
    query: string,
    signal: AbortSignal
  ): Promise<EventActions> {
    const url = new URL(`admin/v1/orgs/${encodeURIComponent(orgId)}/event-actions`, base);
    url.search = query;
    const response = await request(url, {
      dispatcher: this.options.dispatcher,
      headers: { authorization: `Bearer ${apiKey}`, accept: 'application/json' },
      signal,
    }).catch((err: unknown) => {
      recordAtlassianRequest(orgId, 'event-actions', 'transport-error');
      throw err;
    });
    recordAtlassianRequest(orgId, 'event-actions', response.statusCode);
    if (response.statusCode !== 200) {
      await response.body.dump();
      throw new ActionCatalogueError(`event-actions answered ${response.statusCode}`);
    }
    const parsed = eventActionsSchema.safeParse(await response.body.json());
    if (!parsed.success) throw new ActionCatalogueError('event-actions returned an unexpected shape');
    return parsed.data;
  }
}

/**
 * The query of the page after `page`, or undefined on the last (or only) page: `meta.next` is a cursor, `links.next`
 * a URL carrying one. Only the query of `links.next` is used, never its host, so the API key goes to the configured
 * Atlassian URL and nowhere else.
 */
function nextPageQuery(page: EventActions, base: URL): string | undefined {
  if (page.meta?.next) return new URLSearchParams({ cursor: page.meta.next }).toString();
  if (page.links?.next) return new URL(page.links.next, base).searchParams.toString();
  return undefined;
}

/** `work`, or what `aborted` gives as soon as `signal` aborts; the work itself is not stopped by this. */
function orOnAbort<T, A>(work: Promise<T>, signal: AbortSignal, aborted: () => A | PromiseLike<A>): Promise<T | A> {
  return new Promise((resolve, reject) => {
    const onAbort = () => resolve(aborted());
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
