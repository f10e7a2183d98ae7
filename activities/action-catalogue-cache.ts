import { log } from '@temporalio/activity';
import type { Dispatcher } from 'undici';
import { request } from 'undici';
import type { CredentialRef } from '../shared/credential-ref';
import { actionCatalogueFrom, type ActionCatalogue } from './action-catalogue';
import { eventActionsSchema } from './atlassian-schema';
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
}

/**
 * Atlassian's `/event-actions` catalogue (action keys with display names), fetched once per org and cached in the
 * worker. It only enriches messages: a failure to fetch it never holds up delivery.
 */
export class ActionCatalogueCache {
  private readonly entries = new Map<string, { actions: ActionCatalogue | undefined; expiresAt: number }>();

  constructor(private readonly options: ActionCatalogueCacheOptions) {}

  async get(orgId: string, credential: CredentialRef): Promise<ActionCatalogue | undefined> {
    const { now, ttlMs = 6 * 3_600_000, retryAfterFailureMs = 5 * 60_000 } = this.options;
    const cached = this.entries.get(orgId);
    if (cached && cached.expiresAt > now()) return cached.actions;
    const actions = await this.fetch(orgId, credential).catch((err: unknown) => {
      log.warn('Atlassian action catalogue unavailable; using built-in phrasing', {
        orgId,
        reason: err instanceof Error ? err.message : 'unknown',
      });
      return undefined;
    });
    this.entries.set(orgId, { actions, expiresAt: now() + (actions ? ttlMs : retryAfterFailureMs) });
    return actions;
  }

  private async fetch(orgId: string, credential: CredentialRef): Promise<ActionCatalogue> {
    const apiKey = await resolveCredential(credential, 'atlassian', this.options.env, this.options.credentialPolicy);
    const base = this.options.atlassianBaseUrl.replace(/\/?$/, '/');
    const url = new URL(`admin/v1/orgs/${encodeURIComponent(orgId)}/event-actions`, base);
    const response = await request(url, {
      dispatcher: this.options.dispatcher,
      headers: { authorization: `Bearer ${apiKey}`, accept: 'application/json' },
    }).catch((err: unknown) => {
      recordAtlassianRequest(orgId, 'event-actions', 'transport-error');
      throw err;
    });
    recordAtlassianRequest(orgId, 'event-actions', response.statusCode);
    if (response.statusCode !== 200) {
      await response.body.dump();
      throw new Error(`event-actions answered ${response.statusCode}`);
    }
    const parsed = eventActionsSchema.safeParse(await response.body.json());
    if (!parsed.success) throw new Error('event-actions returned an unexpected shape');
    return actionCatalogueFrom(parsed.data);
  }
}
