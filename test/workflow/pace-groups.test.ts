/**
 * Orgs read with one Atlassian user's key share one budget (shared/pace-groups.ts): their polls go through the
 * group's task queue, whose dispatch rate the Temporal server caps. Each org alone may send far more.
 */
import { generateDemoEvents } from '../../dev/standins/demo-events';
import { stopSignal } from '../../workflows/messages';
import { AuditHarness, duplicatesOf } from '../support/audit-harness';
import { runEntryPoint } from '../support/processes';

const GROUP = 'one-admin-key';
/** 2 requests a second for the whole group. */
const GROUP_REQUESTS_PER_MINUTE = 120;
const PAGE_SIZE = 10;

let harness: AuditHarness;

beforeAll(async () => {
  harness = await AuditHarness.create();
});

afterAll(async () => {
  await harness?.close();
});

function eventsRequests(orgIds: readonly string[]) {
  return harness.atlassian.requests.filter((r) => orgIds.includes(r.orgId ?? '') && r.endpoint === 'events-stream');
}

test('three orgs in one pace group send at most its budget together, each delivering everything once; an org outside it is not held', async () => {
  const grouped = [harness.newOrg(), harness.newOrg(), harness.newOrg()];
  const alone = harness.newOrg();
  const start = Date.now() - 10 * 60_000;
  const added = new Map(
    [...grouped, alone].map((orgId, i) => [
      orgId,
      harness.atlassian.addEvents(orgId, generateDemoEvents({ seed: 300 + i, count: 8 * PAGE_SIZE, startTime: start, spacingMs: 1_000, orgId })),
    ])
  );
  const worker = await harness.createWorker({ paceGroups: { [GROUP]: GROUP_REQUESTS_PER_MINUTE } });
  await worker.runUntil(async () => {
    // Each org on its own could send 6,000 a minute.
    const handles = await Promise.all(
      grouped.map((orgId) => harness.startOrg({ orgId, pageSize: PAGE_SIZE, maxRequestsPerMinute: 6_000, paceGroup: GROUP }))
    );
    const aloneHandle = await harness.startOrg({ orgId: alone, pageSize: PAGE_SIZE, maxRequestsPerMinute: 6_000 });
    const aloneStarted = Date.now();
    await harness.waitForDelivered(alone, added.get(alone)!.length, 30_000);
    const aloneMs = Date.now() - aloneStarted;
    for (const orgId of grouped) await harness.waitForDelivered(orgId, added.get(orgId)!.length, 90_000);

    for (const [orgId, events] of added) {
      const delivered = harness.deliveredIds(orgId);
      expect(duplicatesOf(delivered)).toEqual([]);
      expect(delivered).toEqual(events.map((e) => e.id));
    }
    const status = await harness.status(grouped[0]!);
    expect(status.config.paceGroup).toBe(GROUP);
    for (const handle of [...handles, aloneHandle]) await handle.signal(stopSignal, {});
    await Promise.all([...handles, aloneHandle].map((handle) => handle.result()));

    // Together: 3 × (8 pages + the empty one) requests at 2 a second; the server's limiter allows a short burst.
    const times = eventsRequests(grouped)
      .map((r) => r.at)
      .sort((a, b) => a - b);
    expect(times.length).toBeGreaterThanOrEqual(3 * 9);
    const spanMs = times.at(-1)! - times[0]!;
    const perSecond = GROUP_REQUESTS_PER_MINUTE / 60;
    const burst = 3;
    console.log(`pace group: ${times.length} requests in ${(spanMs / 1000).toFixed(1)} s (budget ${perSecond}/s); the org alone took ${aloneMs} ms`);
    expect(spanMs).toBeGreaterThanOrEqual(((times.length - burst) / perSecond) * 1000);
    // The org outside the group read its 9 pages at its own pace, long before the group could have.
    expect(aloneMs).toBeLessThan(spanMs);
  });
}, 150_000);

describe('the command line', () => {
  function cli(...args: string[]) {
    return runEntryPoint('client/main.ts', args, { TEMPORAL_ADDRESS: harness.env.address, AUDIT_TASK_QUEUE: harness.taskQueue });
  }

  test('starting an org in a pace group no worker serves is refused, naming AUDIT_PACE_GROUPS; nothing starts', async () => {
    const orgId = harness.newOrg();
    const worker = await harness.createWorker();
    await worker.runUntil(async () => {
      const refused = await cli('start', '--org', orgId, '--pace-group', 'nobody-serves-this');
      expect(refused.code).toBe(1);
      expect(refused.output.trim()).toBe(
        'error: no worker serves pace group "nobody-serves-this": start the workers with AUDIT_PACE_GROUPS=nobody-serves-this=<requests per minute> (the same value on each)'
      );
    });
    const started = await harness.client.workflow.list({ query: `AtlassianOrgId = '${orgId}'` });
    const runs = [];
    for await (const run of started) runs.push(run);
    expect(runs).toEqual([]);
  });

  test('a pace group name that AUDIT_PACE_GROUPS could not hold is refused as usage', async () => {
    const refused = await cli('start', '--org', harness.newOrg(), '--pace-group', 'One Admin');
    expect(refused.code).toBe(2);
    expect(refused.output).toContain('--pace-group must be lower-case letters, digits, - and _ (at most 63), as in AUDIT_PACE_GROUPS');
  });
});
