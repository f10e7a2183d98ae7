/**
 * Real mode's first step: one Atlassian request and one Datadog key validation, before the org starts, so that a
 * newcomer with a wrong key reads which one it is instead of finding an org held in awaiting-credentials later.
 * Reads the keys as the worker would (the same references and credential policy); prints no key.
 */
import type { Dispatcher } from 'undici';
import { request } from 'undici';
import type { CredentialPolicy } from '../../activities/credentials';
import { resolveCredential } from '../../activities/credentials';
import { DEFAULT_ATLASSIAN_CREDENTIAL, DEFAULT_DATADOG_CREDENTIAL } from '../../shared/credential-ref';
import { CredentialOwner } from '../../shared/failure-types';

/** A key that the service refused, or that cannot be read: the message names which and what to do. */
export class KeyCheckError extends Error {
  override readonly name = 'KeyCheckError';
}

export interface KeyCheckOptions {
  orgId: string;
  atlassianBaseUrl: string;
  /** Datadog's API base (`https://api.<site>`), whose `/api/v1/validate` checks the key; undefined skips the check. */
  datadogApiBaseUrl?: string;
  dispatcher: Dispatcher;
  env: NodeJS.ProcessEnv;
  credentialPolicy: CredentialPolicy;
}

/** Resolves when both keys work; a wrong one is a KeyCheckError. Returns what could not be checked, if anything. */
export async function checkRealKeys(options: KeyCheckOptions): Promise<string[]> {
  const notChecked: string[] = [];
  const atlassianKey = await readKey(DEFAULT_ATLASSIAN_CREDENTIAL, CredentialOwner.Atlassian, options);
  const url = new URL(`admin/v1/orgs/${encodeURIComponent(options.orgId)}/events-stream`, options.atlassianBaseUrl.replace(/\/?$/, '/'));
  url.searchParams.set('limit', '1');
  const atlassian = await statusOf(url, { authorization: `Bearer ${atlassianKey}`, accept: 'application/json' }, options.dispatcher);
  if (atlassian.status === 401 || atlassian.status === 403) {
    throw new KeyCheckError(
      /entitlement validation failed/i.test(atlassian.body)
        ? `Atlassian refused the audit log of org ${options.orgId}: its plan needs Atlassian Guard Standard or higher, or Cloud Enterprise`
        : `Atlassian refused ATLASSIAN_API_KEY (${atlassian.status}): it must be an organization API key of org ${options.orgId} with read:events:admin, not expired`
    );
  }
  if (atlassian.status === 404) throw new KeyCheckError(`Atlassian does not know org ${options.orgId} (404): check ATLASSIAN_ORG_ID, and that the key belongs to it`);
  if (atlassian.status !== 200) notChecked.push(`Atlassian answered ${atlassian.status}; the collector will retry`);

  if (options.datadogApiBaseUrl === undefined) {
    notChecked.push('DD_API_KEY (DD_LOGS_INTAKE_URL names a custom intake)');
    return notChecked;
  }
  const datadogKey = await readKey(DEFAULT_DATADOG_CREDENTIAL, CredentialOwner.Datadog, options);
  const validate = new URL('api/v1/validate', options.datadogApiBaseUrl.replace(/\/?$/, '/'));
  const datadog = await statusOf(validate, { 'dd-api-key': datadogKey, accept: 'application/json' }, options.dispatcher);
  if (datadog.status === 401 || datadog.status === 403) {
    throw new KeyCheckError(`Datadog refused DD_API_KEY (${datadog.status}) at ${validate.host}: check the key and DD_SITE`);
  }
  if (datadog.status !== 200) notChecked.push(`Datadog's key validation answered ${datadog.status}`);
  return notChecked;
}

async function readKey(ref: string, owner: CredentialOwner, options: KeyCheckOptions): Promise<string> {
  try {
    return await resolveCredential({ ref, version: 1 }, owner, options.env, options.credentialPolicy);
  } catch (err) {
    throw new KeyCheckError((err as Error).message);
  }
}

async function statusOf(url: URL, headers: Record<string, string>, dispatcher: Dispatcher): Promise<{ status: number; body: string }> {
  try {
    const response = await request(url, { dispatcher, headers });
    return { status: response.statusCode, body: (await response.body.text()).slice(0, 2_000) };
  } catch (err) {
    // The message names the host only: undici errors may carry the URL's query.
    throw new KeyCheckError(`${url.host} cannot be reached (${(err as { code?: string }).code ?? (err as Error).name})`);
  }
}
