/**
 * Proving completeness on a real dev server with a real worker and the stand-ins: the collector delivers, Datadog
 * "loses" some logs (deleted from its stand-in) and holds one twice, and `verify` finds exactly those, hour by hour,
 * through the real command line (exit codes) and the client's own code; `--repair` re-ships each missing event
 * once, and the pass after it finds nothing missing. Then the indexes searched, and the daily Schedule.
 */
import { ScheduleNotFoundError } from '@temporalio/client';
import type { AuditWorker } from '../../worker/create-worker';
import { request, type Dispatcher } from 'undici';
import { createHttpAgent } from '../../activities/http-client';
import { startVerify, verifyResult } from '../../client/verify/run-verify';
import { createHarnessWorker } from '../../dev/harness/collector';
import type { ReceivedLog } from '../../dev/standins/datadog-standin';
import { iso } from '../../workflows/backfill-ranges';
import { verifyScheduleId } from '../../shared/verify/verify-input';
import type { VerifyRangeResult } from '../../shared/verify/verify-report';
import { AuditHarness, TEST_KEYS, WORKER_ENV, duplicatesOf, waitUntil } from '../support/audit-harness';
import { runEntryPoint } from '../support/processes';
import { payloadsIn } from '../support/stored-history';

const HOUR = 3_600_000;
/** The worker's own Datadog application key; only it and the Datadog stand-in know it. */
const APP_KEY = 'datadog-app-key-verify-7d41c2';

let harness: AuditHarness;
let dispatcher: Dispatcher;
let worker: AuditWorker;
let workerRun: Promise<void>;

beforeAll(async () => {
  harness = await AuditHarness.create();
  harness.datadog.setApplicationKeys([APP_KEY]);
  dispatcher = createHttpAgent({ headersTimeoutMs: 5_000, bodyTimeoutMs: 5_000 });
  worker = await createHarnessWorker({
    connection: harness.env.nativeConnection,
    namespace: harness.env.namespace,
    taskQueue: harness.taskQueue,
    activities: {
      atlassianBaseUrl: harness.atlassian.url,
      datadogIntakeUrl: harness.datadog.url,
      dispatcher,
      env: { ...WORKER_ENV, DD_APP_KEY: APP_KEY, DD_API_BASE_URL: harness.datadog.origin },
    },
    shutdownGraceMs: 5_000,
  });
  workerRun = worker.run();
});

afterAll(async () => {
  worker?.shutdown();
  await workerRun;
  await dispatcher?.close();
  await harness?.close();
});

function cli(...args: string[]) {
  return runEntryPoint('client/main.ts', args, { TEMPORAL_ADDRESS: harness.env.address, AUDIT_TASK_QUEUE: harness.taskQueue });
}

const eventIdOf = (log: ReceivedLog) => (log['atlassian'] as { event_id?: string } | undefined)?.event_id;

/** `perHour` events in each of `hours` whole hours from `from`, processed now; the org's collector delivers them. */
async function deliveredOrg(from: number, hours: number, perHour: number): Promise<{ orgId: string; byHour: string[][] }> {
  const orgId = harness.newOrg();
  const added = harness.atlassian.addEvents(
    orgId,
    Array.from({ length: hours * perHour }, (_, i) => ({ action: 'group_created', time: from + Math.floor(i / perHour) * HOUR + (i % perHour) * 600_000 + 1_000 }))
  );
  await harness.startOrg({ orgId });
  await harness.waitForDelivered(orgId, added.length);
  const byHour = Array.from({ length: hours }, (_, hour) => added.slice(hour * perHour, (hour + 1) * perHour).map((event) => event.id));
  return { orgId, byHour };
}

function missingByHour(result: VerifyRangeResult, pass: number): Record<string, string[]> {
  return Object.fromEntries(result.passes[pass]!.hours.filter((hour) => hour.missing > 0).map((hour) => [hour.hour, hour.missingIds]));
}

test('verify finds exactly the logs Datadog lost, by hour; --repair re-ships each once; then nothing is missing', async () => {
  // Twenty hours ending about two hours ago: the oldest lie outside Datadog's window when shipped, and are re-dated.
  const from = Math.floor(Date.now() / HOUR) * HOUR - 22 * HOUR;
  const to = from + 20 * HOUR;
  const { orgId, byHour } = await deliveredOrg(from, 20, 3);
  const redated = harness.datadog.received.filter((log) => eventIdOf(log) === byHour[1]![0]);
  expect(redated[0]?.['ddtags']).toContain('redated:true');

  // Datadog loses one log of a re-dated hour and two of a recent one, and receives one log a second time.
  const lost = new Set([byHour[1]![0]!, byHour[15]![0]!, byHour[15]![2]!]);
  expect(harness.datadog.deleteReceived((log) => lost.has(eventIdOf(log) ?? ''))).toBe(3);
  const repeated = harness.datadog.received.find((log) => eventIdOf(log) === byHour[10]![1])!;
  const resent = await request(harness.datadog.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'dd-api-key': TEST_KEYS.datadog },
    body: JSON.stringify([repeated]),
  });
  expect(resent.statusCode).toBe(202);
  await resent.body.dump();

  const hourIso = (index: number) => iso(from + index * HOUR);
  const first = await cli('verify', '--org', orgId, '--from', iso(from), '--to', iso(to), '--json');
  expect(first.code).toBe(3);
  const report = JSON.parse(first.output) as VerifyRangeResult;
  expect(missingByHour(report, 0)).toEqual({ [hourIso(1)]: [byHour[1]![0]], [hourIso(15)]: [byHour[15]![0], byHour[15]![2]] });
  expect(report.passes[0]!.totals).toEqual({ expected: 60, present: 57, missing: 3, extra: 1 });
  expect(report.passes[0]!.hours.find((hour) => hour.hour === hourIso(10))).toMatchObject({ extra: 1, extraIds: [byHour[10]![1]], comparedBy: 'ids' });
  // Only the hours whose counts differ were compared by ID.
  expect(report.passes[0]!.hours.filter((hour) => hour.comparedBy === 'ids').map((hour) => hour.hour)).toEqual([hourIso(1), hourIso(10), hourIso(15)]);
  expect(report).toMatchObject({ from: iso(from), to: iso(to), indexes: ['*'], repair: false, repaired: null, settings: { source: 'org-status', maxRequestsPerMinute: 1_200 } });
  expect(harness.datadog.queries.filter((query) => query.status !== 200)).toEqual([]);

  const handle = await startVerify(harness.client, harness.taskQueue, { orgId, from, to, repair: true, indexingDelayMs: 500 });
  const repairedRun = await verifyResult(handle);
  expect(missingByHour(repairedRun, 0)).toEqual(missingByHour(report, 0));
  expect(repairedRun.repaired).toEqual({ shipped: 3, redated: 1, deadLettered: 0, notFound: 0, leftForNextRun: 0 });
  expect(repairedRun.passes[1]!.totals).toEqual({ expected: 60, present: 60, missing: 0, extra: 1 });

  // Each lost event is back exactly once, marked repaired; nothing else was sent again.
  const delivered = harness.deliveredIds(orgId);
  expect(duplicatesOf(delivered)).toEqual([byHour[10]![1]]);
  expect(new Set(delivered)).toEqual(new Set(byHour.flat()));
  const repaired = harness.datadog.received.filter((log) => lost.has(eventIdOf(log) ?? ''));
  expect(repaired).toHaveLength(3);
  for (const log of repaired) {
    expect(log).toMatchObject({ atlassian: { repaired: true } });
    expect(String(log['ddtags']).split(',')).toContain('repaired:true');
  }

  // Its progress in the UI: the current details of where it ended.
  const { currentDetails } = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
  expect(currentDetails).toContain('- Pass 1 found: 60 expected, 57 present, 3 missing, 1 extra');
  expect(currentDetails).toContain('- Pass 2 found: 60 expected, 60 present, 0 missing, 1 extra');
  expect(currentDetails).toContain('- Repaired: 3 logs re-shipped');

  // The run's history holds counts and IDs: no event content, no key.
  const history = JSON.stringify(payloadsIn(await handle.fetchHistory()).map(({ payload }) => Buffer.from(payload.data ?? []).toString('utf8')));
  expect(history).toContain(byHour[15]![0]);
  for (const secret of ['standin-admin@example.com', 'Stand-in Admin', ...Object.values(TEST_KEYS), APP_KEY]) expect(history).not.toContain(secret);

  const after = await cli('verify', '--org', orgId, '--from', iso(from), '--to', iso(to));
  expect(after.code).toBe(0);
  expect(after.output).toContain('result: nothing missing');
  expect(after.output).toMatch(/^TOTAL\s+60\s+60\s+0\s+1$/m);
  expect(after.output).not.toContain(APP_KEY);
});

test("the report names the indexes searched and, when something is missing, the causes on Datadog's side; a refused key and bad input end it", async () => {
  const from = Math.floor(Date.now() / HOUR) * HOUR - 3 * HOUR;
  const { orgId } = await deliveredOrg(from, 1, 2);
  const elsewhere = await cli('verify', '--org', orgId, '--from', iso(from), '--to', iso(from + HOUR), '--index', 'archive');
  expect(elsewhere.code).toBe(3);
  expect(elsewhere.output).toMatch(/^TOTAL\s+2\s+0\s+2\s+0$/m);
  expect(elsewhere.output).toContain('Datadog may lack logs for reasons of its own; searched: archive.');
  expect(elsewhere.output).toContain("the index's retention");

  const inMain = await cli('verify', '--org', orgId, '--from', iso(from), '--to', iso(from + HOUR), '--index', 'main', '--json');
  expect(inMain.code).toBe(0);
  expect(JSON.parse(inMain.output)).toMatchObject({ indexes: ['main'], passes: [{ totals: { expected: 2, present: 2, missing: 0, extra: 0 } }] });

  // Datadog refuses the worker's application key: the run fails with the cause, exit code 1, and no key shown.
  harness.datadog.setApplicationKeys([]);
  try {
    const refused = await cli('verify', '--org', orgId, '--from', iso(from), '--to', iso(from + HOUR));
    expect(refused.code).toBe(1);
    expect(refused.output).toMatch(/^error: verify atlassian-audit-verify-\S+ failed: Datadog refused POST \/api\/v2\/logs\/analytics\/aggregate \(403\): check that the org's Datadog API key and the worker's DD_APP_KEY/m);
    expect(refused.output).not.toContain(APP_KEY);
  } finally {
    harness.datadog.setApplicationKeys([APP_KEY]);
  }

  const backwards = await cli('verify', '--org', orgId, '--from', iso(from + HOUR), '--to', iso(from));
  expect(backwards.code).toBe(2);
  expect(backwards.output).toMatch(/^error: --from must be before --to /);
  const badIndex = await cli('verify', '--org', orgId, '--from', iso(from), '--to', iso(from + HOUR), '--index', 'no spaces');
  expect(badIndex.code).toBe(2);
});

test('verify-schedule creates one daily Schedule idempotently, whose runs verify the previous UTC day; --delete removes it', async () => {
  // No collector runs for this org: the scheduled verify goes on with the default keys and budget.
  const orgId = harness.newOrg();
  const created = await cli('verify-schedule', '--org', orgId, '--index', 'main');
  expect(created.code).toBe(0);
  expect(created.output).toContain(`verify schedule of ${orgId} created`);
  const again = await cli('verify-schedule', '--org', orgId, '--index', 'main');
  expect(again.code).toBe(0);
  expect(again.output).toContain('already there');

  const schedule = harness.client.schedule.getHandle(verifyScheduleId(orgId));
  const description = await schedule.describe();
  expect(description.spec.calendars).toEqual([expect.objectContaining({ hour: [expect.objectContaining({ start: 3, end: 3 })] })]);
  expect(description.action).toMatchObject({
    type: 'startWorkflow',
    workflowType: 'verifyRangeWorkflow',
    taskQueue: harness.taskQueue,
    args: [{ orgId, range: { previousUtcDay: true }, indexes: ['main'] }],
  });

  await schedule.trigger();
  let started: string | undefined;
  await waitUntil(
    async () => (started = (await schedule.describe()).info.recentActions[0]?.action.workflow.workflowId) !== undefined,
    20_000,
    () => 'the triggered run has not started'
  );
  const run = (await harness.client.workflow.getHandle(started!).result()) as VerifyRangeResult;
  const today = Math.floor(Date.now() / (24 * HOUR)) * 24 * HOUR;
  expect(run).toMatchObject({ from: iso(today - 24 * HOUR), to: iso(today), indexes: ['main'], settings: { source: 'defaults', maxRequestsPerMinute: 10 } });
  expect(run.passes[0]!.totals).toEqual({ expected: 0, present: 0, missing: 0, extra: 0 });

  const deleted = await cli('verify-schedule', '--org', orgId, '--delete');
  expect(deleted.code).toBe(0);
  expect(deleted.output).toContain(`verify schedule of ${orgId} deleted`);
  await expect(schedule.describe()).rejects.toBeInstanceOf(ScheduleNotFoundError);
  const twice = await cli('verify-schedule', '--org', orgId, '--delete');
  expect(twice.code).toBe(0);
  expect(twice.output).toContain('has no verify schedule');
});
