/** The ship activity against the Datadog stand-in: limits, splitting, resumption from heartbeats, re-dating, auth. */
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { DatadogLog } from '../../activities/datadog-log';
import { FailureType } from '../../shared/failure-types';
import { createHttpAgent } from '../../activities/http-client';
import {
  chunkForIntake,
  redateOutsideWindow,
  shipLogs,
  type ShipDependencies,
  type ShipLogsInput,
  type ShipLogsResult,
} from '../../activities/ship';
import { DatadogStandin } from '../../dev/standins/datadog-standin';

const KEY = 'ship-test-key-77aa';
const HOUR = 3_600_000;
let standin: DatadogStandin;
let deps: ShipDependencies;
const dispatcher = createHttpAgent({ headersTimeoutMs: 2_000 });

beforeAll(async () => {
  standin = await DatadogStandin.start({ apiKeys: [KEY] });
  deps = { datadogIntakeUrl: standin.url, dispatcher, env: { DD_API_KEY: KEY }, now: Date.now };
});

afterAll(async () => {
  await standin.close();
  await dispatcher.close();
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
function ship(batch: DatadogLog[], env = new MockActivityEnvironment(), shipDeps = deps): Promise<ShipLogsResult> {
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
  expect(result).toEqual({ accepted: 1_200, requests: 2, redated: 0 });
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
  const env = new MockActivityEnvironment({ heartbeatDetails: { accepted: 2_000 } });
  const result = await ship(batch, env);
  expect(result.accepted).toBe(2_500);
  expect(idsOf(standin.received.slice(before))).toEqual(idsOf(batch.slice(2_000)));
});

test('heartbeats the accepted prefix after each request', async () => {
  const env = new MockActivityEnvironment();
  const beats: unknown[] = [];
  env.on('heartbeat', (details: unknown) => beats.push(details));
  await ship(logs(1_500), env);
  expect(beats).toEqual(expect.arrayContaining([{ accepted: 1_000 }, { accepted: 1_500 }]));
});

test.each([500, 503, 408, 429])('%d is a retryable failure', async (status) => {
  standin.injectFault({ kind: 'status', status: status as 500 });
  const err = await ship(logs(1)).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ApplicationFailure);
  expect((err as ApplicationFailure).nonRetryable).toBe(false);
});

test('a refused key is a non-retryable DatadogAuthFailed that names no key', async () => {
  const revoked = { ...deps, env: { DD_API_KEY: 'revoked-key-value' } };
  const err = (await ship(logs(1), new MockActivityEnvironment(), revoked).catch((e: unknown) => e)) as ApplicationFailure;
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
