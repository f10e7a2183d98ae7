/**
 * The real entry points as processes: `npm run worker` killed with SIGKILL mid-run and restarted, a worker
 * refusing bad configuration, and the client refusing bad input without contacting anything.
 */
import { createServer, type Server } from 'node:net';
import { generateDemoEvents } from '../../dev/standins/demo-events';
import { stopSignal } from '../../workflows/messages';
import { AuditHarness, TEST_KEYS, duplicatesOf } from '../support/audit-harness';
import { runEntryPoint, startEntryPoint } from '../support/processes';

let harness: AuditHarness;

beforeAll(async () => {
  harness = await AuditHarness.create();
});

afterAll(async () => {
  await harness?.close();
});

function workerEnv(): NodeJS.ProcessEnv {
  return harness.workerProcessEnv();
}

test('a worker killed with SIGKILL mid-run and restarted loses no event; duplicates stay within one intake request', async () => {
  const orgId = harness.newOrg();
  const start = Date.now() - 20 * 60_000;
  const added = harness.atlassian.addEvents(orgId, generateDemoEvents({ seed: 21, count: 4_000, startTime: start, spacingMs: 250, orgId }));

  const first = startEntryPoint('worker/main.ts', [], workerEnv());
  await first.waitForOutput(/Worker polling task queue/);
  const handle = await harness.startOrg({ orgId, pageSize: 100, maxRequestsPerMinute: 600 });
  await harness.waitForDelivered(orgId, 1_000, 60_000);
  first.child.kill('SIGKILL');
  await first.exited;
  const deliveredAtKill = harness.deliveredIds(orgId).length;
  expect(deliveredAtKill).toBeLessThan(added.length);

  const second = startEntryPoint('worker/main.ts', [], workerEnv());
  try {
    await harness.waitForDelivered(orgId, added.length, 120_000);
    const delivered = harness.deliveredIds(orgId);
    const duplicates = duplicatesOf(delivered);
    console.log(`SIGKILL test: ${deliveredAtKill} delivered at kill, ${delivered.length} in all, ${duplicates.length} duplicates`);
    expect(new Set(delivered)).toEqual(new Set(added.map((e) => e.id)));
    // The kill may fall between Datadog's 202 and Temporal recording the ship: that poll (at most one intake
    // request, 1,000 logs) is read and sent again from the unchanged cursor.
    expect(duplicates.length).toBeLessThanOrEqual(1_000);
    await handle.signal(stopSignal, {});
    await handle.result();
  } finally {
    second.child.kill('SIGTERM');
    await second.exited;
  }
  for (const key of Object.values(TEST_KEYS)) {
    expect(first.output()).not.toContain(key);
    expect(second.output()).not.toContain(key);
  }
});

test('an invalid configuration value stops the worker with one line naming the variable', async () => {
  const cases: Array<[NodeJS.ProcessEnv, RegExp]> = [
    [{ DD_SITE: 'datadog.example' }, /^Invalid configuration: DD_SITE must be a Datadog site/],
    [{ ATLASSIAN_API_BASE_URL: 'not a url' }, /^Invalid configuration: ATLASSIAN_API_BASE_URL /],
    [{ AUDIT_SHUTDOWN_GRACE_SECONDS: 'soon' }, /^Invalid configuration: AUDIT_SHUTDOWN_GRACE_SECONDS /],
  ];
  for (const [env, expected] of cases) {
    const { code, output } = await runEntryPoint('worker/main.ts', [], { ...workerEnv(), ...env });
    expect(code).toBe(1);
    expect(output.trim().split('\n')).toHaveLength(1);
    expect(output.trim()).toMatch(expected);
  }
});

describe('the client refuses bad input with one line and a non-zero exit, contacting nothing', () => {
  let server: Server;
  let connections = 0;
  let address: string;

  beforeAll(async () => {
    // Stands where Temporal would be: any connection at all is counted.
    server = createServer((socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    address = `127.0.0.1:${port}`;
  });

  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  test.each([
    [['bogus'], /unknown command 'bogus'/],
    [['start'], /--org is required/],
    [['start', '--org', 'has spaces'], /--org must be an Atlassian organization ID/],
    [['start', '--org', 'abc', '--atlassian-key', TEST_KEYS.atlassian], /--atlassian-key must be a credential reference/],
    [['start', '--org', 'abc', '--datadog-key', 'vault:secret/dd'], /--datadog-key must be a credential reference/],
    [['start', '--org', 'abc', '--since', '2026-02-30T99:00:00Z'], /--since is not a valid time/],
    [['start', '--org', 'abc', '--poll-interval', 'often'], /--poll-interval must be a duration/],
    [['backfill', '--org', 'abc', '--from', 'yesterday', '--to', '2026-01-02T00:00:00Z'], /--from is not a valid time/],
    [['backfill', '--org', 'abc', '--from', '2026-11-02T00:00:00Z', '--to', '2026-11-01T00:00:00Z'], /--from must be before --to/],
    [['backfill', '--org', 'abc', '--from', '2026-11-01T00:00:00Z', '--to', '2999-01-01T00:00:00Z'], /--to is in the future/],
    [['backfill', '--org', 'abc', '--from', '2020-01-01T00:00:00Z', '--to', '2020-02-01T00:00:00Z'], /older than Atlassian's 180-day retention/],
    [['rotate', '--org', 'abc', '--atlassian-key', 'plain-secret-value'], /--atlassian-key must be a credential reference/],
    [['pause'], /--org is required/],
  ])('atlassian-audit %j', async (args, expected) => {
    const { code, output } = await runEntryPoint('client/main.ts', args, { TEMPORAL_ADDRESS: address });
    expect(code).toBe(2);
    expect(output.trim().split('\n')).toHaveLength(1);
    expect(output).toMatch(expected);
    expect(output).not.toContain(TEST_KEYS.atlassian);
    expect(output).not.toContain('plain-secret-value');
    expect(connections).toBe(0);
  });
});
