/**
 * What can go wrong talking to Datadog's configuration APIs, one class per thing the operator does about it. No
 * message ever holds a key: the keys only travel in request headers, and any text Datadog sends back is scrubbed of
 * them before it becomes part of a message.
 */

/** Datadog answered with an error status. */
export class DatadogApiError extends Error {
  override readonly name: string = 'DatadogApiError';

  constructor(
    /** `METHOD /path` of the request that failed. */
    readonly request: string,
    readonly status: number,
    message: string
  ) {
    super(message);
  }
}

/** 401 or 403: wrong key, keys of different organizations or sites, or an application key lacking a permission. */
export class DatadogAccessDeniedError extends DatadogApiError {
  override readonly name = 'DatadogAccessDeniedError';
}

/** No answer at all: DNS, connection refused, TLS, timeout. */
export class DatadogUnreachableError extends Error {
  override readonly name = 'DatadogUnreachableError';
}

/** A success status with a body apply cannot use: a proxy page, or an API change. */
export class DatadogUnexpectedResponseError extends Error {
  override readonly name = 'DatadogUnexpectedResponseError';
}
