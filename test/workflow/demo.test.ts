/**
 * `npm start` as a newcomer runs it: dev/demo/main.ts starts its own Temporal dev server, the stand-ins and the
 * worker, delivers the demo org's events, stops cleanly on Ctrl-C, and on the next start resumes from the workflow's
 * cursor without delivering anything twice. It runs with its own data directory and ports, so it uses neither the
 * shared test server nor anything a developer's own demo holds.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { workflowIdForOrg } from '../../shared/org-workflow';
import { STANDIN_DEFAULTS } from '../../dev/standins/main';
import { duplicatesOf, waitUntil } from '../support/audit-harness';
import { runEntryPoint, startEntryPoint, type RunningProcess } from '../support/processes';
import { freePort } from '../support/ports';
import { isPortFree } from '../../dev/demo/temporal-dev-server';

const ORG_ID = STANDIN_DEFAULTS.orgId;
const WORKFLOW_ID = workflowIdForOrg(ORG_ID);
const CHROMIUM = '/usr/bin/chromium';
const READY = /collector running on local STAND-INS/;

let dataDir: string;
let env: NodeJS.ProcessEnv;
let uiPort: number;
let temporalPort: number;
let metricsPort: number;
const started: RunningProcess[] = [];

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'audit-demo-'));
  temporalPort = await freePort();
  uiPort = await freePort();
  metricsPort = await freePort();
  env = {
    AUDIT_DEMO_DATA_DIR: dataDir,
    // A developer's .env (perhaps with real keys) must not turn this run into a real one.
    AUDIT_DEMO_ENV_FILE: path.join(dataDir, 'absent.env'),
    AUDIT_DEMO_TEMPORAL_PORT: String(temporalPort),
    AUDIT_DEMO_UI_PORT: String(uiPort),
    AUDIT_DEMO_ATLASSIAN_PORT: '0',
    AUDIT_DEMO_DATADOG_PORT: '0',
    AUDIT_METRICS_ADDRESS: `127.0.0.1:${metricsPort}`,
  };
});

afterAll(async () => {
  // A demo still running after a failure gets Ctrl-C, then a second one (which exits at once and, on its way
  // out, still sends SIGTERM to its dev server).
  for (const demo of started) {
    if (demo.child.exitCode !== null || demo.child.signalCode !== null) continue;
    demo.child.kill('SIGINT');
    if ((await exitWithin(demo, 30_000)) === 'timeout') demo.child.kill('SIGINT');
    await demo.exited;
  }
  rmSync(dataDir, { recursive: true, force: true });
});

test('npm start delivers the demo org, stops on Ctrl-C, and resumes without delivering anything twice', async () => {
  const first = startDemo();
  await first.waitForOutput(READY, 90_000);
  await waitUntil(() => deliveredIds().length > 0, 60_000, () => `${deliveredIds().length} logs delivered`);
  expect(await listedInWebUi()).toEqual({ status: 'WORKFLOW_EXECUTION_STATUS_RUNNING', orgId: ORG_ID });
  await screenshotWhenChromiumIsThere();
  // The project's own metrics, as `curl localhost:9464/metrics` shows them during a demo. The workflow counts a
  // page once its ship has returned, a moment after the stand-in received the logs.
  let metrics = '';
  const shippedCount = () => Number(metrics.match(/^atlassian_audit_events_shipped\{[^}]*org_id="[^"]+"[^}]*\} (\d+)/m)?.[1] ?? 0);
  await waitUntil(
    async () => {
      metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      return shippedCount() > 0;
    },
    15_000,
    () => 'atlassian_audit_events_shipped never rose above 0'
  );
  expect(shippedCount()).toBeGreaterThan(0);
  expect(metrics).toMatch(/^atlassian_audit_atlassian_requests\{[^}]*status="200"[^}]*\} [1-9]/m);

  first.child.kill('SIGINT');
  expect(await exitWithin(first, 30_000)).toBe(0);
  expect(first.output()).toMatch(/Stopped\./);
  // The dev server went with it: its port is free for the next start.
  expect(await isPortFree(temporalPort)).toBe(true);
  const deliveredByFirst = deliveredIds().length;

  const second = startDemo();
  await second.waitForOutput(READY, 90_000);
  expect(second.output()).toMatch(/already running, resumed from its cursor/);
  expect(second.output()).toMatch(/\d+ restored from earlier runs/);
  // New events arrive every 10 s and are polled every 10 s.
  const describe = () => `${deliveredIds().length} logs delivered, ${deliveredByFirst} of them before the restart`;
  await waitUntil(() => deliveredIds().length > deliveredByFirst, 60_000, describe);
  second.child.kill('SIGINT');
  expect(await exitWithin(second, 30_000)).toBe(0);

  const ids = deliveredIds();
  console.log(`demo: ${deliveredByFirst} logs delivered by the first run, ${ids.length - deliveredByFirst} by the second`);
  expect(duplicatesOf(ids)).toEqual([]);
  for (const demo of [first, second]) {
    expect(demo.output()).not.toContain(STANDIN_DEFAULTS.atlassianKey);
    expect(demo.output()).not.toContain(STANDIN_DEFAULTS.datadogKey);
  }
});

function startDemo(): RunningProcess {
  const demo = startEntryPoint('dev/demo/main.ts', [], env);
  started.push(demo);
  return demo;
}

/** Atlassian event IDs of the demo org in the Datadog stand-in's NDJSON file, in arrival order, repeats kept. */
function deliveredIds(): string[] {
  const file = path.join(dataDir, 'delivered-logs.ndjson');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as { atlassian: { org_id: string; event_id: string } })
    .filter((log) => log.atlassian.org_id === ORG_ID)
    .map((log) => log.atlassian.event_id);
}

/** The workflow as the Web UI's own HTTP API lists it: proof the printed UI link has something to show. */
async function listedInWebUi(): Promise<{ status: string; orgId: string }> {
  const query = encodeURIComponent(`WorkflowId = '${WORKFLOW_ID}'`);
  const response = await fetch(`http://127.0.0.1:${uiPort}/api/v1/namespaces/default/workflows?query=${query}`);
  expect(response.status).toBe(200);
  const body = (await response.json()) as {
    executions: { status: string; searchAttributes: { indexedFields: Record<string, { data: string }> } }[];
  };
  const [execution] = body.executions;
  if (!execution) throw new Error(`the Web UI lists no ${WORKFLOW_ID}`);
  // Search attribute values are JSON payloads, base64-encoded on the HTTP API.
  const orgIdPayload = execution.searchAttributes.indexedFields['AtlassianOrgId']?.data ?? 'bnVsbA==';
  return { status: execution.status, orgId: JSON.parse(Buffer.from(orgIdPayload, 'base64').toString('utf8')) as string };
}

/** dev/ui-screenshot.ts against this demo, where Debian's chromium is installed; said and skipped elsewhere. */
async function screenshotWhenChromiumIsThere(): Promise<void> {
  if (!existsSync(CHROMIUM)) {
    console.log(`demo: UI screenshot skipped: ${CHROMIUM} is absent (apt-get install -y chromium)`);
    return;
  }
  // Kept after the run (test-output/ is git-ignored), for a look at what the UI showed.
  const out = path.join(__dirname, '..', '..', 'test-output', 'demo-ui-workflow.png');
  const url = `http://127.0.0.1:${uiPort}/namespaces/default/workflows/${WORKFLOW_ID}`;
  const { code, output } = await runEntryPoint('dev/ui-screenshot.ts', ['--url', url, '--out', out], {});
  expect({ code, output }).toEqual({ code: 0, output: expect.stringContaining('search attributes') });
  const pngSignature = Buffer.from([0x89, 0x50, 0x4e, 0x47]);
  for (const file of [out, out.replace(/\.png$/, '-search-attributes.png')]) {
    expect(readFileSync(file).subarray(0, 4)).toEqual(pngSignature);
  }
}

async function exitWithin(demo: RunningProcess, timeoutMs: number): Promise<number | null | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
  const result = await Promise.race([demo.exited, timeout]);
  clearTimeout(timer);
  return result;
}


