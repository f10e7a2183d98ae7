/**
 * The ship activity against the Datadog stand-in: limits, splitting, resumption from heartbeats, re-dating, auth,
 * dead letters and their re-sending.
 */
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import type { DatadogLog } from '../../activities/datadog-log';
import { DeadLetterStore, DeadLetterWriteError, type ResendDeadLettersResult } from '../../activities/dead-letters';
import { FailureType } from '../../shared/failure-types';
import { createHttpAgent } from '../../activities/http-client';
import {
  RefusalReason,
  chunkForIntake,
  redateOutsideWindow,
  resendDeadLetters,
  shipLogs,
  type ShipDependencies,
  type ShipLogsInput,
  type ShipLogsResult,
} from '../../activities/ship';
import { DatadogStandin } from '../../dev/standins/datadog-standin';
import { activityEnvironment } from '../support/activity-environment';

const KEY = 'ship-test-key-77aa';
const HOUR = 3_600_000;
let standin: DatadogStandin;
let deps: ShipDependencies;
let deadLetterDir: string;
const dispatcher = createHttpAgent({ headersTimeoutMs: 2_000 });

beforeAll(async () => {
  standin = await DatadogStandin.start({ apiKeys: [KEY] });
  deadLetterDir = await mkdtemp(path.join(os.tmpdir(), 'ship-dead-letters-'));
  deps = {
    datadogIntakeUrl: standin.url,
    dispatcher,
    env: { DD_API_KEY: KEY },
    now: Date.now,
    deadLetters: new DeadLetterStore(deadLetterDir),
    refusedLogRetryDelayMs: 0,
  };
});

afterEach(() => standin.setMalformedLogs(undefined));

afterAll(async () => {
  await standin.close();
  await dispatcher.close();
  await rm(deadLetterDir, { recursive: true, force: true });
});

let nextId = 0;
function logs(count: number, overrides: Partial<DatadogLog> = {}, padding = 0): DatadogLog[] {
  return Array.from({ length: count }, () => {
    const id = `event-${++nextId}`;
    return {
      ddsource: 'atlassian-event-logs',
      service: 'atlassian-event-logs',
      ddtags: 'org_id:o1',
      status: 'info',
      timestamp: Date.now() - 1_000,
      message: `log ${id}${'x'.repeat(padding)}`,
      atlassian: { event_id: id, org_id: 'o1' },
      ...overrides,
    } as DatadogLog;
  });
}

/** Runs the activity in a mock activity context (heartbeat details set as for a retried attempt). */
function ship(batch: DatadogLog[], env = activityEnvironment(), shipDeps = deps): Promise<ShipLogsResult> {
  return env.run(shipLogs, shipDeps, input(batch)) as Promise<ShipLogsResult>;
}

const input = (batch: DatadogLog[]): ShipLogsInput => ({ orgId: 'o1', credential: { ref: 'env:DD_API_KEY', version: 1 }, logs: batch });
const idsOf = (batch: readonly { atlassian?: unknown }[]) => batch.map((l) => (l.atlassian as { event_id: string }).event_id);

test('splits into requests of at most 1000 logs and about 4.25 MB', () => {
  expect(chunkForIntake(logs(2_500)).map((c) => c.length)).toEqual([1000, 1000, 500]);
  const big = chunkForIntake(logs(30, {}, 400_000));
  expect(big.length).toBeGreaterThan(2);
  for (const chunk of big) expect(Buffer.byteLength(JSON.stringify(chunk))).toBeLessThanOrEqual(4_250_000);
});

test('delivers every log once, gzip-compressed, in order', async () => {
  const batch = logs(1_200);
  const before = standin.received.length;
  const result = await ship(batch);
  expect(result).toEqual({ accepted: 1_200, requests: 2, redated: 0, deadLettered: [] });
  expect(idsOf(standin.received.slice(before))).toEqual(idsOf(batch));
});

test('a 413 on a chunk splits it and delivers all of it, nothing dropped', async () => {
  const batch = logs(10);
  const before = standin.received.length;
  standin.injectFault({ kind: 'status', status: 413 });
  const result = await ship(batch);
  expect(result.accepted).toBe(10);
  expect(result.requests).toBe(3);
  expect(idsOf(standin.received.slice(before))).toEqual(idsOf(batch));
});

test('a retried attempt starts after the prefix its heartbeat says was accepted', async () => {
  const batch = logs(2_500);
  const before = standin.received.length;
  const env = activityEnvironment({ heartbeatDetails: { accepted: 2_000 } });
  const result = await ship(batch, env);
  expect(result.accepted).toBe(2_500);
  expect(idsOf(standin.received.slice(before))).toEqual(idsOf(batch.slice(2_000)));
});

test('heartbeats the accepted prefix after each request', async () => {
  const env = activityEnvironment();
  const beats: unknown[] = [];
  env.on('heartbeat', (details: unknown) => beats.push(details));
  await ship(logs(1_500), env);
  expect(beats).toEqual(expect.arrayContaining([{ accepted: 1_000, deadLettered: [] }, { accepted: 1_500, deadLettered: [] }]));
});

test.each([500, 503, 408, 429])('%d is a retryable failure', async (status) => {
  standin.injectFault({ kind: 'status', status: status as 500 });
  const err = await ship(logs(1)).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ApplicationFailure);
  expect((err as ApplicationFailure).nonRetryable).toBe(false);
});

test('a refused key is a non-retryable DatadogAuthFailed that names no key', async () => {
  const revoked = { ...deps, env: { DD_API_KEY: 'revoked-key-value' } };
  const err = (await ship(logs(1), activityEnvironment(), revoked).catch((e: unknown) => e)) as ApplicationFailure;
  expect(err.type).toBe(FailureType.DatadogAuthFailed);
  expect(err.nonRetryable).toBe(true);
  expect(err.message).not.toContain('revoked-key-value');
});

test('logs older than Datadog accepts are shipped dated at ingest, with their own time kept', async () => {
  const old = logs(1, { timestamp: Date.now() - 48 * HOUR })[0]!;
  const before = standin.received.length;
  const result = await ship([old]);
  expect(result.redated).toBe(1);
  expect(standin.dropped).toHaveLength(0);
  const received = standin.received[before] as unknown as DatadogLog;
  expect(received.ddtags).toBe('org_id:o1,redated:true');
  expect(received.atlassian.redated).toEqual({ original_timestamp: old.timestamp, reason: 'older-than-18h' });
});

test('re-dating leaves logs inside the window untouched', () => {
  const now = Date.now();
  const [fresh] = logs(1, { timestamp: now - 16 * HOUR });
  expect(redateOutsideWindow(fresh!, now)).toBe(fresh);
  const [ahead] = logs(1, { timestamp: now + 3 * HOUR });
  expect(redateOutsideWindow(ahead!, now).timestamp).toBe(now);
});

describe('a log Datadog keeps refusing', () => {
  const requestsSince = (before: number) => standin.requests.slice(before);
  const receivedSince = (before: number) => standin.received.slice(before) as unknown as DatadogLog[];

  test('is sent alone three times, then kept as a dead letter with a stub in its place, in order', async () => {
    const batch = logs(5);
    const bad = { ...batch[2]!, timestamp: Date.now() - 48 * HOUR };
    batch[2] = bad;
    standin.setMalformedLogs([bad.atlassian.event_id]);
    const [receivedBefore, requestsBefore] = [standin.received.length, standin.requests.length];

    const result = await ship(batch);

    const reason = RefusalReason[400];
    expect(result.accepted).toBe(5);
    expect(result.deadLettered).toEqual([{ eventId: bad.atlassian.event_id, status: 400, reason }]);
    const aloneAndRefused = requestsSince(requestsBefore).filter((r) => r.entries === 1 && r.status === 400);
    expect(aloneAndRefused).toHaveLength(3);
    expect(result.requests).toBe(requestsSince(requestsBefore).length);

    const received = receivedSince(receivedBefore);
    expect(idsOf(received)).toEqual(idsOf(batch));
    const stub = received[2]!;
    const file = deps.deadLetters.fileOf('o1', bad.atlassian.event_id);
    expect(stub).toEqual({
      ddsource: 'atlassian-event-logs',
      service: 'atlassian-event-logs',
      ddtags: 'org_id:o1,dead_letter:true,redated:true',
      status: 'error',
      timestamp: expect.any(Number),
      message: expect.stringContaining(file),
      atlassian: {
        event_id: bad.atlassian.event_id,
        org_id: 'o1',
        dead_letter: { status: 400, reason, stored_at: expect.any(String) },
        redated: { original_timestamp: bad.timestamp, reason: 'older-than-18h' },
      },
    });
    expect(stub.message).toMatch(/^Datadog refused the log of Atlassian event event-\d+ \(.*malformed.*\); the original is kept/);
    expect(Date.now() - stub.timestamp).toBeLessThan(60_000);

    // The original, whole and with its own time: the stub took the re-dating, not the dead letter.
    const letter = await deps.deadLetters.get('o1', bad.atlassian.event_id);
    expect(letter).toEqual({
      orgId: 'o1',
      eventId: bad.atlassian.event_id,
      status: 400,
      reason,
      storedAt: (stub.atlassian.dead_letter as { stored_at: string }).stored_at,
      log: bad,
    });
  });

  test('is delivered when Datadog accepts it on the third attempt alone, with no dead letter', async () => {
    const batch = logs(1);
    standin.injectFault({ kind: 'status', status: 400 }, 2);
    const before = standin.received.length;
    const result = await ship(batch);
    expect(result).toEqual({ accepted: 1, requests: 3, redated: 0, deadLettered: [] });
    expect(standin.received.slice(before)).toEqual(batch);
    expect(await deps.deadLetters.get('o1', batch[0]!.atlassian.event_id)).toBeUndefined();
  });

  test('refused alone as too large (413) becomes a dead letter with that status', async () => {
    const batch = logs(1);
    standin.injectFault({ kind: 'status', status: 413 }, 3);
    const result = await ship(batch);
    expect(result.deadLettered).toEqual([{ eventId: batch[0]!.atlassian.event_id, status: 413, reason: RefusalReason[413] }]);
    expect((await deps.deadLetters.get('o1', batch[0]!.atlassian.event_id))?.log).toEqual(batch[0]);
  });

  test('whose stub is refused too fails retryably, keeps the original, and heartbeats no progress past it', async () => {
    const batch = logs(3);
    const badId = batch[1]!.atlassian.event_id;
    standin.setMalformedLogs((log) => (log['atlassian'] as { event_id: string }).event_id === badId);
    const env = activityEnvironment();
    const beats: Array<{ accepted: number }> = [];
    env.on('heartbeat', (details: { accepted: number }) => beats.push(details));
    const before = standin.received.length;

    const err = (await ship(batch, env).catch((e: unknown) => e)) as ApplicationFailure;

    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err.type).toBe(FailureType.DatadogRejectedLog);
    expect(err.nonRetryable).toBe(false);
    expect(err.message).toContain(badId);
    expect(err.message).not.toContain(KEY);
    expect(idsOf(standin.received.slice(before))).toEqual(idsOf(batch.slice(0, 1)));
    expect(Math.max(...beats.map((beat) => beat.accepted))).toBe(1);
    expect((await deps.deadLetters.get('o1', badId))?.log).toEqual(batch[1]);
  });

  test('a retried attempt still reports the dead letters of the attempt before it', async () => {
    const batch = logs(3);
    const earlier = { eventId: batch[0]!.atlassian.event_id, status: 400, reason: RefusalReason[400] };
    const env = activityEnvironment({ heartbeatDetails: { accepted: 1, deadLettered: [earlier] } });
    const before = standin.received.length;
    const result = await ship(batch, env);
    expect(result).toMatchObject({ accepted: 3, deadLettered: [earlier] });
    expect(idsOf(standin.received.slice(before))).toEqual(idsOf(batch.slice(1)));
  });

  test('that cannot be kept fails the attempt before any stub is sent', async () => {
    const notADirectory = path.join(deadLetterDir, 'a-file');
    await writeFile(notADirectory, '');
    const unwritable = { ...deps, deadLetters: new DeadLetterStore(path.join(notADirectory, 'dead-letters')) };
    const batch = logs(1);
    standin.setMalformedLogs([batch[0]!.atlassian.event_id]);
    const before = standin.received.length;
    const err = await ship(batch, activityEnvironment(), unwritable).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeadLetterWriteError);
    expect((err as Error).message).toContain(batch[0]!.atlassian.event_id);
    expect(standin.received.length).toBe(before);
  });
});

describe('resendDeadLetters', () => {
  const credential = { ref: 'env:DD_API_KEY', version: 1 };
  const resend = (eventIds?: string[], env = activityEnvironment(), resendDeps = deps) =>
    env.run(resendDeadLetters, resendDeps, { orgId: 'o1', credential, eventIds }) as Promise<ResendDeadLettersResult>;

  /** Ships `count` logs that Datadog refuses, leaving them as dead letters; returns their originals. */
  async function deadLetters(count: number, overrides: Partial<DatadogLog> = {}): Promise<DatadogLog[]> {
    const batch = logs(count, overrides);
    standin.setMalformedLogs(idsOf(batch));
    expect((await ship(batch)).deadLettered).toHaveLength(count);
    return batch;
  }

  beforeEach(async () => {
    await rm(path.join(deadLetterDir, 'o1'), { recursive: true, force: true });
  });

  test('sends the originals again, marked and re-dated, and removes those Datadog accepted', async () => {
    const [old, fresh] = [...(await deadLetters(1, { timestamp: Date.now() - 48 * HOUR })), ...(await deadLetters(1))];
    // Datadog now takes `fresh` (repaired), and still refuses `old`.
    standin.setMalformedLogs([old!.atlassian.event_id]);
    const before = standin.received.length;

    const result = await resend();

    expect(result).toEqual({
      resent: [fresh!.atlassian.event_id],
      refused: [{ eventId: old!.atlassian.event_id, status: 400 }],
      missing: [],
    });
    expect(standin.received.slice(before)).toEqual([{ ...fresh, atlassian: { ...fresh!.atlassian, resent_dead_letter: true } }]);
    expect(await deps.deadLetters.list('o1')).toEqual([expect.objectContaining({ eventId: old!.atlassian.event_id })]);

    standin.setMalformedLogs(undefined);
    expect(await resend()).toEqual({ resent: [old!.atlassian.event_id], refused: [], missing: [] });
    const resent = standin.received.at(-1) as unknown as DatadogLog;
    expect(resent.atlassian).toMatchObject({ resent_dead_letter: true, redated: { original_timestamp: old!.timestamp } });
    expect(resent.ddtags).toBe('org_id:o1,redated:true');
    expect(await deps.deadLetters.list('o1')).toEqual([]);
  });

  test('reports the events it does not hold as missing, not as failed', async () => {
    const [kept] = await deadLetters(1);
    standin.setMalformedLogs(undefined);
    const result = await resend(['held-by-another-worker', kept!.atlassian.event_id]);
    expect(result).toEqual({ resent: [kept!.atlassian.event_id], refused: [], missing: ['held-by-another-worker'] });
  });

  test('a retried attempt skips what the last one re-sent and finishes removing it', async () => {
    const [first, second] = await deadLetters(2);
    standin.setMalformedLogs(undefined);
    const before = standin.received.length;
    const env = activityEnvironment({ heartbeatDetails: { resent: [first!.atlassian.event_id] } });
    const result = await resend([first!.atlassian.event_id, second!.atlassian.event_id], env);
    expect(result.resent).toEqual([first!.atlassian.event_id, second!.atlassian.event_id]);
    expect(idsOf(standin.received.slice(before))).toEqual([second!.atlassian.event_id]);
    expect(await readdir(path.join(deadLetterDir, 'o1'))).toEqual([]);
  });

  test('an unreadable dead letter fails without retries, naming the file', async () => {
    const [letter] = await deadLetters(1);
    const file = deps.deadLetters.fileOf('o1', letter!.atlassian.event_id);
    await writeFile(file, '{"version":1,"orgId":"o1"}');
    const err = (await resend().catch((e: unknown) => e)) as ApplicationFailure;
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err.nonRetryable).toBe(true);
    expect(err.message).toContain(file);
  });

  test('a refused key is a non-retryable DatadogAuthFailed, and the dead letter stays', async () => {
    const [letter] = await deadLetters(1);
    const revoked = { ...deps, env: { DD_API_KEY: 'revoked-key-value' } };
    const err = (await resend(undefined, activityEnvironment(), revoked).catch((e: unknown) => e)) as ApplicationFailure;
    expect(err.type).toBe(FailureType.DatadogAuthFailed);
    expect(err.message).not.toContain('revoked-key-value');
    expect(await deps.deadLetters.get('o1', letter!.atlassian.event_id)).toBeDefined();
  });
});
