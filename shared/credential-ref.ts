/**
 * A credential reference names where a secret lives, never the secret itself: `env:NAME` (an environment
 * variable of the worker) or `file:/absolute/path` (a file in the worker's secrets directory, e.g. a mounted secret).
 * Only references travel through Temporal; activities resolve them when they run, under the worker's policy
 * (activities/credentials.ts): which variables each service may name, which files may be read.
 */
export const CREDENTIAL_REF_PATTERN = /^(env:[A-Za-z_][A-Za-z0-9_]*|file:\/[^\0]+)$/;

export interface CredentialRef {
  /** `env:NAME` or `file:/path`. */
  readonly ref: string;
  /** Increases with every rotation so the workflow can tell a new credential from the one that failed. */
  readonly version: number;
}

export const DEFAULT_ATLASSIAN_CREDENTIAL = 'env:ATLASSIAN_API_KEY';
export const DEFAULT_DATADOG_CREDENTIAL = 'env:DD_API_KEY';

export function isCredentialRef(value: string): boolean {
  return CREDENTIAL_REF_PATTERN.test(value);
}
