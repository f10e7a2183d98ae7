/**
 * The core promise, on a real dev server with a real worker and the stand-ins: every event arrives in Datadog
 * exactly once, in order of processing, across pages, late processing, continue-as-new and bad pages.
 */
import type { WorkflowHandle } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { generateDemoEvents } from '../../dev/standins/demo-events';
import { stopSignal } from '../../workflows/messages';
import { AuditHarness, duplicatesOf, waitUntil, workflowBundle } from '../support/audit-harness';

let harness: AuditHarness;
const histories: Array<{ workflowId: string; history: Awaited<ReturnType<WorkflowHandle['fetchHistory']>> }> = [];

beforeAll(async () => {
  harness = await AuditHarness.create();
  await workflowBundle();
});

afterAll(async () => {
  await harness?.close();
});

/** Keeps the full history of every run of an org (continue-as-new included) for the replay test below. */
async function captureHistories(workflowId: string): Promise<void> {
  const runs = harness.client.workflow.list({ query: `WorkflowId = '${workflowId}'` });
  for await (const run of runs) {
    const history = await harness.client.workflow.getHandle(workflowId, run.runId).fetchHistory();
    histories.push({ workflowId: `${workflowId}/${run.runId}`, history });
  }
}

test('5,000 events over many pages, some on the same millisecond, arrive exactly once; then the tail keeps up', async () => {
  const orgId = harness.newOrg();
  const start = Date.now() - 30 * 60_000;
  const events = generateDemoEvents({ seed: 7, count: 5_000, startTime: start, spacingMs: 300 });
  // Several events share a millisecond, in time and in processing time.
  for (let i = 0; i < events.length; i += 50) {
    for (let j = 1; j < 4 && i + j < events.length; j++) events[i + j]!.time = events[i]!.time;
  }
  const added = harness.atlassian.addEvents(orgId, events);
  const worker = await harness.createWorker();

  await worker.runUntil(async () => {
    const handle = await harness.startOrg({ orgId, pageSize: 200, pollIntervalMs: 2_000 });
    await harness.waitForDelivered(orgId, added.length, 120_000);

    const delivered = harness.deliveredIds(orgId);
    expect(duplicatesOf(delivered)).toEqual([]);
    expect(new Set(delivered)).toEqual(new Set(added.map((e) => e.id)));
    expect(harness.atlassian.requestCount(orgId, 'events-stream')).toBeGreaterThanOrEqual(25);

    // A new event is picked up at the next poll, well within one poll interval once it is processed.
    const [fresh] = harness.atlassian.addEvents(orgId, [{ action: 'group_created', time: Date.now() }]);
    const addedAt = Date.now();
    await harness.waitForDelivered(orgId, added.length + 1, 10_000);
    expect(Date.now() - addedAt).toBeLessThan(2_000 + 1_500);
    expect(harness.deliveredIds(orgId).at(-1)).toBe(fresh!.id);

    const status = await harness.status(orgId);
    expect(status.stats.eventsShipped).toBe(added.length + 1);
    expect(status.stats.duplicatesDropped).toBe(0);
    await handle.signal(stopSignal, {});
    await handle.result();
    await captureHistories(handle.workflowId);
  });
});

test('events processed late (own time hours old, processing time new) arrive exactly once, at the next poll', async () => {
  const orgId = harness.newOrg();
  const now = Date.now();
  const worker = await harness.createWorker();
  await worker.runUntil(async () => {
    const handle = await harness.startOrg({ orgId, since: now - 24 * 3_600_000, pollIntervalMs: 1_000 });
    const first = harness.atlassian.addEvents(orgId, [{ action: 'group_created', time: now - 1_000 }]);
    await harness.waitForDelivered(orgId, 1, 15_000);

    // Processed now, but happened five hours ago: older than everything delivered so far.
    const late = harness.atlassian.addEvents(orgId, [
      { action: 'user_added_to_group', time: now - 5 * 3_600_000 },
      { action: 'api_token_created', time: now - 3 * 3_600_000 },
    ]);
    const addedAt = Date.now();
    await harness.waitForDelivered(orgId, 3, 15_000);
    expect(Date.now() - addedAt).toBeLessThan(1_000 + 1_500);
    // A few more polls: nothing comes twice.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    const delivered = harness.deliveredIds(orgId);
    expect(delivered).toEqual([...first, ...late].map((e) => e.id));
    const lateLog = harness.datadog.received.find((log) => (log as { atlassian: { event_id: string } }).atlassian.event_id === late[0]!.id) as {
      timestamp: number;
      atlassian: { time: string };
    };
    expect(lateLog.timestamp).toBe(now - 5 * 3_600_000);
    await handle.signal(stopSignal, {});
    await handle.result();
    await captureHistories(handle.workflowId);
  });
});

test('continue-as-new during a run loses nothing and repeats nothing', async () => {
  const orgId = harness.newOrg();
  const start = Date.now() - 20 * 60_000;
  const added = harness.atlassian.addEvents(orgId, generateDemoEvents({ seed: 11, count: 1_500, startTime: start, spacingMs: 500 }));
  const worker = await harness.createWorker();
  await worker.runUntil(async () => {
    // At 36 requests a minute each poll reads one page (the next is due later than a poll waits), so each run ends
    // after a page or two.
    const handle = await harness.startOrg({
      orgId,
      pageSize: 100,
      maxRequestsPerMinute: 36,
      continueAsNewAfterHistoryLength: 20,
    });
    await harness.waitForDelivered(orgId, added.length, 60_000);
    // New events after the continue-as-new chain are still picked up.
    const more = harness.atlassian.addEvents(orgId, generateDemoEvents({ seed: 12, count: 30, startTime: Date.now(), spacingMs: 1 }));
    await harness.waitForDelivered(orgId, added.length + more.length, 30_000);
    const delivered = harness.deliveredIds(orgId);
    expect(duplicatesOf(delivered)).toEqual([]);
    expect(delivered).toEqual([...added, ...more].map((e) => e.id));
    const status = await harness.status(orgId);
    expect(status.run).toBeGreaterThan(3);
    await handle.signal(stopSignal, {});
    await handle.result();
    await captureHistories(handle.workflowId);
  });
});

test('an unparsable page is retried: neither shipped nor skipped; an invalid event is shipped marked, not dropped', async () => {
  const orgId = harness.newOrg();
  const start = Date.now() - 60_000;
  const worker = await harness.createWorker();
  harness.atlassian.injectFault(orgId, { kind: 'malformedBody' }, 2);
  harness.atlassian.injectFault(orgId, { kind: 'wrongShape' }, 1);
  harness.atlassian.injectFault(orgId, { kind: 'invalidEvent' }, 1);
  const added = harness.atlassian.addEvents(orgId, generateDemoEvents({ seed: 3, count: 10, startTime: start, spacingMs: 10 }));
  await worker.runUntil(async () => {
    const handle = await harness.startOrg({ orgId });
    await harness.waitForDelivered(orgId, added.length, 30_000);
    const delivered = harness.deliveredIds(orgId);
    expect(delivered).toEqual(added.map((e) => e.id));
    // Three bad answers, then the good page: four requests before anything was shipped.
    const streamRequests = harness.atlassian.requests.filter((r) => r.orgId === orgId && r.endpoint === 'events-stream');
    expect(streamRequests.slice(0, 4).map((r) => r.status)).toEqual([200, 200, 200, 200]);
    const marked = harness.datadog.received.filter(
      (log) => (log as { atlassian: { org_id: string; parse_error?: string } }).atlassian.org_id === orgId && (log as { atlassian: { parse_error?: string } }).atlassian.parse_error
    );
    expect(marked).toHaveLength(1);
    const status = await harness.status(orgId);
    expect(status.stats.malformedEvents).toBe(1);
    await handle.signal(stopSignal, {});
    await handle.result();
    await captureHistories(handle.workflowId);
  });
});

test('the histories captured above replay without nondeterminism', async () => {
  expect(histories.length).toBeGreaterThan(4);
  for (const { workflowId, history } of histories) {
    await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, workflowId);
  }
});
