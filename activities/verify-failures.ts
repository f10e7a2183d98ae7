/**
 * `ApplicationFailure.type` of the failures the verify activities throw beside the collector's own (FailureType in
 * shared/failure-types.ts, whose Atlassian and transport failures they share). The non-retryable ones end the verify
 * run with the message, which names the cause and never a key.
 */
export const VerifyFailureType = {
  /** The worker cannot query Datadog: no application key (DD_APP_KEY) in its environment, or an unusable API base URL. */
  DatadogQueryNotConfigured: 'DatadogQueryNotConfigured',
  /** Datadog refused the keys for its Logs query APIs (401/403). */
  DatadogQueryAccessDenied: 'DatadogQueryAccessDenied',
  /** Datadog refused a query as malformed (400). */
  DatadogQueryRejected: 'DatadogQueryRejected',
  /** Retryable: a 5xx or 408 from a query API, or a body that is not its documented answer. */
  DatadogQueryUnavailable: 'DatadogQueryUnavailable',
  /** Atlassian's stream kept returning the cursor it was asked with: the range cannot be read to its end. */
  AtlassianStreamStuck: 'AtlassianStreamStuck',
} as const;
export type VerifyFailureType = (typeof VerifyFailureType)[keyof typeof VerifyFailureType];
