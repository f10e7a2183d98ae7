/**
 * `ApplicationFailure.type` values the activities throw and the workflow reacts to. Anything not listed here is
 * a transient fault that Temporal retries with backoff.
 */
export const FailureType = {
  /** Atlassian answered 401/403: the key is wrong, expired, revoked or lacks `read:events:admin`. */
  AtlassianAuthFailed: 'AtlassianAuthFailed',
  /** Atlassian answered 404 for the organization: wrong org ID, or a key of another org. */
  AtlassianOrgNotFound: 'AtlassianOrgNotFound',
  /** Atlassian refused the request as malformed (400), e.g. a cursor it no longer accepts. */
  AtlassianBadRequest: 'AtlassianBadRequest',
  /** Datadog answered 401/403: the API key is missing, wrong or revoked. */
  DatadogAuthFailed: 'DatadogAuthFailed',
  /** A credential reference could not be resolved on the worker (variable unset, file unreadable). */
  CredentialUnavailable: 'CredentialUnavailable',
} as const;
export type FailureType = (typeof FailureType)[keyof typeof FailureType];

/** Failures that no retry can fix: the workflow holds its cursor and waits for `rotate`. */
export const credentialFailureTypes: ReadonlySet<string> = new Set([
  FailureType.AtlassianAuthFailed,
  FailureType.AtlassianOrgNotFound,
  FailureType.DatadogAuthFailed,
  FailureType.CredentialUnavailable,
]);
