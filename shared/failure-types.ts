/**
 * `ApplicationFailure.type` of every failure the activities throw: the one list of them. The workflow reacts to
 * the non-retryable ones; the retryable ones are transient faults that Temporal retries with backoff. A failure
 * that concerns a credential says whose in its details (`FailureDetails`), so the workflow never guesses it.
 */
export const FailureType = {
  /** Atlassian answered 401/403: the key is wrong, expired, revoked or lacks `read:events:admin`. */
  AtlassianAuthFailed: 'AtlassianAuthFailed',
  /** Atlassian answered 404 for the organization: wrong org ID, or a key of another org. */
  AtlassianOrgNotFound: 'AtlassianOrgNotFound',
  /** Atlassian refused the org's audit log: its plan lacks the entitlement (Guard Standard or higher needed). */
  AtlassianEntitlementMissing: 'AtlassianEntitlementMissing',
  /** Atlassian refused the cursor (400 `ADMIN-400-1`): the workflow restarts the stream from its watermark. */
  AtlassianCursorRefused: 'AtlassianCursorRefused',
  /** Atlassian refused the request as malformed (another 400). */
  AtlassianBadRequest: 'AtlassianBadRequest',
  /** Retryable: a 5xx from Atlassian. */
  AtlassianServerError: 'AtlassianServerError',
  /** Retryable: a body that is not JSON or not a documented page. */
  AtlassianInvalidResponse: 'AtlassianInvalidResponse',
  /** Retryable: reset, timeout, refused connection on the way to Atlassian. */
  AtlassianTransportError: 'AtlassianTransportError',
  /** Datadog answered 401/403: the API key is missing, wrong or revoked. */
  DatadogAuthFailed: 'DatadogAuthFailed',
  /** Retryable: Datadog refused even the small stub sent in place of a dead letter: something else is wrong. */
  DatadogRejectedLog: 'DatadogRejectedLog',
  /** Retryable: a 5xx, 408 or 429 from the intake. */
  DatadogUnavailable: 'DatadogUnavailable',
  /** Retryable: reset, timeout, refused connection on the way to Datadog. */
  DatadogTransportError: 'DatadogTransportError',
  /** Retryable: a dead letter could not be written to the worker's store; no stub is sent until it is kept. */
  DeadLetterWriteError: 'DeadLetterWriteError',
  /** A stored dead letter cannot be read back (corrupt file): the resend fails, naming the file. */
  DeadLetterUnreadableError: 'DeadLetterUnreadableError',
  /** A credential reference could not be resolved on the worker (variable unset or not allowed, file unreadable). */
  CredentialUnavailable: 'CredentialUnavailable',
  /** The worker that read a page no longer holds it (restarted, or let it go): the workflow polls it again. */
  PageNotStored: 'PageNotStored',
  /**
   * Set by the workflow, never thrown: map or ship did not start on the worker that holds the page (its own task
   * queue has no poller any more; the process is gone). The workflow polls the page again.
   */
  PageWorkerGone: 'PageWorkerGone',
  /** Set by the workflow, never thrown: no worker took a poll from the org's pace-group queue (AUDIT_PACE_GROUPS unset). */
  PaceGroupUnserved: 'PaceGroupUnserved',
} as const;
export type FailureType = (typeof FailureType)[keyof typeof FailureType];

export const CredentialOwner = { Atlassian: 'atlassian', Datadog: 'datadog' } as const;
export type CredentialOwner = (typeof CredentialOwner)[keyof typeof CredentialOwner];

/** `details[0]` of a credential failure. */
export interface FailureDetails {
  owner: CredentialOwner;
}

/** Failures that no retry can fix: the workflow holds its cursor and waits for `rotate`. */
export const credentialFailureTypes: ReadonlySet<string> = new Set<FailureType>([
  FailureType.AtlassianAuthFailed,
  FailureType.AtlassianOrgNotFound,
  FailureType.DatadogAuthFailed,
  FailureType.CredentialUnavailable,
]);

/** The page a map or ship needed is gone with its worker: nothing was lost, the page is read again. */
export const pageLostFailureTypes: ReadonlySet<string> = new Set<FailureType>([FailureType.PageNotStored, FailureType.PageWorkerGone]);

/** Whose credential a failure's details name; undefined when they name none. */
export function credentialOwnerIn(details: readonly unknown[] | undefined): CredentialOwner | undefined {
  const owner = (details?.[0] as Partial<FailureDetails> | undefined)?.owner;
  return owner === CredentialOwner.Atlassian || owner === CredentialOwner.Datadog ? owner : undefined;
}
