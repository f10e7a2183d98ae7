import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Dispatcher } from 'undici';
import { request } from 'undici';
import type { CredentialRef } from '../shared/credential-ref';
import { resolveCredential } from './credentials';
import type { DatadogLog } from './datadog-log';
import { CredentialOwner, FailureType, type FailureDetails } from '../shared/failure-types';
import { withHeartbeats } from './heartbeat-ticker';
import { transportFailure } from './http-client';
import { recordDatadogRequest } from './activity-metrics';

const gzipAsync = promisify(gzip);

/** Datadog Logs intake v2 limits (reference datadog-logs.md §1.4). */
export const DATADOG_INTAKE_LIMITS = {
  maxEntriesPerRequest: 1000,
  /** 5 MB uncompressed is the documented cap; the margin covers the array's commas and brackets and headers. */
  maxRequestBytes: 4_250_000,
  /** Logs dated more than 18 h in the past are dropped after a 202; keep a margin for clocks and retries. */
  maxAgeMs: 17 * 3_600_000,
  /** Up to 2 h in the future is accepted. */
  maxFutureMs: 3_600_000,
} as const;

export interface ShipLogsInput {
  orgId: string;
  credential: CredentialRef;
  logs: DatadogLog[];
}

export interface ShipLogsResult {
  accepted: number;
  requests: number;
  /** Logs whose own time was outside Datadog's window and that were dated at ingest instead. */
  redated: number;
}

export interface ShipDependencies {
  datadogIntakeUrl: string;
  dispatcher: Dispatcher;
  env: NodeJS.ProcessEnv;
  now: () => number;
}

interface ShipProgress {
  /** Logs are sent in order, so what Datadog accepted is always a prefix of the input. */
  accepted: number;
}

/**
 * POSTs logs to the Datadog intake, gzip-compressed, in requests within Datadog's limits. Progress is
 * heartbeated, so a retried attempt starts after the prefix already accepted instead of resending it.
 * A request refused as too large or malformed (413/400) is split and retried; a single log that Datadog keeps
 * refusing fails the attempt (and is retried) rather than being dropped.
 */
export async function shipLogs(deps: ShipDependencies, input: ShipLogsInput): Promise<ShipLogsResult> {
  const apiKey = await resolveCredential(input.credential, 'datadog', deps.env);
  const context = Context.current();
  const resumed = (context.info.heartbeatDetails as ShipProgress | undefined)?.accepted ?? 0;
  const progress = { accepted: resumed, requests: 0, redated: 0 };

  const send = async (logs: DatadogLog[]): Promise<void> => {
    const now = deps.now();
    const dated = logs.map((log) => redateOutsideWindow(log, now));
    const body = await gzipAsync(JSON.stringify(dated));
    let response: Dispatcher.ResponseData;
    try {
      response = await request(deps.datadogIntakeUrl, {
        method: 'POST',
        dispatcher: deps.dispatcher,
        headers: {
          'content-type': 'application/json',
          'content-encoding': 'gzip',
          'dd-api-key': apiKey,
        },
        body,
        signal: context.cancellationSignal,
      });
      await response.body.dump();
    } catch (err) {
      recordDatadogRequest(input.orgId, 'transport-error');
      throw transportFailure('Datadog', err);
    }
    recordDatadogRequest(input.orgId, response.statusCode);
    progress.requests++;
    const status = response.statusCode;
    if (status >= 200 && status < 300) {
      progress.accepted += logs.length;
      progress.redated += dated.filter((log, i) => log !== logs[i]).length;
      context.heartbeat({ accepted: progress.accepted } satisfies ShipProgress);
      return;
    }
    if ((status === 400 || status === 413) && logs.length > 1) {
      const half = Math.ceil(logs.length / 2);
      await send(logs.slice(0, half));
      await send(logs.slice(half));
      return;
    }
    throw statusFailure(status, response.headers, logs);
  };

  await withHeartbeats(
    async () => {
      for (const chunk of chunkForIntake(input.logs.slice(resumed))) await send(chunk);
    },
    () => ({ accepted: progress.accepted }) satisfies ShipProgress
  );
  return { accepted: progress.accepted, requests: progress.requests, redated: progress.redated };
}

/** Splits logs into consecutive requests of at most 1000 entries and about 4.25 MB serialized. */
export function chunkForIntake(logs: DatadogLog[]): DatadogLog[][] {
  const chunks: DatadogLog[][] = [];
  let current: DatadogLog[] = [];
  let bytes = 2;
  for (const log of logs) {
    const size = Buffer.byteLength(JSON.stringify(log)) + 1;
    if (current.length > 0 && (current.length >= DATADOG_INTAKE_LIMITS.maxEntriesPerRequest || bytes + size > DATADOG_INTAKE_LIMITS.maxRequestBytes)) {
      chunks.push(current);
      current = [];
      bytes = 2;
    }
    current.push(log);
    bytes += size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/**
 * Datadog drops logs dated more than 18 h in the past (or 2 h in the future) after accepting them. Such a log is
 * dated at ingest instead; its own time stays in `atlassian.time` and the `redated:true` tag marks it.
 */
export function redateOutsideWindow(log: DatadogLog, now: number): DatadogLog {
  const age = now - log.timestamp;
  if (age <= DATADOG_INTAKE_LIMITS.maxAgeMs && -age <= DATADOG_INTAKE_LIMITS.maxFutureMs) return log;
  return {
    ...log,
    timestamp: now,
    ddtags: log.ddtags ? `${log.ddtags},redated:true` : 'redated:true',
    atlassian: { ...log.atlassian, redated: { original_timestamp: log.timestamp, reason: age > 0 ? 'older-than-18h' : 'more-than-2h-ahead' } },
  };
}

function statusFailure(status: number, headers: Record<string, string | string[] | undefined>, logs: DatadogLog[]): ApplicationFailure {
  if (status === 401 || status === 403) {
    return ApplicationFailure.create({
      type: FailureType.DatadogAuthFailed,
      message: `Datadog refused the API key with ${status}`,
      nonRetryable: true,
      details: [{ owner: CredentialOwner.Datadog } satisfies FailureDetails],
    });
  }
  if (status === 400 || status === 413) {
    return ApplicationFailure.create({
      type: FailureType.DatadogRejectedLog,
      message: `Datadog refused the log of Atlassian event ${logs[0]?.atlassian.event_id ?? '?'} with ${status}; it is retried, not dropped`,
    });
  }
  const resetSeconds = Number(headers['x-ratelimit-reset'] ?? headers['retry-after']);
  return ApplicationFailure.create({
    type: FailureType.DatadogUnavailable,
    message: `Datadog answered ${status}`,
    nextRetryDelay: Number.isFinite(resetSeconds) && resetSeconds > 0 ? Math.min(resetSeconds, 300) * 1000 : undefined,
  });
}
