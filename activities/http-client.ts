import { ApplicationFailure } from '@temporalio/common';
import { Agent } from 'undici';
import { FailureType } from '../shared/failure-types';

export interface HttpAgentOptions {
  /** @default 10_000 */
  connectTimeoutMs?: number;
  /** Time to wait for the response headers: a response that never comes ends here and is retried. @default 30_000 */
  headersTimeoutMs?: number;
  /** Longest silence while the body streams. @default 30_000 */
  bodyTimeoutMs?: number;
  /** @default 30_000 */
  keepAliveTimeoutMs?: number;
}

/** One keep-alive pool per worker, shared by every org's activities. */
export function createHttpAgent(options: HttpAgentOptions = {}): Agent {
  const { connectTimeoutMs = 10_000, headersTimeoutMs = 30_000, bodyTimeoutMs = 30_000, keepAliveTimeoutMs = 30_000 } =
    options;
  return new Agent({
    connect: { timeout: connectTimeoutMs },
    headersTimeout: headersTimeoutMs,
    bodyTimeout: bodyTimeoutMs,
    keepAliveTimeout: keepAliveTimeoutMs,
  });
}

/**
 * A transport fault (reset, timeout, refused connection) as a retryable failure. The message names the service
 * and the error code only: raw undici errors can carry URLs with query strings, and request options carry keys.
 */
export function transportFailure(service: 'Atlassian' | 'Datadog', err: unknown): ApplicationFailure {
  const code = (err as { code?: unknown })?.code;
  const name = err instanceof Error ? err.name : 'Error';
  const label = typeof code === 'string' ? code : name;
  const type = service === 'Atlassian' ? FailureType.AtlassianTransportError : FailureType.DatadogTransportError;
  return ApplicationFailure.create({ type, message: `${service} request failed: ${label}` });
}

/** The part of a URL that is safe to show: origin and path, without query (cursors) or credentials. */
export function safeUrl(url: URL): string {
  return `${url.origin}${url.pathname}`;
}
