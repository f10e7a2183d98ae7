/**
 * Faults on every side, on a real dev server with a real worker and the stand-ins: Atlassian errors, resets,
 * hung responses and 429s; Datadog errors, refusals and a payload too large; the Temporal server itself restarted
 * mid-run. Each must end with every event delivered, none twice (unless a bound is stated); a long backfill must
 * not run into Atlassian's rate limit (how much of the budget it used is printed, not asserted).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { createHttpAgent } from '../../activities/http-client';
import { startOrg } from '../../client/org-control';
import { startTemporalDevServer, temporalCliPath, type RunningDevServer } from '../../dev/demo/temporal-dev-server';
import { workflowIdForOrg } from '../../shared/org-workflow';
import { AuditPhase } from '../../shared/phase';
import { phaseSearchAttribute } from '../../shared/search-attributes';
import type { AtlassianFault } from '../../dev/standins/atlassian-standin';
import { generateDemoEvents } from '../../dev/standins/demo-events';
import { createAuditWorker } from '../../worker/create-worker';
import { pauseSignal, requestBackfillUpdate, resumeSignal, stopSignal } from '../../workflows/messages';
import type { orgAuditWorkflow } from '../../workflows/org-audit-workflow';
import { AuditHarness, WORKER_ENV, duplicatesOf, waitUntil, workflowBundle } from '../support/audit-harness';
import { freePort } from '../support/ports';

const PAGE_SIZE = 10;
/** The Atlassian stand-in's bucket for the budget tests: 2 requests a second, 5 at once. */
const BUCKET = { requestsPerMinute: 120, burst: 5 };

let harness: AuditHarness;
/** Atlassian with a token bucket and no `Retry-After` on its 429s: only `X-RateLimit-*` tell the collector when. */
let budgeted: AuditHarness;

beforeAll(async () => {
  [harness, budgeted] = await Promise.all([
    AuditHarness.create(),
    AuditHarness.create({ atlassian: { rateLimit: BUCKET, retryAfterHeader: false } }),
  ]);
  await workflowBundle();
});

afterAll(async () => {
  await Promise.all([harness?.close(), budgeted?.close()]);
});

type AddedEvents = ReturnType<AuditHarness['atlassian']['addEvents']>;

/** `count` events processed now, their own times in the last minutes: all within the tail's range. */
function addRecentEvents(on: AuditHarness, orgId: string, count: number, seed: number): AddedEvents {
  return on.atlassian.addEvents(orgId, generateDemoEvents({ seed, count, startTime: Date.now() - 10 * 60_000, spacingMs: 1_000, orgId }));
}

function expectEachExactlyOnceInOrder(on: AuditHarness, orgId: string, added: AddedEvents): void {
  expect(on.deliveredIds(orgId)).toEqual(added.map((event) => event.id));
}

async function stop(handle: WorkflowHandle<typeof orgAuditWorkflow>): Promise<void> {
  await handle.signal(stopSignal, {});
  await handle.result();
}

async function withWorker<T>(on: AuditHarness, work: () => Promise<T>): Promise<T> {
  const worker = await on.createWorker();
  return worker.runUntil(work);
}

function streamRequests(on: AuditHarness, orgId: string) {
  return on.atlassian.requests.filter((r) => r.orgId === orgId && r.endpoint === 'events-stream');
}

describe('Atlassian faults are retried inside the poll activity: the workflow never sees them', () => {
  test.each<{ label: string; fault: AtlassianFault; times: number }>([
    { label: '503', fault: { kind: 'status', status: 503 }, times: 3 },
    { label: '500 with an Atlassian error code', fault: { kind: 'status', status: 500 }, times: 2 },
    { label: 'a connection reset', fault: { kind: 'reset' }, times: 3 },
  ])('$label ×$times: every event once, in order', async ({ fault, times }) => {
    const orgId = harness.newOrg();
    const added = addRecentEvents(harness, orgId, 25, 101);
    harness.atlassian.injectFault(orgId, fault, times);
    await withWorker(harness, async () => {
      const handle = await harness.startOrg({ orgId, pageSize: PAGE_SIZE });
      await harness.waitForDelivered(orgId, added.length, 30_000);
      expectEachExactlyOnceInOrder(harness, orgId, added);
      const failed = streamRequests(harness, orgId).filter((r) => r.status === null || r.status >= 500);
      expect(failed).toHaveLength(times);
      const status = await harness.status(orgId);
      expect(status.stats.lastError).toBeNull();
      await stop(handle);
    });
  });

  test('a response that never comes is abandoned at the 5 s headers timeout and the page is asked again', async () => {
    const orgId = harness.newOrg();
    const added = addRecentEvents(harness, orgId, 25, 102);
    harness.atlassian.injectFault(orgId, { kind: 'hang', ms: 60_000 });
    await withWorker(harness, async () => {
      const handle = await harness.startOrg({ orgId, pageSize: PAGE_SIZE });
      await harness.waitForDelivered(orgId, added.length, 30_000);
      expectEachExactlyOnceInOrder(harness, orgId, added);
      const [hung, retried] = streamRequests(harness, orgId);
      expect(hung!.status).toBeNull();
      expect(retried!.status).toBe(200);
      // Not before the headers timeout, and not after the hang's own end: the client gave up, not the server.
      expect(retried!.at - hung!.at).toBeGreaterThanOrEqual(5_000);
      expect(retried!.at - hung!.at).toBeLessThan(15_000);
      await stop(handle);
    });
  });
});

describe('Atlassian 429s become durable, visible, interruptible waits', () => {
  test('429 with Retry-After: phase rate-limited until then, in status and the UI; a pause during the wait applies at once', async () => {
    const orgId = harness.newOrg();
    const added = addRecentEvents(harness, orgId, 25, 103);
    const retryAfterSeconds = 8;
    harness.atlassian.injectFault(orgId, { kind: 'rateLimit', retryAfterSeconds });
    await withWorker(harness, async () => {
      const handle = await harness.startOrg({ orgId, pageSize: PAGE_SIZE });
      await waitUntil(async () => (await harness.status(orgId)).phase === AuditPhase.RateLimited, 15_000, () => 'not rate-limited yet');
      const limited = await harness.status(orgId);
      const refusedAt = streamRequests(harness, orgId).find((r) => r.status === 429)!.at;
      const until = Date.parse(limited.rateLimitedUntil!);
      expect(until - refusedAt).toBeGreaterThanOrEqual(retryAfterSeconds * 1000);
      expect(until - refusedAt).toBeLessThan((retryAfterSeconds + 2) * 1000);
      expect(limited.stats.rateLimited).toBe(1);
      await waitUntil(
        async () => (await handle.describe()).typedSearchAttributes.get(phaseSearchAttribute) === AuditPhase.RateLimited,
        10_000,
        () => 'the UI does not show rate-limited'
      );

      await handle.signal(pauseSignal, { reason: 'during a rate-limited wait' });
      await waitUntil(async () => (await harness.status(orgId)).phase === AuditPhase.Paused, 3_000, () => 'pause not applied');
      expect(Date.now()).toBeLessThan(until);

      // Paused past the end of the wait: still no request.
      const requestsWhilePaused = streamRequests(harness, orgId).length;
      await sleep(Math.max(0, until - Date.now()) + 1_500);
      expect(streamRequests(harness, orgId)).toHaveLength(requestsWhilePaused);
      expect(harness.deliveredIds(orgId)).toEqual([]);

      await handle.signal(resumeSignal);
      await harness.waitForDelivered(orgId, added.length, 20_000);
      expectEachExactlyOnceInOrder(harness, orgId, added);
      await stop(handle);
    });
  });

  test('429 without Retry-After: X-RateLimit-Reset alone decides the wait, not the one-minute default', async () => {
    const orgId = budgeted.newOrg();
    const added = addRecentEvents(budgeted, orgId, 25, 104);
    budgeted.atlassian.injectFault(orgId, { kind: 'rateLimit', retryAfterSeconds: 3 });
    await withWorker(budgeted, async () => {
      const handle = await budgeted.startOrg({ orgId, pageSize: PAGE_SIZE });
      await waitUntil(async () => (await budgeted.status(orgId)).phase === AuditPhase.RateLimited, 15_000, () => 'not rate-limited yet');
      const until = Date.parse((await budgeted.status(orgId)).rateLimitedUntil!);
      const refused = streamRequests(budgeted, orgId)[0]!;
      expect(refused.status).toBe(429);
      // The stand-in's reset: three seconds on, rounded up to the second; the collector adds a second of margin.
      const reset = Math.ceil((refused.at + 3_000) / 1_000) * 1_000;
      expect(until).toBeGreaterThanOrEqual(reset + 1_000 - 100);
      expect(until).toBeLessThan(reset + 3_000);

      await budgeted.waitForDelivered(orgId, added.length, 20_000);
      expectEachExactlyOnceInOrder(budgeted, orgId, added);
      expect(streamRequests(budgeted, orgId)[1]!.at).toBeGreaterThanOrEqual(until);
      await stop(handle);
    });
  });
});

describe('Datadog faults are retried inside the ship activity; the cursor waits', () => {
  test.each<{ label: string; status: 500 | 503 | 408 | 429; retryAfterSeconds?: number; times: number }>([
    { label: '503 with Retry-After: 1, twenty in a row', status: 503, retryAfterSeconds: 1, times: 20 },
    { label: '500 without Retry-After', status: 500, times: 3 },
    { label: '408', status: 408, times: 3 },
    { label: '429 with Retry-After: 1', status: 429, retryAfterSeconds: 1, times: 5 },
  ])('$label (×$times): every event once, in order', async ({ status, retryAfterSeconds, times }) => {
    const orgId = harness.newOrg();
    const added = addRecentEvents(harness, orgId, 25, 105);
    const requestsBefore = harness.datadog.requests.length;
    harness.datadog.injectFault({ kind: 'status', status, retryAfterSeconds }, times);
    await withWorker(harness, async () => {
      const handle = await harness.startOrg({ orgId, pageSize: PAGE_SIZE });
      await harness.waitForDelivered(orgId, added.length, 60_000);
      expectEachExactlyOnceInOrder(harness, orgId, added);
      const refused = harness.datadog.requests.slice(requestsBefore).filter((r) => r.status === status);
      expect(refused).toHaveLength(times);
      await stop(handle);
    });
  });

  test('413 for a chunk: ship splits it until the halves are accepted; nothing dropped, nothing twice', async () => {
    const orgId = harness.newOrg();
    const added = addRecentEvents(harness, orgId, PAGE_SIZE, 106);
    const requestsBefore = harness.datadog.requests.length;
    // The stand-in's fault answers the next requests whatever their size, so the first halves are refused too.
    harness.datadog.injectFault({ kind: 'status', status: 413 }, 2);
    await withWorker(harness, async () => {
      const handle = await harness.startOrg({ orgId, pageSize: PAGE_SIZE });
      await harness.waitForDelivered(orgId, added.length, 20_000);
      expectEachExactlyOnceInOrder(harness, orgId, added);
      const sent = harness.datadog.requests.slice(requestsBefore).map((r) => [r.status, r.entries]);
      // 10 refused → 5 refused → 3 and 2 accepted → the other 5 accepted.
      expect(sent).toEqual([
        [413, null],
        [413, null],
        [202, 3],
        [202, 2],
        [202, 5],
      ]);
      await stop(handle);
    });
  });

  test('413 for a single log cannot be split: it is retried, never dropped', async () => {
    const orgId = harness.newOrg();
    const added = addRecentEvents(harness, orgId, 1, 107);
    const requestsBefore = harness.datadog.requests.length;
    harness.datadog.injectFault({ kind: 'status', status: 413 }, 2);
    await withWorker(harness, async () => {
      const handle = await harness.startOrg({ orgId, pageSize: PAGE_SIZE });
      await harness.waitForDelivered(orgId, added.length, 20_000);
      expectEachExactlyOnceInOrder(harness, orgId, added);
      expect(harness.datadog.requests.slice(requestsBefore).map((r) => r.status)).toEqual([413, 413, 202]);
      await stop(handle);
    });
  });
});

describe('Atlassian’s budget (token bucket of 2 requests/s, burst 5; our own cap set far above it)', () => {
  test('a 60-page backfill meets at most one 429 and delivers every event once; efficiency printed', async () => {
    const orgId = budgeted.newOrg();
    const since = Date.now() - 3_600_000;
    const from = since - 2 * 24 * 3_600_000;
    const count = 60 * PAGE_SIZE;
    const added = budgeted.atlassian.addEvents(
      orgId,
      generateDemoEvents({ seed: 108, count, startTime: from, spacingMs: 1, orgId }).map((event, i) => ({
        ...event,
        time: from + Math.floor(((since - from) * i) / count),
        processedAt: undefined,
      }))
    );
    await withWorker(budgeted, async () => {
      const handle = await budgeted.startOrg({ orgId, since, pageSize: PAGE_SIZE, maxRequestsPerMinute: 1_200, pollIntervalMs: 60_000 });
      const startedAt = Date.now();
      await handle.executeUpdate(requestBackfillUpdate, { args: [{ from, to: since }] });
      await budgeted.waitForDelivered(orgId, added.length, 120_000);
      const elapsedMs = Date.now() - startedAt;

      const delivered = budgeted.deliveredIds(orgId);
      expect(duplicatesOf(delivered)).toEqual([]);
      expect(new Set(delivered)).toEqual(new Set(added.map((e) => e.id)));
      const requests = streamRequests(budgeted, orgId);
      const rateLimited = requests.filter((r) => r.status === 429).length;
      const served = requests.filter((r) => r.status === 200).length;
      const allowed = (BUCKET.requestsPerMinute * elapsedMs) / 60_000 + BUCKET.burst;
      console.log(
        `budget: ${served} pages served in ${(elapsedMs / 1000).toFixed(1)} s of an allowance of ${allowed.toFixed(1)} ` +
          `(efficiency ${(served / allowed).toFixed(3)}), ${rateLimited} × 429`
      );
      expect(rateLimited).toBeLessThanOrEqual(1);
      await stop(handle);
    });
  });
});

describe('the org’s own cap', () => {
  test('300 requests a minute: never two requests closer than 200 ms, though a workflow timer cannot wait under a second', async () => {
    const orgId = harness.newOrg();
    const added = addRecentEvents(harness, orgId, 30 * PAGE_SIZE, 109);
    await withWorker(harness, async () => {
      const handle = await harness.startOrg({ orgId, pageSize: PAGE_SIZE, maxRequestsPerMinute: 300 });
      await harness.waitForDelivered(orgId, added.length, 60_000);
      expectEachExactlyOnceInOrder(harness, orgId, added);
      await stop(handle);
    });
    // Arrival times: the requests are sent at least 200 ms apart; the network adds a few ms of jitter either way.
    const times = streamRequests(harness, orgId).map((r) => r.at);
    // 30 pages of events; the empty page that follows may come after the stop.
    expect(times.length).toBeGreaterThanOrEqual(30);
    const gaps = times.slice(1).map((at, i) => at - times[i]!);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(200 - 25);
    expect(times.at(-1)! - times[0]!).toBeGreaterThanOrEqual((times.length - 1) * 200 - 25);
  });
});

describe('the Temporal server restarted mid-run', () => {
  let dataDir: string;
  let server: RunningDevServer | undefined;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'audit-restart-'));
  });

  afterAll(async () => {
    await server?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  test('SIGTERM mid-run, started again on the same port and database: the in-process worker carries on, every event arrives', async () => {
    const cli = temporalCliPath(join(__dirname, '..', '..'));
    const serverOptions = { port: await freePort(), uiPort: await freePort(), dataDir, abortSignal: new AbortController().signal };
    server = await startTemporalDevServer(cli, serverOptions);

    const taskQueue = `audit-restart-${Date.now()}`;
    const connection = await NativeConnection.connect({ address: server.address });
    const clientConnection = await Connection.connect({ address: server.address });
    const client = new Client({ connection: clientConnection });
    const dispatcher = createHttpAgent({ headersTimeoutMs: 5_000, bodyTimeoutMs: 5_000 });
    const worker = await createAuditWorker({
      connection,
      namespace: 'default',
      taskQueue,
      workflowBundle: await workflowBundle(),
      activities: { atlassianBaseUrl: harness.atlassian.url, datadogIntakeUrl: harness.datadog.url, dispatcher, env: WORKER_ENV },
      shutdownGraceMs: 5_000,
    });
    const running = worker.run();
    try {
      const orgId = harness.newOrg();
      const pageSize = 40;
      const added = addRecentEvents(harness, orgId, 400, 109);
      // A page every two seconds, one per poll (longer than a poll waits for its next page): the stop falls mid-run.
      await startOrg(client, taskQueue, { orgId, pageSize, maxRequestsPerMinute: 30, pollIntervalMs: 1_000, since: Date.now() - 24 * 3_600_000 });
      await harness.waitForDelivered(orgId, 2 * pageSize, 60_000);

      await server.stop();
      const deliveredAtStop = harness.deliveredIds(orgId).length;
      await sleep(3_000);
      server = await startTemporalDevServer(cli, serverOptions);

      await harness.waitForDelivered(orgId, added.length, 120_000);
      const delivered = harness.deliveredIds(orgId);
      const duplicates = duplicatesOf(delivered);
      console.log(`Temporal restart: ${deliveredAtStop} delivered at stop, ${delivered.length} in all, ${duplicates.length} duplicates`);
      expect(deliveredAtStop).toBeLessThan(added.length);
      expect(new Set(delivered)).toEqual(new Set(added.map((e) => e.id)));
      // A page whose completion the stopped server never recorded is shipped again: at most one page twice.
      expect(duplicates.length).toBeLessThanOrEqual(pageSize);
      expect(worker.getState()).toBe('RUNNING');

      const handle = client.workflow.getHandle<typeof orgAuditWorkflow>(workflowIdForOrg(orgId));
      await stop(handle);
    } finally {
      worker.shutdown();
      await running;
      await Promise.all([connection.close(), clientConnection.close(), dispatcher.close()]);
    }
  });
});
