/**
 * Waits of minutes and hours, on Temporal's time-skipping test server: the real workflow started through `startOrg`,
 * a real worker, the stand-ins. After a failure no activity retry fixes, the org retries 5 minutes later; an org
 * whose key was refused holds its cursor for hours, then resumes exactly where it stopped after `rotate`; a long
 * rate-limit wait is slept in Temporal, no request during it. Each wait is skipped up to a few seconds before its end,
 * which then passes in real time (see `TimeSkippingEnvironment.skip`), so the tests also see when the next request goes.
 * Each test has a server of its own: skipping is global to a server, and a run left behind must not hold it back.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import type { WorkflowHandle } from '@temporalio/client';
import { createHttpAgent } from '../../activities/http-client';
import { startOrg } from '../../client/org-control';
import { AtlassianStandin, type AtlassianStandinOptions } from '../../dev/standins/atlassian-standin';
import { DatadogStandin } from '../../dev/standins/datadog-standin';
import { generateDemoEvents } from '../../dev/standins/demo-events';
import { workflowIdForOrg } from '../../shared/org-workflow';
import { AuditPhase } from '../../shared/phase';
import { createAuditWorker } from '../../worker/create-worker';
import { rotateCredentialsSignal, statusQuery, stopSignal } from '../../workflows/messages';
import type { OrgAuditStatus } from '../../workflows/org-audit-state';
import type { orgAuditWorkflow } from '../../workflows/org-audit-workflow';
import { TEST_KEYS, WORKER_ENV, waitUntil, workflowBundle } from '../support/audit-harness';
import { TimeSkippingEnvironment } from '../support/time-skipping';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const PAGE_SIZE = 10;
/** A realistic interval: a shorter one would fill skipped time with polls, each run in real time. */
const POLL_INTERVAL_MS = MINUTE;
/** How much of each wait passes in real time at its end, so that the requests after it read an aligned clock. */
const REAL_TIME_TAIL_MS = 2_000;
/** The workflow's documented pause after a failure that no activity retry fixes. */
const FAILURE_RETRY_MS = 5 * MINUTE;

type Handle = WorkflowHandle<typeof orgAuditWorkflow>;

/** One test's world: its own test server, stand-ins on the server's clock, a task queue and workers on it. */
class LongWaitWorld {
  readonly taskQueue = `long-waits-${randomUUID()}`;
  private readonly dispatcher = createHttpAgent({ headersTimeoutMs: 5_000, bodyTimeoutMs: 5_000 });

  private constructor(
    readonly server: TimeSkippingEnvironment,
    readonly atlassian: AtlassianStandin,
    readonly datadog: DatadogStandin
  ) {}

  static async start(atlassianOptions: AtlassianStandinOptions = {}): Promise<LongWaitWorld> {
    const server = await TimeSkippingEnvironment.start();
    const [atlassian, datadog] = await Promise.all([
      AtlassianStandin.start({ ...atlassianOptions, now: server.now }),
      DatadogStandin.start({ apiKeys: [TEST_KEYS.datadog], now: server.now }),
    ]);
    return new LongWaitWorld(server, atlassian, datadog);
  }

  newOrg(): string {
    const orgId = randomUUID();
    this.atlassian.addOrg(orgId, { apiKeys: [TEST_KEYS.atlassian] });
    return orgId;
  }

  /** `count` events processed from ten minutes ago on; about one in fifteen is late (its own time hours earlier). */
  addEvents(orgId: string, count: number, seed: number): string[] {
    const events = generateDemoEvents({ seed, count, startTime: this.server.now() - 10 * MINUTE, spacingMs: 1_000, orgId });
    return this.atlassian.addEvents(orgId, events).map((event) => event.id);
  }

  /**
   * Runs a worker built by the production factory until `work` ends; activities read the server's clock.
   * `sticky: false` for a worker that another will replace: the test server has no way back from a sticky task queue
   * (no ResetStickyTaskQueue, no schedule-to-start fallback), so a run cached by a stopped worker would wait for it
   * for ever. Without a cache, every workflow task is replayed from history.
   */
  async withWorker<T>(work: () => Promise<T>, options: { atlassianBaseUrl?: string; sticky?: boolean } = {}): Promise<T> {
    const { atlassianBaseUrl = this.atlassian.url, sticky = true } = options;
    const worker = await createAuditWorker({
      connection: this.server.env.nativeConnection,
      namespace: this.server.env.namespace ?? 'default',
      taskQueue: this.taskQueue,
      workflowBundle: await workflowBundle(),
      activities: {
        atlassianBaseUrl,
        datadogIntakeUrl: this.datadog.url,
        dispatcher: this.dispatcher,
        env: WORKER_ENV,
        now: this.server.now,
      },
      shutdownGraceMs: 5_000,
      overrides: sticky ? {} : { maxCachedWorkflows: 0 },
    });
    return worker.runUntil(work);
  }

  /** Through the client's own code; `since` a day back, as demo events may have been processed hours late. */
  async startOrg(orgId: string): Promise<Handle> {
    const now = this.server.now();
    const options = { orgId, pageSize: PAGE_SIZE, pollIntervalMs: POLL_INTERVAL_MS, maxRequestsPerMinute: 6_000, since: now - 24 * HOUR };
    await startOrg(this.server.env.client, this.taskQueue, options, now);
    return this.server.env.client.workflow.getHandle<typeof orgAuditWorkflow>(workflowIdForOrg(orgId));
  }

  status(handle: Handle): Promise<OrgAuditStatus> {
    return handle.query(statusQuery);
  }

  async waitForPhase(handle: Handle, phase: AuditPhase): Promise<OrgAuditStatus> {
    let last: OrgAuditStatus | undefined;
    await waitUntil(
      async () => (last = await this.status(handle)).phase === phase,
      20_000,
      () => `phase ${last?.phase}, not ${phase}; last error ${last?.stats.lastError?.message}`
    );
    return last!;
  }

  /** Lets server time pass up to `REAL_TIME_TAIL_MS` before `deadline` (nothing when that is already past). */
  async skipToJustBefore(deadline: number): Promise<void> {
    await this.server.skip(Math.max(0, deadline - REAL_TIME_TAIL_MS - this.server.now()));
  }

  streamRequests(orgId: string) {
    return this.atlassian.requests.filter((r) => r.orgId === orgId && r.endpoint === 'events-stream');
  }

  deliveredIds(orgId: string): string[] {
    return this.datadog.received
      .filter((log) => (log as { atlassian?: { org_id?: string } }).atlassian?.org_id === orgId)
      .map((log) => (log as { atlassian: { event_id: string } }).atlassian.event_id);
  }

  async waitForDelivered(orgId: string, count: number): Promise<void> {
    const distinct = () => new Set(this.deliveredIds(orgId)).size;
    await waitUntil(() => distinct() >= count, 30_000, () => `${distinct()}/${count} distinct events delivered for ${orgId}`);
  }

  /** `stop` as an operator sends it. Awaiting the result unlocks skipping for a while: the clock is aligned again after. */
  async stop(handle: Handle): Promise<void> {
    await handle.signal(stopSignal, {});
    await handle.result();
    await this.server.sync();
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.atlassian.close(), this.datadog.close(), this.dispatcher.close()]);
    await this.server.teardown();
  }
}

/**
 * In front of the Atlassian stand-in: answers `events-stream` with 400 `ADMIN-400-3` while `refusing` and passes
 * everything else through. The stand-in's own status faults are all 5xx, which the poll activity retries; a 400 that
 * is not a refused cursor is the failure no retry fixes.
 */
class BadRequestFront {
  refusing = true;
  refused = 0;

  private constructor(
    private readonly server: http.Server,
    readonly url: string
  ) {}

  static async start(upstream: string): Promise<BadRequestFront> {
    let front: BadRequestFront | undefined;
    const server = http.createServer((req, res) => {
      if (front?.refusing && new URL(req.url ?? '/', upstream).pathname.endsWith('/events-stream')) {
        front.refused++;
        res.writeHead(400, { 'content-type': 'application/json' });
        const error = { status: '400', code: 'ADMIN-400-3', title: 'Bad Request', detail: 'from must be UNIX epoch milliseconds' };
        res.end(JSON.stringify({ errors: [error] }));
        return;
      }
      void fetch(new URL(req.url ?? '/', upstream), { headers: { authorization: req.headers.authorization ?? '' } }).then(
        async (answer) => {
          const passed = ([name]: [string, string]) => name === 'content-type' || name === 'retry-after' || name.startsWith('x-ratelimit-');
          res.writeHead(answer.status, Object.fromEntries([...answer.headers].filter(passed)));
          res.end(await answer.text());
        },
        () => res.destroy()
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    front = new BadRequestFront(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    return front;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

let world: LongWaitWorld | undefined;

beforeAll(async () => {
  await workflowBundle();
});

afterEach(async () => {
  await world?.close();
  world = undefined;
});

test('a 400 no retry fixes: lastError in status, the page asked again 5 minutes later, then every event once', async () => {
  world = await LongWaitWorld.start();
  const w = world;
  const front = await BadRequestFront.start(w.atlassian.url);
  try {
    const orgId = w.newOrg();
    const added = w.addEvents(orgId, 25, 301);
    await w.withWorker(async () => {
      const handle = await w.startOrg(orgId);
      let failed: OrgAuditStatus | undefined;
      await waitUntil(async () => (failed = await w.status(handle)).stats.lastError !== null, 20_000, () => 'no error reported');
      const failedAt = failed!.stats.lastError!.at;
      expect(failed!.stats.lastError!.message).toMatch(/400/);
      // Not an operator's problem: the org does not wait for a new key.
      expect(failed!.phase).not.toBe(AuditPhase.AwaitingCredentials);
      // Non-retryable: the activity asked once, not again with backoff.
      expect(front.refused).toBe(1);

      await w.skipToJustBefore(failedAt + FAILURE_RETRY_MS);
      const waiting = await w.status(handle);
      expect(w.server.now() - failedAt).toBeGreaterThan(FAILURE_RETRY_MS - 2 * REAL_TIME_TAIL_MS);
      expect(waiting.stats.lastError).toEqual(failed!.stats.lastError);
      expect(waiting.phase).not.toBe(AuditPhase.AwaitingCredentials);
      expect(front.refused).toBe(1);
      expect(w.deliveredIds(orgId)).toEqual([]);

      front.refusing = false;
      await w.waitForDelivered(orgId, added.length);
      const [retry] = w.streamRequests(orgId);
      expect(retry!.status).toBe(200);
      expect(retry!.at - failedAt).toBeGreaterThanOrEqual(FAILURE_RETRY_MS - 100);
      expect(retry!.at - failedAt).toBeLessThan(FAILURE_RETRY_MS + 10_000);
      expect(w.deliveredIds(orgId)).toEqual(added);
      await w.stop(handle);
    }, { atlassianBaseUrl: front.url });
  } finally {
    await front.close();
  }
});

test('a refused key: the cursor held for 6 hours with no request and no new run, then resumed exactly there after rotate', async () => {
  world = await LongWaitWorld.start();
  const w = world;
  const orgId = w.newOrg();
  const before = w.addEvents(orgId, 15, 302);
  await w.withWorker(async () => {
    const handle = await w.startOrg(orgId);
    await w.waitForDelivered(orgId, before.length);
    // Caught up means the stream's empty page was read too, which comes a moment after the last logs arrive:
    // only then is `nextPollAt` the idle poll this test skips to.
    const caughtUp = await w.waitForPhase(handle, AuditPhase.Idle);

    w.atlassian.setApiKeys(orgId, [TEST_KEYS.atlassianRotated]);
    const after = w.addEvents(orgId, 12, 303);
    await w.skipToJustBefore(Date.parse(caughtUp.tail.nextPollAt));
    const held = await w.waitForPhase(handle, AuditPhase.AwaitingCredentials);
    const refused = w.streamRequests(orgId).filter((r) => r.status === 401);
    expect(refused).toHaveLength(1);
    expect(refused[0]!.query.cursor).toEqual(expect.any(String));
    const requestsWhenHeld = w.atlassian.requestCount(orgId);
    const historyWhenHeld = (await handle.fetchHistory()).events!.length;
    const { runId } = await handle.describe();

    const heldSince = w.server.now();
    await w.server.skip(6 * HOUR);
    expect(w.server.now() - heldSince).toBeGreaterThanOrEqual(6 * HOUR);
    const stillHeld = await w.status(handle);
    expect(stillHeld.phase).toBe(AuditPhase.AwaitingCredentials);
    expect(stillHeld.awaitingCredentials?.owner).toBe('atlassian');
    expect(stillHeld.tail).toMatchObject({ pages: held.tail.pages, events: before.length, watermark: held.tail.watermark });
    expect(stillHeld.run).toBe(held.run);
    expect((await handle.describe()).runId).toBe(runId);
    // Six hours add (next to) nothing to history: no timer keeps waking the run, so it never nears continue-as-new.
    expect((await handle.fetchHistory()).events!.length - historyWhenHeld).toBeLessThanOrEqual(5);
    expect(w.atlassian.requestCount(orgId)).toBe(requestsWhenHeld);
    expect(w.deliveredIds(orgId)).toEqual(before);

    await handle.signal(rotateCredentialsSignal, { atlassian: 'env:ATLASSIAN_API_KEY_ROTATED' });
    await w.waitForDelivered(orgId, before.length + after.length);
    const resumed = w.streamRequests(orgId).find((r) => r.at > refused[0]!.at);
    expect(resumed).toMatchObject({ status: 200, query: { cursor: refused[0]!.query.cursor } });
    expect(w.deliveredIds(orgId)).toEqual([...before, ...after]);
    const rotated = await w.status(handle);
    expect(rotated.phase).not.toBe(AuditPhase.AwaitingCredentials);
    expect(rotated.credentials.atlassian).toEqual({ ref: 'env:ATLASSIAN_API_KEY_ROTATED', version: 2 });
    expect(rotated.stats.duplicatesDropped).toBe(0);
    await w.stop(handle);
  });
});

describe('a long rate-limit wait is slept in Temporal: phase rate-limited, no request, through a worker restart', () => {
  test.each<{ label: string; retryAfterHeader: boolean; retryAfterSeconds: number; waitMs: [number, number] }>([
    { label: 'Retry-After: 240', retryAfterHeader: true, retryAfterSeconds: 240, waitMs: [240_000, 242_000] },
    // The stand-in's reset is rounded up to the second; the collector adds a second of margin.
    { label: 'X-RateLimit-Reset 4 minutes ahead, no Retry-After', retryAfterHeader: false, retryAfterSeconds: 240, waitMs: [241_000, 243_000] },
    // The documented bound (reference §5): Atlassian's word holds an org back 5 minutes at most at once.
    { label: 'Retry-After: 7200, held to 5 minutes', retryAfterHeader: true, retryAfterSeconds: 7_200, waitMs: [300_000, 302_000] },
  ])('$label', async ({ retryAfterHeader, retryAfterSeconds, waitMs: [minWaitMs, maxWaitMs] }) => {
    world = await LongWaitWorld.start({ retryAfterHeader });
    const w = world;
    const orgId = w.newOrg();
    const added = w.addEvents(orgId, 25, 304);
    w.atlassian.injectFault(orgId, { kind: 'rateLimit', retryAfterSeconds });
    const handle = await w.withWorker(async () => {
      const started = await w.startOrg(orgId);
      const limited = await w.waitForPhase(started, AuditPhase.RateLimited);
      const [refused] = w.streamRequests(orgId);
      expect(refused!.status).toBe(429);
      const until = Date.parse(limited.rateLimitedUntil!);
      expect(until - refused!.at).toBeGreaterThanOrEqual(minWaitMs - 100);
      expect(until - refused!.at).toBeLessThan(maxWaitMs);
      expect(limited.stats.rateLimited).toBe(1);

      await w.skipToJustBefore(until - MINUTE);
      expect((await w.status(started)).phase).toBe(AuditPhase.RateLimited);
      expect(w.streamRequests(orgId)).toHaveLength(1);
      return started;
    }, { sticky: false });

    // A new worker knows nothing of the wait but what Temporal kept: it must neither end it early nor lose it.
    await w.withWorker(async () => {
      const { rateLimitedUntil } = await w.waitForPhase(handle, AuditPhase.RateLimited);
      const until = Date.parse(rateLimitedUntil!);
      await w.skipToJustBefore(until);
      expect((await w.status(handle)).phase).toBe(AuditPhase.RateLimited);
      expect(w.streamRequests(orgId)).toHaveLength(1);
      expect(w.deliveredIds(orgId)).toEqual([]);

      await w.waitForDelivered(orgId, added.length);
      const [, resumed] = w.streamRequests(orgId);
      expect(resumed!.status).toBe(200);
      expect(resumed!.at).toBeGreaterThanOrEqual(until - 100);
      expect(w.deliveredIds(orgId)).toEqual(added);
      await w.stop(handle);
    }, { sticky: false });
  });
});
