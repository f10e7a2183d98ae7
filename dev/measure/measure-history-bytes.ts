/**
 * What payload encryption and compression cost in stored workflow history, per delivered audit event.
 *
 * Runs the collector end to end (a throwaway Temporal dev server, the two stand-ins, a real worker) over the same
 * realistic events once per data converter: payloads in clear, encrypted, and compressed then encrypted (the
 * production codec). Then it reads the raw history of every run and sums the serialized payloads in it, and the
 * serialized histories as a whole. `dev/measure/measure-codec.ts` measures one page offline; this counts everything the
 * workflow really writes (poll results with their page references and dedupe keys, map and ship inputs and results, state
 * carried across continue-as-new); the events themselves stay in the worker's page store.
 *
 *   npx tsx dev/measure/measure-history-bytes.ts [events=2000] [pageSize=200]
 */
import { randomBytes } from 'node:crypto';
import type { DataConverter } from '@temporalio/common';
import { Runtime } from '@temporalio/worker';
import { failureConverterPath, loadDataConverter } from '../../codec/data-converter';
import { EncryptionCodec } from '../../codec/encryption-codec';
import { loadPayloadKeyRing } from '../../codec/payload-keys';
import { workflowIdForOrg } from '../../shared/org-workflow';
import { generateDemoEvents } from '../standins/demo-events';
import { stopSignal } from '../../workflows/messages';
import type { orgAuditWorkflow } from '../../workflows/org-audit-workflow';
import { AuditHarness } from '../harness/audit-harness';
import { startDevServer } from '../harness/dev-server';
import { sdkRuntimeOptions } from '../harness/sdk-logs';
import { historiesOfEveryRun, payloadsIn, storedBytesOf, storedHistoryBytes } from '../harness/stored-history';

interface Measurement {
  label: string;
  runs: number;
  historyEvents: number;
  pages: number;
  payloads: number;
  payloadBytes: number;
  historyBytes: number;
}

async function measure(
  address: string,
  label: string,
  dataConverter: DataConverter | undefined,
  eventCount: number,
  pageSize: number
): Promise<Measurement> {
  const harness = await AuditHarness.create({ address, dataConverter });
  try {
    const orgId = harness.newOrg();
    // The same seed in every mode: the same events, byte for byte (the org ID is mixed in, so it is fixed too).
    const events = generateDemoEvents({ seed: 2026, count: eventCount, startTime: Date.now() - eventCount * 50, spacingMs: 50, orgId: 'measured-org' });
    harness.atlassian.addEvents(orgId, events);
    const worker = await harness.createWorker();
    const result = await worker.runUntil(async () => {
      const handle = await harness.startOrg({ orgId, pageSize, maxRequestsPerMinute: 6_000 });
      await harness.waitForDelivered(orgId, eventCount, 600_000);
      await handle.signal(stopSignal, {});
      return harness.client.workflow.getHandle<typeof orgAuditWorkflow>(workflowIdForOrg(orgId)).result();
    });
    const histories = await historiesOfEveryRun(harness.client, workflowIdForOrg(orgId));
    const payloads = payloadsIn(histories);
    return {
      label,
      runs: histories.length,
      historyEvents: histories.reduce((sum, { history }) => sum + (history.events?.length ?? 0), 0),
      pages: result.state.stats.pages,
      payloads: payloads.length,
      payloadBytes: payloads.reduce((sum, { payload }) => sum + storedBytesOf(payload), 0),
      historyBytes: histories.reduce((sum, { history }) => sum + storedHistoryBytes(history), 0),
    };
  } finally {
    await harness.close();
  }
}

function report(measurements: Measurement[], eventCount: number, pageSize: number): void {
  const baseline = measurements[0]!;
  console.log(`\nhistory written for ${eventCount} audit events, ${pageSize} per page (all runs, continue-as-new included):`);
  console.log(
    ['mode'.padEnd(24), 'runs', 'pages', 'events', 'payloads', 'payload B', 'B/event', 'vs plain', 'history B', 'B/event'].join('  ')
  );
  for (const m of measurements) {
    console.log(
      [
        m.label.padEnd(24),
        String(m.runs).padStart(4),
        String(m.pages).padStart(5),
        String(m.historyEvents).padStart(6),
        String(m.payloads).padStart(8),
        String(m.payloadBytes).padStart(9),
        (m.payloadBytes / eventCount).toFixed(0).padStart(7),
        `${((m.payloadBytes / baseline.payloadBytes) * 100).toFixed(1)} %`.padStart(8),
        String(m.historyBytes).padStart(9),
        (m.historyBytes / eventCount).toFixed(0).padStart(7),
      ].join('  ')
    );
  }
}

async function main(): Promise<void> {
  const eventCount = Number(process.argv[2] ?? 2_000);
  const pageSize = Number(process.argv[3] ?? 200);
  // Workers log every state change at INFO; only problems matter here.
  Runtime.install(sdkRuntimeOptions('WARN'));
  const server = await startDevServer({ store: 'memory' });
  try {
    const key = randomBytes(32).toString('base64');
    const keys = loadPayloadKeyRing({ AUDIT_PAYLOAD_KEY: key })!;
    const modes: Array<[string, DataConverter | undefined]> = [
      ['plain JSON', undefined],
      ['encrypted', { payloadCodecs: [new EncryptionCodec({ keys, compress: false })], failureConverterPath }],
      // What the worker runs with AUDIT_PAYLOAD_KEY set.
      ['compressed + encrypted', loadDataConverter({ AUDIT_PAYLOAD_KEY: key })],
    ];
    const measurements: Measurement[] = [];
    for (const [label, dataConverter] of modes) {
      measurements.push(await measure(server.address, label, dataConverter, eventCount, pageSize));
    }
    report(measurements, eventCount, pageSize);
  } finally {
    await server.stop();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  }
);
