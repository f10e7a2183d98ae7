import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode } from '@temporalio/worker';
import { createHttpAgent } from '../src/activities/http-client';
import { AtlassianStandin } from '../src/standins/atlassian-standin';
import { DatadogStandin } from '../src/standins/datadog-standin';
import { generateDemoEvents } from '../src/standins/demo-events';
import { createAuditWorker, WORKFLOWS_PATH } from '../src/worker/create-worker';
import { startOrg } from '../src/client/org-control';
import { workflowIdForOrg } from '../src/shared/org-workflow';
import { requestBackfillUpdate, statusQuery, stopSignal } from '../src/workflows/messages';
import { projectSearchAttributes } from '../src/shared/search-attributes';

async function main() {
  const rpm = Number(process.argv[2] ?? 600);
  const env = await TestWorkflowEnvironment.createLocal({ server: { executable: { type: 'existing-path', path: '/work/main/.cache/temporal-cli/bin/temporal' }, searchAttributes: [...projectSearchAttributes] } });
  const atl = await AtlassianStandin.start({ rateLimit: { requestsPerMinute: rpm, burst: 5 } });
  const dd = await DatadogStandin.start({ apiKeys: ['k'] });
  atl.addOrg('o1', { apiKeys: ['a'] });
  const since = Date.now() - 3600_000;
  const from = since - 2 * 86400_000;
  const n = 3000;
  atl.addEvents('o1', generateDemoEvents({ seed: 1, count: n, startTime: from, spacingMs: 1 }).map((e, i) => ({ ...e, time: from + Math.floor((since - from) * i / n), processedAt: undefined })));
  const dispatcher = createHttpAgent({ headersTimeoutMs: 5000, bodyTimeoutMs: 5000 });
  const worker = await createAuditWorker({ connection: env.nativeConnection, namespace: 'default', taskQueue: 'q', workflowBundle: await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} } as never }), activities: { atlassianBaseUrl: atl.url, datadogIntakeUrl: dd.url, dispatcher, env: { ATLASSIAN_API_KEY: 'a', DD_API_KEY: 'k' } } });
  await worker.runUntil(async () => {
    await startOrg(env.client, 'q', { orgId: 'o1', since, pageSize: 10, pollIntervalMs: 60_000, maxRequestsPerMinute: 1200 });
    const h = env.client.workflow.getHandle(workflowIdForOrg('o1'));
    const t0 = Date.now();
    await h.executeUpdate(requestBackfillUpdate, { args: [{ from, to: since }] });
    while (dd.received.length < n) await new Promise((r) => setTimeout(r, 50));
    const elapsed = Date.now() - t0;
    const st = atl.stats()['o1']!;
    const served = atl.requests.filter((r) => r.status === 200).length;
    const allowed = (rpm / 60_000) * elapsed + 5;
    console.log({ elapsed, served, allowed, eff: served / allowed, r429: st.rateLimited, requests: st.requests });
    const s = await h.query(statusQuery);
    console.log(s.stats);
    await h.signal(stopSignal, {});
  });
  await atl.close(); await dd.close(); await dispatcher.close(); await env.teardown();
}
main().catch((e) => { console.error(e); process.exit(1); });
