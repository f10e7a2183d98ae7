import { hostname } from 'node:os';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Dispatcher } from 'undici';
import { request } from 'undici';
import { z } from 'zod';
import type { CredentialRef } from '../shared/credential-ref';
import { resolveCredential, type CredentialPolicy } from './credentials';
import type { DatadogLog } from './datadog-log';
import {
  DeadLetterUnreadableError,
  type DeadLetterStore,
  type ResendDeadLettersInput,
  type ResendDeadLettersResult,
} from './dead-letters';
import { CredentialOwner, FailureType, type FailureDetails } from '../shared/failure-types';
import { withHeartbeats } from './heartbeat-ticker';
import { transportFailure } from './http-client';
import { recordDatadogRequest } from './activity-metrics';
import type { PageStore, StoredPage } from './page-store';

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

/**
 * How often a log the intake refuses is sent alone, the first refusal included, before it becomes a dead letter.
 * A malformed log is refused every time; the repeats are for an intake that refused it by mistake.
 */
const REFUSED_LOG_ATTEMPTS = 3;

/** Why the intake refused a log sent alone, as `reason` of a dead letter: short, and never the log's content. */
export const RefusalReason = {
  400: 'Datadog refused the log as malformed (400)',
  413: 'Datadog refused the log as too large (413)',
} as const;
type RefusalStatus = keyof typeof RefusalReason;

export interface ShipLogsInput {
  orgId: string;
  credential: CredentialRef;
  logs: DatadogLog[];
}

export interface ShipPageInput {
  orgId: string;
  credential: CredentialRef;
  /** A page whose logs the map activity kept in this worker's page store. */
  page: StoredPage;
}

export interface DeadLettered {
  eventId: string;
  /** The intake's last answer to the log (400 or 413). */
  status: number;
  reason: string;
}

export interface ShipLogsResult {
  /** Input logs delivered, counting a dead letter whose stub Datadog accepted in its place. */
  accepted: number;
  requests: number;
  /** Logs whose own time was outside Datadog's window and that were dated at ingest instead. */
  redated: number;
  /** Logs Datadog kept refusing: kept in the worker's dead-letter store, a stub sent in their place. */
  deadLettered: DeadLettered[];
}

export interface ShipDependencies {
  datadogIntakeUrl: string;
  dispatcher: Dispatcher;
  env: NodeJS.ProcessEnv;
  /** @default DEFAULT_CREDENTIAL_POLICY */
  credentialPolicy?: CredentialPolicy;
  now: () => number;
  deadLetters: DeadLetterStore;
  /**
   * Pause before sending a refused log alone again.
   * @default 1_000
   */
  refusedLogRetryDelayMs?: number;
}

/**
 * Heartbeated after every accepted request, so that a retried attempt resumes where the last one stopped and
 * still reports the dead letters that attempt made.
 */
const shipProgressSchema = z.object({
  /** Logs are sent in order, so what Datadog accepted is always a prefix of the input. */
  accepted: z.number().int().min(0),
  // Absent in the heartbeats of workers from before dead letters.
  deadLettered: z.array(z.object({ eventId: z.string(), status: z.number().int(), reason: z.string() })).default([]),
});
type ShipProgress = z.output<typeof shipProgressSchema>;

/** The ship activity: sends a stored page's logs, then lets the page go. */
export async function shipPage(deps: ShipDependencies & { pageStore: PageStore }, input: ShipPageInput): Promise<ShipLogsResult> {
  const logs = deps.pageStore.logs(input.orgId, input.page.ref);
  const result = await shipLogs(deps, { orgId: input.orgId, credential: input.credential, logs });
  deps.pageStore.delete(input.page.ref);
  return result;
}

/**
 * POSTs logs to the Datadog intake, gzip-compressed, in requests within Datadog's limits. Progress is
 * heartbeated, so a retried attempt starts after the prefix already accepted instead of resending it.
 * A request refused as too large or malformed (413/400) is split and retried. A single log that Datadog still
 * refuses when sent alone `REFUSED_LOG_ATTEMPTS` times becomes a dead letter: the original is kept in the
 * worker's store and a stub saying so is sent in its place, so the org moves on and the gap shows in Datadog.
 * Progress passes the log only once the stub is accepted; a refused stub fails the attempt (and is retried).
 */
export async function shipLogs(deps: ShipDependencies, input: ShipLogsInput): Promise<ShipLogsResult> {
  const apiKey = await resolveCredential(input.credential, 'datadog', deps.env, deps.credentialPolicy);
  const context = Context.current();
  const resumed = shipProgressSchema.safeParse(context.info.heartbeatDetails);
  const progress: ShipProgress = resumed.success ? resumed.data : { accepted: 0, deadLettered: [] };
  const startAt = progress.accepted;
  let requests = 0;
  let redated = 0;
  // A copy: the SDK may serialise the details after later dead letters were added.
  const details = (): ShipProgress => ({ accepted: progress.accepted, deadLettered: [...progress.deadLettered] });
  const heartbeat = () => context.heartbeat(details());

  const post = async (logs: DatadogLog[]): Promise<IntakeAnswer> => {
    const answer = await postToIntake(deps, apiKey, input.orgId, logs);
    requests++;
    return answer;
  };
  const delivered = (logs: readonly DatadogLog[], answer: IntakeAnswer) => {
    progress.accepted += logs.length;
    redated += answer.redated;
    heartbeat();
  };

  const send = async (logs: DatadogLog[]): Promise<void> => {
    const answer = await post(logs);
    if (isSuccess(answer.status)) return delivered(logs, answer);
    if (!isRefusal(answer.status)) throw statusFailure(answer);
    if (logs.length > 1) {
      const half = Math.ceil(logs.length / 2);
      await send(logs.slice(0, half));
      await send(logs.slice(half));
      return;
    }
    await sendAlone(logs[0]!, answer.status);
  };

  /** `log` was refused alone once with `status`. */
  const sendAlone = async (log: DatadogLog, status: RefusalStatus): Promise<void> => {
    for (let attempt = 2; attempt <= REFUSED_LOG_ATTEMPTS; attempt++) {
      await context.sleep(deps.refusedLogRetryDelayMs ?? 1_000);
      const answer = await post([log]);
      if (isSuccess(answer.status)) return delivered([log], answer);
      if (!isRefusal(answer.status)) throw statusFailure(answer);
      status = answer.status;
    }
    await deadLetter(log, status);
  };

  const deadLetter = async (log: DatadogLog, status: RefusalStatus): Promise<void> => {
    const eventId = log.atlassian.event_id;
    const reason = RefusalReason[status];
    const storedAt = new Date(deps.now()).toISOString();
    // Stored before the stub goes out: once Datadog has the stub, the original must already be safe.
    const file = await deps.deadLetters.put({ orgId: input.orgId, eventId, status, reason, storedAt, log });
    const stub = deadLetterStub(log, { status, reason, stored_at: storedAt }, file);
    const answer = await post([stub]);
    if (isRefusal(answer.status)) {
      throw ApplicationFailure.create({
        type: FailureType.DatadogRejectedLog,
        message:
          `Datadog refused the log of Atlassian event ${eventId} and also its dead-letter stub with ${answer.status}; ` +
          'it is retried, not dropped',
      });
    }
    if (!isSuccess(answer.status)) throw statusFailure(answer);
    progress.deadLettered.push({ eventId, status, reason });
    delivered([log], answer);
  };

  await withHeartbeats(
    async () => {
      for (const chunk of chunkForIntake(input.logs.slice(startAt))) await send(chunk);
    },
    details
  );
  return { accepted: progress.accepted, requests, redated, deadLettered: progress.deadLettered };
}

/** Heartbeated after every accepted log, so that a retried attempt neither sends it again nor calls it missing. */
const resendProgressSchema = z.object({ resent: z.array(z.string()) });

/**
 * Sends dead letters again, each alone, marked `atlassian.resent_dead_letter: true` and re-dated as `shipLogs`
 * would. Alone, because these logs were refused before: in a batch, one still refused would refuse the batch, and
 * splitting it down costs more requests than sending each once. A log Datadog accepts leaves the store.
 */
export async function resendDeadLetters(
  deps: ShipDependencies,
  input: ResendDeadLettersInput
): Promise<ResendDeadLettersResult> {
  const apiKey = await resolveCredential(input.credential, 'datadog', deps.env, deps.credentialPolicy);
  const context = Context.current();
  const resumed = resendProgressSchema.safeParse(context.info.heartbeatDetails);
  const result: ResendDeadLettersResult = { resent: resumed.success ? resumed.data.resent : [], refused: [], missing: [] };
  const alreadyResent = new Set(result.resent);
  const details = (): z.input<typeof resendProgressSchema> => ({ resent: [...result.resent] });

  const resend = async (): Promise<ResendDeadLettersResult> => {
    // The last attempt may have stopped between Datadog's answer and the removal.
    for (const eventId of alreadyResent) await deps.deadLetters.remove(input.orgId, eventId);
    const eventIds = input.eventIds ?? (await deps.deadLetters.list(input.orgId)).map((summary) => summary.eventId);
    for (const eventId of new Set(eventIds)) {
      if (alreadyResent.has(eventId)) continue;
      const letter = await deps.deadLetters.get(input.orgId, eventId);
      if (!letter) {
        result.missing.push(eventId);
        continue;
      }
      const log: DatadogLog = { ...letter.log, atlassian: { ...letter.log.atlassian, resent_dead_letter: true } };
      const answer = await postToIntake(deps, apiKey, input.orgId, [log]);
      if (isRefusal(answer.status)) {
        result.refused.push({ eventId, status: answer.status });
        continue;
      }
      if (!isSuccess(answer.status)) throw statusFailure(answer);
      result.resent.push(eventId);
      context.heartbeat(details());
      await deps.deadLetters.remove(input.orgId, eventId);
    }
    return result;
  };

  try {
    return await withHeartbeats(resend, details);
  } catch (err) {
    // A retry reads the same file again: only an operator can repair or move it.
    if (err instanceof DeadLetterUnreadableError) {
      throw ApplicationFailure.create({ type: err.name, message: err.message, nonRetryable: true });
    }
    throw err;
  }
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
    ddtags: withTag(log.ddtags, 'redated:true'),
    atlassian: { ...log.atlassian, redated: { original_timestamp: log.timestamp, reason: age > 0 ? 'older-than-18h' : 'more-than-2h-ahead' } },
  };
}

/**
 * What Datadog gets in place of a dead letter: the same source, service, host and tags, so that it is found where
 * the log would have been, and the same time (re-dated as usual), but none of the event's content.
 */
export function deadLetterStub(
  log: DatadogLog,
  deadLetter: { status: number; reason: string; stored_at: string },
  file: string
): DatadogLog {
  const eventId = log.atlassian.event_id;
  return {
    ddsource: log.ddsource,
    service: log.service,
    ...(log.hostname === undefined ? {} : { hostname: log.hostname }),
    ddtags: withTag(log.ddtags, 'dead_letter:true'),
    status: 'error',
    timestamp: log.timestamp,
    message:
      `Datadog refused the log of Atlassian event ${eventId} (${deadLetter.reason}); the original is kept as a dead ` +
      `letter on worker ${hostname()} in ${file}, to be re-sent from there`,
    atlassian: { event_id: eventId, org_id: log.atlassian.org_id, dead_letter: deadLetter },
  };
}

interface IntakeAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** How many of the logs were re-dated on the way. */
  redated: number;
}

/** One request: logs re-dated where they must be, gzip-compressed; transport faults become retryable failures. */
async function postToIntake(
  deps: ShipDependencies,
  apiKey: string,
  orgId: string,
  logs: DatadogLog[]
): Promise<IntakeAnswer> {
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
      signal: Context.current().cancellationSignal,
    });
    await response.body.dump();
  } catch (err) {
    recordDatadogRequest(orgId, 'transport-error');
    throw transportFailure('Datadog', err);
  }
  recordDatadogRequest(orgId, response.statusCode);
  return {
    status: response.statusCode,
    headers: response.headers,
    redated: dated.filter((log, i) => log !== logs[i]).length,
  };
}

function isSuccess(status: number): boolean {
  return status >= 200 && status < 300;
}

/** The intake's answers to a malformed (400) or too large (413) request: about the logs, not the service. */
function isRefusal(status: number): status is RefusalStatus {
  return status === 400 || status === 413;
}

function withTag(ddtags: string, tag: string): string {
  return ddtags ? `${ddtags},${tag}` : tag;
}

/** A failure for an answer that is neither success nor a refusal of the logs. */
function statusFailure({ status, headers }: IntakeAnswer): ApplicationFailure {
  if (status === 401 || status === 403) {
    return ApplicationFailure.create({
      type: FailureType.DatadogAuthFailed,
      message: `Datadog refused the API key with ${status}`,
      nonRetryable: true,
      details: [{ owner: CredentialOwner.Datadog } satisfies FailureDetails],
    });
  }
  const resetSeconds = Number(headers['x-ratelimit-reset'] ?? headers['retry-after']);
  return ApplicationFailure.create({
    type: FailureType.DatadogUnavailable,
    message: `Datadog answered ${status}`,
    nextRetryDelay: Number.isFinite(resetSeconds) && resetSeconds > 0 ? Math.min(resetSeconds, 300) * 1000 : undefined,
  });
}
