/**
 * Pages stay on the worker that polled them (activities/page-store.ts): the poll keeps its events in its process's
 * page store and returns a reference and that process's own task queue, where map and ship then run. A page lost
 * with its worker (a SIGKILL: schedule-to-start timeout, `PageWorkerGone`) or let go by the store (`PageNotStored`)
 * is polled again from the cursor, which has not moved.
 *
 * 1. `npm run worker` processes on one task queue; the one holding the org's page is found through the workflow's
 *    pending map or ship (its task queue, and that queue's poller) and killed with SIGKILL, twice, at different
 *    moments of the page's life: as the map or ship is found (most often running), and while the ship waits for its
 *    retry on the worker's queue. Every event arrives; repeats stay within one intake request per kill; no poll ever
 *    started from a cursor past an event Datadog did not have yet; the loss shows in status. Each kill costs the org
 *    the schedule-to-start timeout (30 s), after the start-to-close or heartbeat timeout (20 s) of a running attempt:
 *    two kills keep the file within its time.
 * 2. A worker whose store is bounded to one byte: another org's page landing after this org's (between its poll and
 *    its map, or between its map and its ship) lets this org's page go; the org reads it again, every event once.
 * 3. The histories of every run of both orgs hold no audit event content and no payload over 64 KB.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { AtlassianEvent } from '../../activities/atlassian-schema';
import { generateDemoEvents } from '../../dev/standins/demo-events';
import { workflowIdForOrg } from '../../shared/org-workflow';
import { stopSignal } from '../../workflows/messages';
import type { OrgAuditResult, orgAuditWorkflow } from '../../workflows/org-audit-workflow';
import { AuditHarness, duplicatesOf, waitUntil, workflowBundle } from '../support/audit-harness';
import { startEntryPoint, type RunningProcess } from '../support/processes';
import { historiesOfEveryRun, payloadsIn, storedBytesOf, type RunHistory } from '../support/stored-history';

const { TaskQueueKind, TaskQueueType, PendingActivityState, TimeoutType } = temporal.api.enums.v1;
type History = temporal.api.history.v1.IHistory;
type OrgHandle = WorkflowHandle<typeof orgAuditWorkflow>;

/** Datadog's most logs per intake request: what one poll's batch is capped at, so the most a kill can repeat. */
const MAX_LOGS_PER_REQUEST = 1_000;
const PAGE_ACTIVITIES = new Set(['mapEvents', 'shipLogs']);

let harness: AuditHarness;
let scratchDir: string;
/** A prebuilt workflow bundle (AUDIT_WORKFLOW_BUNDLE), as the container image runs: a worker process starts without webpack. */
let bundlePath: string;
/** Every org these tests ran, and every event seeded for them: test 3 searches their histories. */
const orgsRun: string[] = [];
const seeded: AtlassianEvent[] = [];
const processes: RunningProcess[] = [];

beforeAll(async () => {
  harness = await AuditHarness.create();
  scratchDir = await mkdtemp(join(tmpdir(), 'audit-page-claims-'));
  bundlePath = join(scratchDir, 'workflow-bundle.js');
  await writeFile(bundlePath, (await workflowBundle()).code);
});

afterAll(async () => {
  await Promise.all(processes.map((p) => endProcess(p, 'SIGTERM')));
  await harness?.close();
  if (scratchDir) await rm(scratchDir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------------------------
// Worker processes and the page they hold

function workerEnv(): NodeJS.ProcessEnv {
  return {
    ...harness.workerProcessEnv(),
    AUDIT_DEAD_LETTER_DIR: join(scratchDir, 'dead-letters'),
    AUDIT_WORKFLOW_BUNDLE: bundlePath,
  };
}

async function startWorkerProcess(): Promise<RunningProcess> {
  const worker = startEntryPoint('worker/main.ts', [], workerEnv());
  processes.push(worker);
  await worker.waitForOutput(/Worker polling task queue/);
  return worker;
}

async function endProcess(worker: RunningProcess, signal: NodeJS.Signals): Promise<void> {
  if (worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill(signal);
  await worker.exited;
}

/** The process (by pid) that polls a task queue: each page queue has exactly one. Undefined before it has polled. */
async function pollerPidOf(taskQueue: string): Promise<number | undefined> {
  const { pollers } = await harness.client.workflowService.describeTaskQueue({
    namespace: harness.env.namespace,
    taskQueue: { name: taskQueue, kind: TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
    taskQueueType: TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
  });
  const pids = new Set((pollers ?? []).map((p) => Number.parseInt(p.identity?.split('@')[0] ?? '', 10)));
  return pids.size === 1 ? [...pids][0] : undefined;
}

/** The task queue of the open (scheduled, not closed) map or ship in a history, and that activity's name. */
function openPageActivityIn(history: History): { activity: string; taskQueue: string } | undefined {
  const closed = new Set<string>();
  for (const event of history.events ?? []) {
    const close =
      event.activityTaskCompletedEventAttributes ??
      event.activityTaskFailedEventAttributes ??
      event.activityTaskTimedOutEventAttributes ??
      event.activityTaskCanceledEventAttributes;
    if (close) closed.add(String(close.scheduledEventId));
  }
  for (const event of [...(history.events ?? [])].reverse()) {
    const scheduled = event.activityTaskScheduledEventAttributes;
    const activity = scheduled?.activityType?.name ?? '';
    if (scheduled && PAGE_ACTIVITIES.has(activity) && !closed.has(String(event.eventId))) {
      return { activity, taskQueue: scheduled.taskQueue!.name! };
    }
  }
  return undefined;
}

interface PageHolder {
  pid: number;
  activity: string;
  state: 'scheduled' | 'started';
  attempt: number;
  taskQueue: string;
}

/** The pending map or ship of the org's workflow and the process whose page queue it targets; undefined if none. */
async function pageHolder(handle: OrgHandle): Promise<PageHolder | undefined> {
  const { raw } = await handle.describe();
  const pending = raw.pendingActivities?.find((a) => PAGE_ACTIVITIES.has(a.activityType?.name ?? ''));
  if (!pending) return undefined;
  const taskQueue = pending.activityOptions?.taskQueue?.name || openPageActivityIn(await handle.fetchHistory())?.taskQueue;
  if (!taskQueue) return undefined;
  const pid = await pollerPidOf(taskQueue);
  if (pid === undefined) return undefined;
  const state = pending.state === PendingActivityState.PENDING_ACTIVITY_STATE_STARTED ? 'started' : 'scheduled';
  return { pid, activity: pending.activityType!.name!, state, attempt: pending.attempt ?? 1, taskQueue };
}

interface Kill extends PageHolder {
  moment: string;
  distinctDeliveredAtKill: number;
}

/**
 * Waits until the org's pending map or ship is `wanted`, then SIGKILLs the worker process holding its page, and
 * starts another in its place so that two keep running.
 */
async function killPageHolder(handle: OrgHandle, orgId: string, moment: string, wanted: (holder: PageHolder) => boolean): Promise<Kill> {
  let holder: PageHolder | undefined;
  await waitUntil(
    async () => {
      holder = await pageHolder(handle);
      return holder !== undefined && wanted(holder) && processes.some((p) => p.child.pid === holder!.pid && p.child.exitCode === null);
    },
    30_000,
    () => `no pending map or ship for "${moment}"; last seen ${JSON.stringify(holder)}`,
    20
  );
  const victim = processes.find((p) => p.child.pid === holder!.pid)!;
  await endProcess(victim, 'SIGKILL');
  const kill = { ...holder!, moment, distinctDeliveredAtKill: new Set(harness.deliveredIds(orgId)).size };
  console.log(`page claims: SIGKILL of pid ${kill.pid} (${moment}): ${kill.activity} ${kill.state}, attempt ${kill.attempt}, ${kill.distinctDeliveredAtKill} delivered`);
  await startWorkerProcess();
  return kill;
}

// ---------------------------------------------------------------------------------------------------------------
// What reached Datadog, and when

/**
 * When each event of `orgId` first reached the Datadog stand-in (its request's answer time, epoch ms). The stand-in
 * keeps the logs of accepted requests in order and the requests with their time and entries; with one org shipping
 * one page at a time, each accepted request's logs are the next `entries` received.
 */
function firstArrivals(orgId: string): Map<string, number> {
  const received = harness.datadog.received;
  const arrivals = new Map<string, number>();
  let next = 0;
  for (const request of harness.datadog.requests) {
    if (request.status !== 202 || request.entries === null) continue;
    for (const log of received.slice(next, next + request.entries)) {
      const atlassian = log['atlassian'] as { org_id?: string; event_id?: string };
      if (atlassian.org_id === orgId && !arrivals.has(atlassian.event_id!)) arrivals.set(atlassian.event_id!, request.at);
    }
    next += request.entries;
  }
  expect(next).toBe(received.length);
  return arrivals;
}

/** The stand-in's cursor is base64url JSON whose `position` is the sequence of the last event it served (1-based). */
function cursorPosition(cursor: string | null): number {
  if (cursor === null) return 0;
  return (JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { position: number }).position;
}

/** Every poll the org's workflows scheduled: when, and from which cursor. */
function pollsIn(histories: RunHistory[]): Array<{ at: number; cursor: string | null }> {
  return histories.flatMap(({ history }) =>
    (history.events ?? []).flatMap((event) => {
      const scheduled = event.activityTaskScheduledEventAttributes;
      if (scheduled?.activityType?.name !== 'pollEventsPage') return [];
      const input = JSON.parse(Buffer.from(scheduled.input!.payloads![0]!.data!).toString('utf8')) as { cursor: string | null };
      const time = event.eventTime!;
      return [{ at: Number(time.seconds) * 1000 + Math.floor((time.nanos ?? 0) / 1e6), cursor: input.cursor }];
    })
  );
}

/** Map and ship activities that never started on their page's worker, and those that failed `PageNotStored`. */
function pageLossesIn(histories: RunHistory[]): { workerGone: number; notStored: number } {
  let workerGone = 0;
  let notStored = 0;
  for (const { history } of histories) {
    for (const event of history.events ?? []) {
      const timedOut = event.activityTaskTimedOutEventAttributes;
      if (timedOut?.failure?.timeoutFailureInfo?.timeoutType === TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_START) workerGone++;
      const failed = event.activityTaskFailedEventAttributes;
      if (failed?.failure?.applicationFailureInfo?.type === 'PageNotStored') notStored++;
    }
  }
  return { workerGone, notStored };
}

async function stop(handle: OrgHandle): Promise<OrgAuditResult> {
  await handle.signal(stopSignal, {});
  return handle.result();
}

// ---------------------------------------------------------------------------------------------------------------

test('worker processes SIGKILLed while they hold the org’s page: every event arrives, repeats within one request per kill, the cursor never ahead of Datadog', async () => {
  const orgId = harness.newOrg();
  orgsRun.push(orgId);
  const added = harness.atlassian.addEvents(orgId, generateDemoEvents({ seed: 41, count: 2_000, startTime: Date.now() - 20 * 60_000, spacingMs: 250, orgId }));
  seeded.push(...added);
  await Promise.all([startWorkerProcess(), startWorkerProcess()]);

  // 36 requests a minute: a poll reads one page of 100 (the next request is more than the 1.5 s a poll waits for
  // it away), so the delivery takes many polls and a kill always finds one in progress.
  const handle = await harness.startOrg({ orgId, pageSize: 100, maxRequestsPerMinute: 36 });
  const kills: Kill[] = [];
  const recovered = async (after: Kill) => harness.waitForDelivered(orgId, after.distinctDeliveredAtKill + 1, 90_000);

  // As it comes: the first map or ship seen pending, whichever state it is in.
  await harness.waitForDelivered(orgId, 300, 60_000);
  kills.push(await killPageHolder(handle, orgId, 'as it comes', () => true));
  await recovered(kills.at(-1)!);

  // The page held while nothing runs on it: the intake answered 503, the ship waits out its Retry-After on the
  // worker's queue, and the retry can then never start.
  harness.datadog.injectFault({ kind: 'status', status: 503, retryAfterSeconds: 2 }, 1);
  kills.push(await killPageHolder(handle, orgId, 'ship waiting for its retry', (h) => h.activity === 'shipLogs' && h.attempt >= 2 && h.state === 'scheduled'));

  await harness.waitForDelivered(orgId, added.length, 150_000);
  const delivered = harness.deliveredIds(orgId);
  const duplicates = duplicatesOf(delivered);
  expect(new Set(delivered)).toEqual(new Set(added.map((e) => e.id)));
  expect(duplicates.length).toBeLessThanOrEqual(MAX_LOGS_PER_REQUEST * kills.length);

  const status = await harness.status(orgId);
  const result = await stop(handle);
  // The next test's in-process worker must be the only one on the task queue.
  await Promise.all(processes.map((p) => endProcess(p, 'SIGTERM')));
  const histories = await historiesOfEveryRun(harness.client, workflowIdForOrg(orgId));
  const losses = pageLossesIn(histories);
  console.log(
    `page claims: ${kills.length} kills, ${delivered.length} logs for ${added.length} events (${duplicates.length} repeats), ` +
      `pagesLost ${status.stats.pagesLost}, ${losses.workerGone} schedule-to-start timeouts, ${losses.notStored} PageNotStored`
  );
  // The loss shows in status: one page read again for each map or ship that never started on its dead worker (the
  // kill "as it comes" may find the ship done by the time the signal lands; the one during the retry cannot).
  expect(status.stats.pagesLost).toBeGreaterThan(0);
  expect(status.stats.pagesLost).toBe(losses.workerGone + losses.notStored);
  expect(losses.workerGone).toBeGreaterThanOrEqual(1);

  // No poll started from a cursor that had passed an event Datadog did not have by then.
  const arrivals = firstArrivals(orgId);
  const order = harness.atlassian.events(orgId).map((e) => e.id);
  const polls = pollsIn(histories);
  expect(polls.length).toBeGreaterThan(15);
  for (const poll of polls) {
    const passed = order.slice(0, cursorPosition(poll.cursor));
    const notYetDelivered = passed.filter((id) => !(arrivals.get(id)! <= poll.at));
    expect({ pollAt: new Date(poll.at).toISOString(), passed: passed.length, notYetDelivered: notYetDelivered.length }).toEqual({
      pollAt: new Date(poll.at).toISOString(),
      passed: passed.length,
      notYetDelivered: 0,
    });
  }
  // And the cursor did reach the end.
  expect(cursorPosition(result.state.tail.cursor)).toBe(order.length);
});

test('a page the store let go (another org’s page past its one-byte bound) is read again: every event once, in order', async () => {
  const orgId = harness.newOrg();
  orgsRun.push(orgId);
  const added = harness.atlassian.addEvents(orgId, generateDemoEvents({ seed: 42, count: 300, startTime: Date.now() - 10 * 60_000, spacingMs: 1_000, orgId }));
  seeded.push(...added);

  const worker = await harness.createWorker({ pageStore: { maxBytes: 1 } });
  // Another org's page lands in the store right after some of this org's, in cycles of four polls: after the first
  // poll's put (its map then finds nothing), and after the third poll's map (its ship then finds nothing); the second
  // and fourth go through. Never two losses in a row, so the org never reaches its hold after three.
  const store = worker.pageStore;
  const putEvents = store.putEvents.bind(store);
  const putLogs = store.putLogs.bind(store);
  let polls = 0;
  let evicted = 0;
  const evictAfterMap = new Set<string>();
  const anotherOrgsPage = () => {
    const before = store.size.pages;
    putEvents('another-org', [], 1);
    if (store.size.pages <= before) evicted++;
  };
  store.putEvents = (owner, events, bytes) => {
    const page = putEvents(owner, events, bytes);
    if (owner !== orgId) return page;
    const n = ++polls;
    if (n % 4 === 1) anotherOrgsPage();
    if (n % 4 === 3) evictAfterMap.add(page.ref);
    return page;
  };
  store.putLogs = (owner, ref, mapped) => {
    putLogs(owner, ref, mapped);
    if (evictAfterMap.delete(ref)) anotherOrgsPage();
  };

  await worker.runUntil(async () => {
    // 36 requests a minute: a poll reads one page of 25, so there are many polls.
    const handle = await harness.startOrg({ orgId, pageSize: 25, maxRequestsPerMinute: 36 });
    await harness.waitForDelivered(orgId, added.length, 90_000);
    const status = await harness.status(orgId);
    await stop(handle);
    const losses = pageLossesIn(await historiesOfEveryRun(harness.client, workflowIdForOrg(orgId)));
    console.log(`page claims: ${polls} polls, ${evicted} pages let go, pagesLost ${status.stats.pagesLost}, ${losses.notStored} PageNotStored`);
    expect(harness.deliveredIds(orgId)).toEqual(added.map((e) => e.id));
    expect(evicted).toBeGreaterThanOrEqual(3);
    expect(losses).toEqual({ workerGone: 0, notStored: evicted });
    expect(status.stats.pagesLost).toBe(evicted);
    expect(status.stats.pagesLostInARow).toBe(0);
  });
});

test('the histories of every run hold references, never an event: no actor name, email or IP, no payload over 64 KB', async () => {
  expect(orgsRun).toHaveLength(2);
  const needles = new Set<string>();
  for (const event of seeded) {
    const { actor, location } = event.attributes;
    for (const value of [actor?.name, actor?.email, location?.ip]) {
      if (typeof value === 'string' && value.length >= 6) needles.add(value);
    }
  }
  expect(needles.size).toBeGreaterThan(5);
  const holds = (text: string, needle: string) => text.includes(needle) || text.includes(JSON.stringify(needle).slice(1, -1));
  // The search finds what it looks for: every value is in the logs Datadog received, in their JSON.
  const receivedJson = JSON.stringify(harness.datadog.received);
  expect([...needles].filter((needle) => !holds(receivedJson, needle))).toEqual([]);

  let largest = 0;
  let searchedEvents = 0;
  for (const orgId of orgsRun) {
    const histories = await historiesOfEveryRun(harness.client, workflowIdForOrg(orgId));
    // Bytes (payload data above all) read as the UTF-8 text they hold, then the whole as JSON; and the raw protobuf.
    const json = JSON.stringify(histories, (_key, value: unknown) => (value instanceof Uint8Array ? Buffer.from(value).toString('utf8') : value));
    const raw = histories.map(({ history }) => Buffer.from(temporal.api.history.v1.History.encode(history).finish()).toString('utf8')).join('\n');
    for (const needle of needles) {
      for (const [where, text] of [
        ['json', json],
        ['protobuf', raw],
      ] as const) {
        expect({ orgId, where, needle, found: holds(text, needle) }).toEqual({ orgId, where, needle, found: false });
      }
    }
    for (const { path, payload } of payloadsIn(histories)) {
      const bytes = storedBytesOf(payload);
      largest = Math.max(largest, bytes);
      expect({ path, bytes: bytes <= 64 * 1024 }).toEqual({ path, bytes: true });
    }
    searchedEvents += histories.reduce((sum, { history }) => sum + (history.events?.length ?? 0), 0);
  }
  console.log(`page claims: ${needles.size} values searched in ${searchedEvents} history events; largest payload ${largest} bytes`);
});
