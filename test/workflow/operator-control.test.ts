/**
 * Steering an organization as an operator does, through the real command line where it matters: pause during a
 * backfill (across a worker restart and continue-as-new), a three-day backfill beside a live tail, credential
 * rotation for both sides, Datadog's 18-hour window, stop and resume.
 */
import type { AuditWorker } from '../../worker/create-worker';
import { generateDemoEvents } from '../../dev/standins/demo-events';
import { AuditPhase } from '../../shared/phase';
import { workflowIdForOrg } from '../../shared/org-workflow';
import { pauseSignal, requestBackfillUpdate, resumeSignal, rotateCredentialsSignal, stopSignal } from '../../workflows/messages';
import type { OrgAuditStatus } from '../../workflows/org-audit-state';
import { AuditHarness, TEST_KEYS, duplicatesOf, waitUntil } from '../support/audit-harness';
import { runEntryPoint } from '../support/processes';

const HOUR = 3_600_000;
let harness: AuditHarness;

beforeAll(async () => {
  harness = await AuditHarness.create();
});

afterAll(async () => {
  await harness?.close();
});

function cli(...args: string[]) {
  return runEntryPoint('client/main.ts', args, { TEMPORAL_ADDRESS: harness.env.address, AUDIT_TASK_QUEUE: harness.taskQueue });
}

async function cliStatus(orgId: string): Promise<OrgAuditStatus> {
  const { code, output } = await cli('status', '--org', orgId, '--json');
  expect(code).toBe(0);
  return JSON.parse(output) as OrgAuditStatus;
}

/** Runs `work` with a worker, then shuts the worker down (in-flight activities finish). */
async function withWorker<T>(work: (worker: AuditWorker) => Promise<T>): Promise<T> {
  const worker = await harness.createWorker();
  return worker.runUntil(() => work(worker));
}

/** Adds `count` events whose own time spreads evenly over [from, to), processed now. */
function addHistory(orgId: string, count: number, from: number, to: number, seed: number) {
  const events = generateDemoEvents({ seed, count, startTime: from, spacingMs: 1, orgId }).map((event, i) => ({
    ...event,
    time: from + Math.floor(((to - from) * i) / count),
    processedAt: undefined,
  }));
  return harness.atlassian.addEvents(orgId, events);
}

test('pause during a backfill: no request while paused, across a worker restart and continue-as-new; then exactly once', async () => {
  const orgId = harness.newOrg();
  const since = Date.now() - HOUR;
  const history = addHistory(orgId, 1_500, since - 2 * 24 * HOUR, since, 31);
  const handle = await withWorker(async () => {
    const started = await harness.startOrg({ orgId, since, pageSize: 50, maxRequestsPerMinute: 300, continueAsNewAfterHistoryLength: 120 });
    await started.executeUpdate(requestBackfillUpdate, { args: [{ from: since - 2 * 24 * HOUR, to: since }] });
    await harness.waitForDelivered(orgId, 300, 60_000);
    await started.signal(pauseSignal, { reason: 'maintenance window' });
    await waitUntil(async () => (await harness.status(orgId)).phase === AuditPhase.Paused, 20_000, () => 'not paused yet');
    // Operators keep talking to a paused org; its history grows until it continues as new, still paused.
    const runAtPause = (await harness.status(orgId)).run;
    let note = 0;
    await waitUntil(
      async () => {
        await started.signal(pauseSignal, { reason: `maintenance window (note ${++note})` });
        return (await harness.status(orgId)).run > runAtPause;
      },
      30_000,
      () => `no continue-as-new after ${note} signals`
    );
    return started;
  });
  const requestsAtPause = harness.atlassian.requestCount(orgId, 'events-stream');

  // A new worker: the pause holds, and continue-as-new (the history is past its threshold) keeps it.
  await withWorker(async () => {
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    const status = await cliStatus(orgId);
    expect(status.phase).toBe(AuditPhase.Paused);
    expect(status.paused?.reason).toMatch(/^maintenance window/);
    // The run now in progress was continued-as-new while paused: it has not scheduled a single activity.
    expect(status.run).toBeGreaterThan(1);
    const currentRun = await harness.client.workflow.getHandle(handle.workflowId).fetchHistory();
    expect(currentRun.events?.some((e) => e.activityTaskScheduledEventAttributes)).toBe(false);
    expect(harness.atlassian.requestCount(orgId, 'events-stream')).toBe(requestsAtPause);

    await handle.signal(resumeSignal);
    await harness.waitForDelivered(orgId, history.length, 90_000);
    const delivered = harness.deliveredIds(orgId);
    expect(duplicatesOf(delivered)).toEqual([]);
    expect(new Set(delivered)).toEqual(new Set(history.map((e) => e.id)));
    await waitUntil(async () => (await harness.status(orgId)).backfills.every(readToItsEnd), 20_000, () => 'backfill not read to its end');
    await handle.signal(stopSignal, {});
    await handle.result();
  });
});

/** Read to the end of its stream: settling (still polled for late events) or done. */
function readToItsEnd(range: { state: string }): boolean {
  return range.state === 'settling' || range.state === 'done';
}

test('a three-day backfill beside a live tail delivers its range exactly once; the tail stays within two poll intervals', async () => {
  const orgId = harness.newOrg();
  const since = Date.now() - 10 * 60_000;
  const pollIntervalMs = 2_000;
  const history = addHistory(orgId, 3_000, since - 3 * 24 * HOUR, since, 41);
  // Events older than the tail's start must not come through the tail: only the backfill may deliver them.
  const addedAt = new Map<string, number>();
  const firstSeen = new Map<string, number>();

  await withWorker(async () => {
    const handle = await harness.startOrg({ orgId, since, pageSize: 100, pollIntervalMs, maxRequestsPerMinute: 120 });
    const { code, output } = await cli('backfill', '--org', orgId, '--from', new Date(since - 3 * 24 * HOUR).toISOString(), '--to', new Date(since).toISOString());
    expect(code).toBe(0);
    expect(output).toMatch(/^accepted as range 1: /);
    const covered = await cli('backfill', '--org', orgId, '--from', new Date(since + 60_000).toISOString(), '--to', new Date(since + 120_000).toISOString());
    expect(covered.code).toBe(2);
    expect(covered.output.trim()).toBe(`error: the range is already covered by the tail, which delivers every event since ${new Date(since).toISOString()}`);

    const live = setInterval(() => {
      const [event] = harness.atlassian.addEvents(orgId, [{ action: 'user_added_to_group', time: Date.now() }]);
      addedAt.set(event!.id, Date.now());
    }, 700);
    const watcher = setInterval(() => {
      for (const id of harness.deliveredIds(orgId)) if (!firstSeen.has(id)) firstSeen.set(id, Date.now());
    }, 50);
    try {
      await waitUntil(async () => (await harness.status(orgId)).backfills.every(readToItsEnd), 120_000, () => 'backfill not read to its end');
    } finally {
      clearInterval(live);
    }
    await harness.waitForDelivered(orgId, history.length + addedAt.size, 20_000);
    clearInterval(watcher);
    for (const id of harness.deliveredIds(orgId)) if (!firstSeen.has(id)) firstSeen.set(id, Date.now());

    const delivered = harness.deliveredIds(orgId);
    expect(duplicatesOf(delivered)).toEqual([]);
    expect(new Set(delivered)).toEqual(new Set([...history.map((e) => e.id), ...addedAt.keys()]));
    const lags = [...addedAt].map(([id, at]) => firstSeen.get(id)! - at);
    const worst = Math.max(...lags);
    console.log(`tail lag during a 3-day backfill of ${history.length} events: worst ${worst} ms over ${lags.length} live events`);
    expect(worst).toBeLessThanOrEqual(2 * pollIntervalMs);
    expect(addedAt.size).toBeGreaterThan(5);

    // Backfilled events older than 18 hours arrive re-dated, with their own time kept.
    const old = harness.datadog.received.find(
      (log) => (log as { atlassian: { org_id: string; time: string } }).atlassian.org_id === orgId && Date.parse((log as { atlassian: { time: string } }).atlassian.time) < Date.now() - 48 * HOUR
    ) as { timestamp: number; ddtags: string; atlassian: { time: string; redated: { original_timestamp: number } } };
    expect(old).toBeDefined();
    expect(Math.abs(old.timestamp - Date.now())).toBeLessThan(5 * 60_000);
    expect(old.atlassian.redated.original_timestamp).toBe(Date.parse(old.atlassian.time));
    expect(old.ddtags).toContain('redated:true');
    expect(old.ddtags).toContain('collection_origin:backfill');
    expect(harness.datadog.dropped).toHaveLength(0);
    await handle.signal(stopSignal, {});
    await handle.result();
  });
});

test('a changed Atlassian key holds the org in awaiting-credentials, skipping nothing, until rotate', async () => {
  const orgId = harness.newOrg();
  const before = harness.atlassian.addEvents(orgId, generateDemoEvents({ seed: 51, count: 20, startTime: Date.now() - 60_000, spacingMs: 10, orgId }));
  await withWorker(async () => {
    const handle = await harness.startOrg({ orgId });
    await harness.waitForDelivered(orgId, before.length, 20_000);
    harness.atlassian.setApiKeys(orgId, [TEST_KEYS.atlassianRotated]);
    const during = harness.atlassian.addEvents(orgId, generateDemoEvents({ seed: 52, count: 30, startTime: Date.now(), spacingMs: 10, orgId }));

    await waitUntil(async () => (await harness.status(orgId)).phase === AuditPhase.AwaitingCredentials, 20_000, () => 'not awaiting');
    const status = await cliStatus(orgId);
    expect(status.awaitingCredentials?.owner).toBe('atlassian');
    expect(status.awaitingCredentials?.message).toMatch(/Atlassian refused the API key with 401/);
    await waitUntil(
      async () => {
        const found = await listByPhase(AuditPhase.AwaitingCredentials);
        return found.includes(workflowIdForOrg(orgId));
      },
      20_000,
      () => 'search attribute not visible'
    );
    expect(harness.deliveredIds(orgId)).toHaveLength(before.length);
    const listed = await cli('list', '--json');
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.output)).toContainEqual(
      expect.objectContaining({ orgId, phase: AuditPhase.AwaitingCredentials, workflowId: workflowIdForOrg(orgId) })
    );

    const rotated = await cli('rotate', '--org', orgId, '--atlassian-key', 'env:ATLASSIAN_API_KEY_ROTATED');
    expect(rotated.code).toBe(0);
    await harness.waitForDelivered(orgId, before.length + during.length, 20_000);
    expect(harness.deliveredIds(orgId)).toEqual([...before, ...during].map((e) => e.id));
    const after = await harness.status(orgId);
    expect(after.credentials.atlassian).toEqual({ ref: 'env:ATLASSIAN_API_KEY_ROTATED', version: 2 });
    expect(after.awaitingCredentials).toBeNull();
    await handle.signal(stopSignal, {});
    await handle.result();
  });
});

test('a revoked Datadog key holds the org with its cursor, until rotate; then every event arrives once', async () => {
  const orgId = harness.newOrg();
  const before = harness.atlassian.addEvents(orgId, generateDemoEvents({ seed: 61, count: 10, startTime: Date.now() - 60_000, spacingMs: 10, orgId }));
  await withWorker(async () => {
    const handle = await harness.startOrg({ orgId });
    await harness.waitForDelivered(orgId, before.length, 20_000);
    harness.datadog.setApiKeys([TEST_KEYS.datadogRotated]);
    const during = harness.atlassian.addEvents(orgId, generateDemoEvents({ seed: 62, count: 15, startTime: Date.now(), spacingMs: 10, orgId }));
    await waitUntil(async () => (await harness.status(orgId)).phase === AuditPhase.AwaitingCredentials, 20_000, () => 'not awaiting');
    const status = await cliStatus(orgId);
    expect(status.awaitingCredentials).toMatchObject({ owner: 'datadog', message: 'Datadog refused the API key with 403' });

    expect((await cli('rotate', '--org', orgId, '--datadog-key', 'env:DD_API_KEY_ROTATED')).code).toBe(0);
    await harness.waitForDelivered(orgId, before.length + during.length, 20_000);
    expect(harness.deliveredIds(orgId)).toEqual([...before, ...during].map((e) => e.id));
    await handle.signal(stopSignal, {});
    await handle.result();
  });
  harness.datadog.setApiKeys([TEST_KEYS.datadog]);
});

test('stop finishes the page in flight; start resumes from the same cursor without re-delivering', async () => {
  const orgId = harness.newOrg();
  const first = harness.atlassian.addEvents(orgId, generateDemoEvents({ seed: 71, count: 40, startTime: Date.now() - 60_000, spacingMs: 10, orgId }));
  await withWorker(async () => {
    const handle = await harness.startOrg({ orgId });
    await harness.waitForDelivered(orgId, first.length, 20_000);
    // Messages sent by other tools (no input, a raw key in a rotation) are absorbed, never fatal to the workflow.
    await handle.signal(pauseSignal);
    await waitUntil(async () => (await harness.status(orgId)).paused?.reason === 'paused by operator', 10_000, () => 'not paused');
    await handle.signal(rotateCredentialsSignal, { datadog: 'a-raw-key-value' });
    await waitUntil(
      async () => /^rotateCredentials ignored: datadog: /.test((await harness.status(orgId)).stats.lastRejectedMessage?.message ?? ''),
      10_000,
      () => 'rotation not refused'
    );
    expect((await harness.status(orgId)).credentials.datadog).toEqual({ ref: 'env:DD_API_KEY', version: 1 });
    await handle.signal(resumeSignal);
    expect((await cli('stop', '--org', orgId)).code).toBe(0);
    const result = await handle.result();
    expect(result.stoppedBecause).toBe('stopped by operator');

    const paused = await cli('pause', '--org', orgId);
    expect(paused.code).toBe(1);
    expect(paused.output.trim()).toBe(`error: organization ${orgId} has no running collector (start it with: atlassian-audit start --org ${orgId})`);

    const second = harness.atlassian.addEvents(orgId, generateDemoEvents({ seed: 72, count: 25, startTime: Date.now(), spacingMs: 10, orgId }));
    const started = await cli('start', '--org', orgId, '--poll-interval', '1s', '--max-requests-per-minute', '600');
    expect(started.output.trim()).toBe(`${workflowIdForOrg(orgId)} started, resuming from where its last run stopped`);
    const again = await cli('start', '--org', orgId);
    expect(again.output.trim()).toBe(`${workflowIdForOrg(orgId)} is already running; left as it is`);
    await harness.waitForDelivered(orgId, first.length + second.length, 20_000);
    expect(harness.deliveredIds(orgId)).toEqual([...first, ...second].map((e) => e.id));
    await harness.client.workflow.getHandle(workflowIdForOrg(orgId)).signal(stopSignal, {});
  });
});

async function listByPhase(phase: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const execution of harness.client.workflow.list({ query: `AtlassianAuditPhase = '${phase}' AND ExecutionStatus = 'Running'` })) {
    ids.push(execution.workflowId);
  }
  return ids;
}
