/**
 * Liveness off the happy path, on a real dev server with a real worker and the stand-ins: inputs nobody here wrote
 * (odd signals, oversized pages, a log Datadog refuses, a cursor Atlassian stops accepting, a cursor that does not
 * move, a terminated run, fewer events per page than asked, repeats, late events, an outage). Each case asserts
 * that the org either progresses or reports why within a bounded time, that another org on the same worker keeps
 * delivering meanwhile, and that no event is lost.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import type { AuditWorker } from '../../worker/create-worker';
import { startOrg } from '../../client/org-control';
import { usersContext } from '../../dev/standins/atlassian-standin';
import { workflowIdForOrg } from '../../shared/org-workflow';
import { AuditPhase } from '../../shared/phase';
import { iso } from '../../workflows/backfill-ranges';
import { requestBackfillUpdate, resendDeadLettersSignal, resumeSignal, stopSignal } from '../../workflows/messages';
import { AuditHarness, duplicatesOf, waitUntil, workflowBundle } from '../support/audit-harness';

const HOUR = 3_600_000;

let harness: AuditHarness;
let worker: AuditWorker;
let workerRun: Promise<void>;
/** An org that has nothing wrong with it, on the same worker as every troubled one. */
let bystander: string;

beforeAll(async () => {
  harness = await AuditHarness.create();
  await workflowBundle();
  worker = await harness.createWorker();
  workerRun = worker.run();
  bystander = harness.newOrg();
  await harness.startOrg({ orgId: bystander, pageSize: 20 });
});

afterAll(async () => {
  worker?.shutdown();
  await workerRun;
  await harness?.close();
});

/** `count` events processed now whose own times lie in the last minutes. */
function addRecent(orgId: string, count: number, extra: { context?: ReturnType<typeof usersContext> } = {}) {
  const start = Date.now() - 10 * 60_000;
  return harness.atlassian.addEvents(
    orgId,
    Array.from({ length: count }, (_, i) => ({ action: 'group_created', time: start + i * 1_000, ...(extra.context && { context: extra.context }) }))
  );
}

/** While a troubled org is in trouble, the bystander's new events still arrive. */
async function bystanderKeepsDelivering(): Promise<void> {
  const before = new Set(harness.deliveredIds(bystander)).size;
  addRecent(bystander, 5);
  await harness.waitForDelivered(bystander, before + 5, 30_000);
}

function expectEachOnce(orgId: string, ids: readonly string[]): void {
  const delivered = harness.deliveredIds(orgId);
  expect(duplicatesOf(delivered)).toEqual([]);
  expect([...delivered].sort()).toEqual([...ids].sort());
}

async function waitForStatus(orgId: string, check: (s: Awaited<ReturnType<AuditHarness['status']>>) => boolean, timeoutMs = 30_000) {
  let last: unknown;
  await waitUntil(
    async () => check((last = await harness.status(orgId))),
    timeoutMs,
    () => `status never matched; last: ${JSON.stringify(last)?.slice(0, 800)}`
  );
}

async function stop(orgId: string): Promise<void> {
  const handle = harness.client.workflow.getHandle(workflowIdForOrg(orgId));
  await handle.signal(stopSignal, {});
  await handle.result();
}

test('signals with odd payloads are recorded, never fatal: the org keeps answering status and delivering', async () => {
  const orgId = harness.newOrg();
  const handle = await harness.startOrg({ orgId });
  const raw = harness.client.workflow.getHandle(workflowIdForOrg(orgId));
  // What an operator can send with the Temporal CLI: names the client would never send this way.
  await raw.signal('pause', { reason: 42 });
  await waitForStatus(orgId, (s) => s.phase === AuditPhase.Paused);
  await raw.signal('rotateCredentials', { atlassian: 12, datadog: 'raw-secret-value' });
  await raw.signal('backfill', { from: 'last tuesday' });
  await raw.signal('seek', 'nonsense');
  await raw.signal('resendDeadLetters', { eventIds: 'all' });
  const status = await harness.status(orgId);
  expect(status.stats.messagesRejected).toBe(5);
  expect(status.stats.lastRejectedMessage?.message).toMatch(/^resendDeadLetters ignored: /);
  expect(JSON.stringify(status)).not.toContain('raw-secret-value');
  expect(status.credentials.atlassian.version).toBe(1);

  await handle.signal(resumeSignal);
  const added = addRecent(orgId, 12);
  await harness.waitForDelivered(orgId, 12);
  expectEachOnce(orgId, added.map((e) => e.id));
  await bystanderKeepsDelivering();
  await raw.signal('stop', { reason: ['not', 'text'] });
  expect((await handle.result()).stoppedBecause).toBe('stopped by operator');
});

test('pages too large for workflow history are read smaller, and the org says so', async () => {
  const orgId = harness.newOrg();
  // 24 events of ~240 KB: a page of 500 asked for would be ~6 MB, over Temporal's 2 MB payload limit.
  const added = addRecent(orgId, 24, { context: usersContext(2_000) });
  await harness.startOrg({ orgId, pageSize: 500 });
  await harness.waitForDelivered(orgId, 24, 90_000);
  expectEachOnce(orgId, added.map((e) => e.id));
  const status = await harness.status(orgId);
  expect(status.pageLimit).toBeLessThan(500);
  await bystanderKeepsDelivering();
  await stop(orgId);
});

test('a log Datadog keeps refusing becomes a dead letter: the rest flows, the gap shows, resend brings it back', async () => {
  const orgId = harness.newOrg();
  const added = addRecent(orgId, 15);
  const refused = added[6]!.id;
  harness.datadog.setMalformedLogs([refused]);
  try {
    const handle = await harness.startOrg({ orgId, pageSize: 10 });
    await harness.waitForDelivered(orgId, 15, 60_000);
    const stub = harness.datadog.received.find((log) => (log as { atlassian?: { event_id?: string; dead_letter?: unknown } }).atlassian?.event_id === refused);
    expect(stub).toMatchObject({ atlassian: { event_id: refused, dead_letter: { status: 400 } } });
    await waitForStatus(orgId, (s) => s.deadLetters.some((d) => d.eventId === refused) && s.stats.deadLettered === 1);

    harness.datadog.setMalformedLogs(undefined);
    await handle.signal(resendDeadLettersSignal, {});
    await waitForStatus(orgId, (s) => s.deadLetters.length === 0);
    const resent = harness.datadog.received.filter((log) => (log as { atlassian?: { event_id?: string } }).atlassian?.event_id === refused);
    expect(resent).toEqual([expect.objectContaining({ atlassian: expect.objectContaining({ dead_letter: expect.anything() }) }), expect.objectContaining({ atlassian: expect.objectContaining({ resent_dead_letter: true }) })]);
    await stop(orgId);
  } finally {
    harness.datadog.setMalformedLogs(undefined);
  }
});

test('a cursor Atlassian stops accepting is recovered from the watermark: nothing lost, nothing twice', async () => {
  const orgId = harness.newOrg();
  const first = addRecent(orgId, 30);
  await harness.startOrg({ orgId, pageSize: 10 });
  await harness.waitForDelivered(orgId, 30);
  harness.atlassian.expireCursors(orgId);
  const second = addRecent(orgId, 30);
  await harness.waitForDelivered(orgId, 60, 60_000);
  expectEachOnce(orgId, [...first, ...second].map((e) => e.id));
  const status = await harness.status(orgId);
  expect(status.stats.cursorRecoveries).toBeGreaterThanOrEqual(1);
  expect(status.phase).not.toBe(AuditPhase.Stalled);
  await bystanderKeepsDelivering();
  await stop(orgId);
});

test('a cursor that stops advancing is restarted from the watermark, not read at full rate for ever', async () => {
  const orgId = harness.newOrg();
  const first = addRecent(orgId, 10);
  await harness.startOrg({ orgId, pageSize: 10 });
  await harness.waitForDelivered(orgId, 10);
  harness.atlassian.injectFault(orgId, { kind: 'stuckCursor' }, 2);
  const second = addRecent(orgId, 10);
  await harness.waitForDelivered(orgId, 20, 60_000);
  expectEachOnce(orgId, [...first, ...second].map((e) => e.id));
  await waitForStatus(orgId, (s) => s.stats.cursorRecoveries >= 1);
  await stop(orgId);
});

test('start after a run was terminated resumes from its replayed position, and says so', async () => {
  const orgId = harness.newOrg();
  const first = addRecent(orgId, 20);
  const handle = await harness.startOrg({ orgId, pageSize: 10 });
  await harness.waitForDelivered(orgId, 20);
  await handle.terminate('operator terminated it');
  const second = addRecent(orgId, 20);
  const restarted = await startOrg(harness.client, harness.taskQueue, { orgId, pollIntervalMs: 1_000, pageSize: 10, maxRequestsPerMinute: 6_000 });
  expect(restarted).toMatchObject({ started: true, resumedFrom: 'TERMINATED' });
  await harness.waitForDelivered(orgId, 40);
  expectEachOnce(orgId, [...first, ...second].map((e) => e.id));
  await stop(orgId);
});

test('a backfill range ends at the stream end when Atlassian serves fewer than asked, then settles for late events', async () => {
  const orgId = harness.newOrg();
  const now = Date.now();
  const from = now - 6 * HOUR;
  const to = now - 5 * HOUR;
  const old = harness.atlassian.addEvents(
    orgId,
    Array.from({ length: 120 }, (_, i) => ({ action: 'group_created', time: from + i * 10_000, processedAt: from + i * 10_000 + 1_000 }))
  );
  harness.atlassian.setMaxStreamPageSize(25);
  try {
    const handle = await harness.startOrg({ orgId, since: now - HOUR, pageSize: 100, maxPollIntervalMs: 2_000 });
    await handle.executeUpdate(requestBackfillUpdate, { args: [{ from: iso(from), to: iso(to) }] });
    await harness.waitForDelivered(orgId, 120, 60_000);
    await waitForStatus(orgId, (s) => s.backfills[0]?.state === 'settling');
    // Processed now, its own time inside the finished range: the settling range picks it up.
    const [late] = harness.atlassian.addEvents(orgId, [{ action: 'group_deleted', time: from + 5 }]);
    await harness.waitForDelivered(orgId, 121, 30_000);
    expectEachOnce(orgId, [...old, late!].map((e) => e.id));
    await stop(orgId);
  } finally {
    harness.atlassian.setMaxStreamPageSize(undefined);
  }
});

test('repeats within a page and across the pages of one poll are shipped once; identical malformed elements are kept apart', async () => {
  const orgId = harness.newOrg();
  const added = addRecent(orgId, 30);
  harness.atlassian.injectFault(orgId, { kind: 'duplicateEvent' });
  harness.atlassian.injectFault(orgId, { kind: 'overlappingCursor' });
  harness.atlassian.injectFault(orgId, { kind: 'unidentifiedElements', count: 2 });
  await harness.startOrg({ orgId, pageSize: 10 });
  await harness.waitForDelivered(orgId, 32);
  const delivered = harness.deliveredIds(orgId);
  expect(duplicatesOf(delivered)).toEqual([]);
  expect(delivered.filter((id) => !id.startsWith('malformed:')).sort()).toEqual(added.map((e) => e.id).sort());
  expect(delivered.filter((id) => id.startsWith('malformed:'))).toHaveLength(2);
  await stop(orgId);
});

test('during a Datadog outage the org shows as stalled, with the reason, and catches up after it', async () => {
  const orgId = harness.newOrg();
  await harness.startOrg({ orgId, pageSize: 10, stallAfterMs: 3_000 });
  await waitForStatus(orgId, (s) => s.phase === AuditPhase.Idle);
  harness.datadog.startOutage({ kind: 'status', status: 503 }, Date.now() + 12_000);
  const added = addRecent(orgId, 10);
  await waitForStatus(orgId, (s) => s.phase === AuditPhase.Stalled && /ship 10 logs/.test(s.stalled?.reason ?? ''), 20_000);
  await harness.waitForDelivered(orgId, 10, 90_000);
  expectEachOnce(orgId, added.map((e) => e.id));
  await waitForStatus(orgId, (s) => s.phase !== AuditPhase.Stalled && s.stalled === null);
  await stop(orgId);
});

test('credential references that would block or cross services hold only their own org, with the reason', async () => {
  // More named pipes than Node's thread pool has threads: a blocking read would stall every org on the worker.
  const pipes = Array.from({ length: 5 }, (_, i) => path.join(harness.secretsDir, `pipe-${i}`));
  for (const pipe of pipes) execFileSync('mkfifo', [pipe]);
  const held = pipes.map(() => harness.newOrg());
  await Promise.all(held.map((orgId, i) => harness.startOrg({ orgId, atlassianKey: `file:${pipes[i]}` })));
  const refusedKeys = () => harness.datadog.requests.filter((r) => r.status === 401 || r.status === 403).length;
  const refusedBefore = refusedKeys();
  const crossed = harness.newOrg();
  addRecent(crossed, 3);
  await harness.startOrg({ orgId: crossed, datadogKey: 'env:ATLASSIAN_API_KEY' });

  for (const [i, orgId] of held.entries()) {
    await waitForStatus(orgId, (s) => s.phase === AuditPhase.AwaitingCredentials && s.awaitingCredentials?.owner === 'atlassian');
    expect((await harness.status(orgId)).awaitingCredentials?.message).toContain(`file:${pipes[i]}`);
  }
  await waitForStatus(crossed, (s) => s.phase === AuditPhase.AwaitingCredentials && s.awaitingCredentials?.owner === 'datadog');
  expect((await harness.status(crossed)).awaitingCredentials?.message).toMatch(/env:ATLASSIAN_API_KEY is not allowed for datadog/);
  expect(harness.deliveredIds(crossed)).toEqual([]);
  // The Atlassian key never reached the intake: the stand-in would have refused it with 403.
  expect(refusedKeys()).toBe(refusedBefore);
  await bystanderKeepsDelivering();
  await Promise.all([...held, crossed].map(stop));
});
