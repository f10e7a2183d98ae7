/**
 * Which keys and which Atlassian budget a verify run uses. Pure: the workflow decides from the org's status (read by
 * the `verifyOrgSettings` activity) and the run's input.
 */
import { DEFAULT_ATLASSIAN_CREDENTIAL, DEFAULT_DATADOG_CREDENTIAL, type CredentialRef } from '../credential-ref';
import type { VerifyRequest } from './verify-input';

/** What the org's collector says of itself, when it answers its status query. */
export interface OrgVerifySettings {
  atlassian: CredentialRef;
  datadog: CredentialRef;
  /** The collector's own cap on Atlassian requests per minute, tail and backfill together. */
  maxRequestsPerMinute: number;
  /** Events per `events-stream` page, as the collector reads them (smaller when its pages had to shrink). */
  pageLimit: number;
}

export interface VerifySettings {
  atlassian: CredentialRef;
  datadog: CredentialRef;
  /** The verify's own cap on Atlassian requests per minute. */
  maxRequestsPerMinute: number;
  pageLimit: number;
  /** Where the keys and the budget came from. */
  source: 'org-status' | 'defaults';
}

/**
 * The verify's share of the org's Atlassian budget: a fifth. It runs beside the org's collector, which paces itself
 * to its own cap (50 requests/minute by default, at the lowest limit a peer documents for `events-stream`), so the
 * two together stay within Atlassian's limits as long as the collector leaves a fifth of its cap unused, which an
 * idle tail does by far; when both are busy, Atlassian's `X-RateLimit-Remaining` holds the verify back first (see
 * activities/verify-atlassian.ts).
 */
export const VERIFY_SHARE_OF_ORG_BUDGET = 0.2;

/** A fifth of the collector's default cap (START_DEFAULTS in client/org-control.ts), for an org that does not answer. */
export const VERIFY_DEFAULT_REQUESTS_PER_MINUTE = 10;

/** The documented default page size of `events-stream`. */
const DEFAULT_PAGE_LIMIT = 200;

const ref = (value: string): CredentialRef => ({ ref: value, version: 1 });

export function verifySettings(request: VerifyRequest, org: OrgVerifySettings | null): VerifySettings {
  const budget = org ? Math.max(1, Math.floor(org.maxRequestsPerMinute * VERIFY_SHARE_OF_ORG_BUDGET)) : VERIFY_DEFAULT_REQUESTS_PER_MINUTE;
  return {
    atlassian: request.atlassianKey ? ref(request.atlassianKey) : (org?.atlassian ?? ref(DEFAULT_ATLASSIAN_CREDENTIAL)),
    datadog: request.datadogKey ? ref(request.datadogKey) : (org?.datadog ?? ref(DEFAULT_DATADOG_CREDENTIAL)),
    maxRequestsPerMinute: request.maxRequestsPerMinute ?? budget,
    pageLimit: org?.pageLimit ?? DEFAULT_PAGE_LIMIT,
    source: org ? 'org-status' : 'defaults',
  };
}
