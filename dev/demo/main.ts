/**
 * `npm start`: the whole collector on one machine, as a newcomer first runs it. It starts a Temporal dev server
 * (unless TEMPORAL_ADDRESS names one), the worker, and the org's workflow; without real credentials it serves the
 * Atlassian API and the Datadog intake from local stand-ins whose state lives in the data directory, so Ctrl-C and
 * a second `npm start` resume where the first stopped. Bad settings stop it with one line.
 */
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import { DefaultLogger, NativeConnection, Runtime, type NativeConnectionOptions } from '@temporalio/worker';
import { createHttpAgent } from '../../activities/http-client';
import { startOrg } from '../../client/org-control';
import { loadDataConverter } from '../../codec/data-converter';
import { STANDIN_DEFAULTS, startStandins } from '../standins/main';
import { loadWorkerConfig } from '../../worker/config';
import { createAuditWorker, type WorkerActivityDependencies } from '../../worker/create-worker';
import { prometheusExporter } from '../../worker/metrics';
import { loadTelemetryConfig } from '../../worker/telemetry';
import { ensureSearchAttributes } from '../../worker/search-attributes';
import { renderBanner, type BannerFacts } from './demo-banner';
import { loadDemoSettings, loadEnvFile, PROJECT_ROOT, REAL_MODE_VARIABLES, type DemoSettings } from './demo-settings';
import { reportDeliveries } from './delivery-reporter';
import { checkRealKeys } from './key-check';
import { ShutdownRequest } from './shutdown-request';
import { startTemporalDevServer, temporalCliPath } from './temporal-dev-server';

/** Short, so that a new stand-in event shows up within seconds; real Atlassian orgs get the client's default. */
const DEMO_POLL_INTERVAL_MS = 10_000;
/** The stand-in org's seed events go back three days: starting a day back gives the first page something to show. */
const DEMO_SINCE_LOOKBACK_MS = 24 * 3_600_000;

/** Closes what was opened, last first, whatever happens in between. */
type Cleanup = () => Promise<void>;

async function run(shutdown: ShutdownRequest): Promise<void> {
  const startedAt = Date.now();
  const envFile = loadEnvFile();
  const settings = loadDemoSettings();
  const workerConfig = loadWorkerConfig();
  const dataConverter = loadDataConverter();
  if (envFile) console.log(`Settings: ${path.relative(process.cwd(), envFile) || envFile} loaded`);
  if (settings.mode.kind === 'standins' && settings.mode.missingForReal.length > 0) {
    const missing = settings.mode.missingForReal.join(', ');
    console.log(`Running on the stand-ins: real mode needs ${REAL_MODE_VARIABLES.join(', ')}; ${missing} unset`);
  }

  const cleanups: Cleanup[] = [];
  try {
    const temporal = await connectTemporal(settings, shutdown, cleanups);
    if (!temporal || shutdown.isRequested) return;

    const endpoints = await startEndpoints(settings, workerConfig, startedAt, cleanups);
    if (shutdown.isRequested) return;

    const connection = await Connection.connect(temporal.connectionOptions);
    cleanups.push(() => connection.close());
    await ensureSearchAttributes(connection, temporal.namespace);
    const client = new Client({ connection, namespace: temporal.namespace, dataConverter });

    // The worker's own signal handlers are off: the demo decides the order in which things stop. Its INFO lines
    // (bundling, state changes) would bury the banner; warnings and errors from workflows and activities still show.
    const { metricsBindAddress: metricsAddress } = loadTelemetryConfig();
    // Metrics as the worker serves them (AUDIT_METRICS_ADDRESS), so the demo's /metrics can be watched too.
    Runtime.install({
      shutdownSignals: [],
      logger: new DefaultLogger('WARN'),
      telemetryOptions: { metrics: prometheusExporter(metricsAddress) },
    });
    const nativeConnection = await NativeConnection.connect(temporal.connectionOptions);
    cleanups.push(() => nativeConnection.close());
    // The stand-ins listen on this machine's loopback, where no proxy could reach them; real endpoints get the
    // worker's proxy settings.
    const dispatcher = createHttpAgent({ proxy: settings.mode.kind === 'real' ? workerConfig.proxy : {} });
    cleanups.push(() => dispatcher.close());
    const worker = await createAuditWorker({
      connection: nativeConnection,
      namespace: temporal.namespace,
      taskQueue: workerConfig.taskQueue,
      activities: { ...endpoints.activities, dispatcher, credentialPolicy: workerConfig.credentialPolicy },
      dataConverter,
      shutdownGraceMs: workerConfig.shutdownGraceMs,
    });
    if (settings.mode.kind === 'real') {
      const notChecked = await checkRealKeys({
        orgId: settings.mode.orgId,
        atlassianBaseUrl: workerConfig.atlassianBaseUrl,
        datadogApiBaseUrl: workerConfig.datadogSite && `https://api.${workerConfig.datadogSite}`,
        dispatcher,
        env: process.env,
        credentialPolicy: workerConfig.credentialPolicy,
      });
      console.log(notChecked.length === 0 ? 'Keys checked: Atlassian and Datadog accept them' : `Keys checked, except: ${notChecked.join('; ')}`);
    }
    const workerRun = worker.run();
    try {
      const orgId = settings.mode.orgId;
      const started = await startOrg(
        client,
        workerConfig.taskQueue,
        settings.mode.kind === 'standins'
          ? { orgId, pollIntervalMs: DEMO_POLL_INTERVAL_MS, since: Date.now() - DEMO_SINCE_LOOKBACK_MS }
          : { orgId }
      );
      console.log(
        renderBanner({
          ...endpoints.banner,
          orgId,
          workflow: started,
          namespace: temporal.namespace,
          uiUrl: temporal.uiUrl,
          clientTemporalAddress: temporal.clientTemporalAddress,
          startupSeconds: (Date.now() - startedAt) / 1000,
          metricsAddress: metricsAddress ?? undefined,
        })
      );
      const signal = await Promise.race([shutdown.requested, workerRun.then(() => undefined)]);
      if (signal) console.log(`${signal}: stopping the worker (in-flight activities finish first)…`);
    } finally {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await workerRun;
    }
  } finally {
    for (const cleanup of cleanups.reverse()) {
      // One failed close must not leave the dev server (or a port) behind.
      await cleanup().catch((error: unknown) => console.error(`demo: while stopping: ${oneLine(error)}`));
    }
  }
  console.log('Stopped. `npm start` again resumes from here.');
}

interface TemporalTarget {
  /** Options both the client's and the worker's connections accept. */
  connectionOptions: NativeConnectionOptions;
  namespace: string;
  uiUrl?: string;
  clientTemporalAddress?: string;
}

/** The demo's own dev server, or the Temporal that TEMPORAL_* (envconfig) names; undefined if stopped meanwhile. */
async function connectTemporal(
  settings: DemoSettings,
  shutdown: ShutdownRequest,
  cleanups: Cleanup[]
): Promise<TemporalTarget | undefined> {
  if (settings.temporal.kind === 'existing') {
    const { connectionOptions, namespace = 'default' } = loadClientConnectConfig();
    return { connectionOptions, namespace };
  }
  const { port, uiPort } = settings.temporal;
  console.log(`Starting the Temporal dev server on 127.0.0.1:${port} (Web UI on ${uiPort}), state in ${settings.dataDir}`);
  const server = await startTemporalDevServer(temporalCliPath(PROJECT_ROOT), {
    port,
    uiPort,
    dataDir: settings.dataDir,
    abortSignal: shutdown.abortSignal,
  });
  cleanups.push(() => server.stop());
  if (shutdown.isRequested) return undefined;
  return {
    connectionOptions: { address: server.address },
    namespace: 'default',
    uiUrl: server.uiUrl,
    // The client's default is localhost:7233; any other port must be named.
    clientTemporalAddress: port === 7233 ? undefined : server.address,
  };
}

interface Endpoints {
  activities: Omit<WorkerActivityDependencies, 'dispatcher'>;
  banner: Pick<BannerFacts, 'standins' | 'datadogIntakeUrl'>;
}

/** Real mode: the configured Atlassian and Datadog. Otherwise the stand-ins, with keys only the worker sees. */
async function startEndpoints(
  settings: DemoSettings,
  workerConfig: ReturnType<typeof loadWorkerConfig>,
  startedAt: number,
  cleanups: Cleanup[]
): Promise<Endpoints> {
  if (settings.mode.kind === 'real') {
    return {
      activities: { atlassianBaseUrl: workerConfig.atlassianBaseUrl, datadogIntakeUrl: workerConfig.datadogIntakeUrl },
      banner: { datadogIntakeUrl: workerConfig.datadogIntakeUrl },
    };
  }
  const deliveredLogsFile = path.join(settings.dataDir, 'delivered-logs.ndjson');
  const eventsFile = path.join(settings.dataDir, 'atlassian-events.ndjson');
  const standins = await startStandins({
    atlassianPort: settings.atlassianStandinPort,
    datadogPort: settings.datadogStandinPort,
    orgId: settings.mode.orgId,
    ndjsonPath: deliveredLogsFile,
    eventsFile,
  });
  const stopReporting = reportDeliveries(standins.datadog, startedAt);
  cleanups.push(async () => {
    stopReporting();
    await standins.stop();
  });
  console.log(`Atlassian API stand-in on ${standins.atlassian.url}, Datadog intake stand-in on ${standins.datadog.url}`);
  return {
    activities: {
      atlassianBaseUrl: standins.atlassian.url,
      datadogIntakeUrl: standins.datadog.url,
      // The workflow holds only `env:ATLASSIAN_API_KEY` / `env:DD_API_KEY`; here they resolve to the stand-ins' keys.
      // `verify` reads the stand-in's Logs APIs with its application key, at the stand-in's origin.
      env: {
        ATLASSIAN_API_KEY: STANDIN_DEFAULTS.atlassianKey,
        DD_API_KEY: STANDIN_DEFAULTS.datadogKey,
        DD_APP_KEY: STANDIN_DEFAULTS.datadogAppKey,
        DD_API_BASE_URL: standins.datadog.origin,
      },
    },
    banner: {
      standins: {
        deliveredLogsFile,
        eventsFile,
        restoredEvents: standins.restoredEvents,
        newEventEverySeconds: 60 / STANDIN_DEFAULTS.demoEventsPerMinute,
      },
    },
  };
}

function oneLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).replace(/\s*\n\s*/g, ' ');
}

run(new ShutdownRequest()).catch((error: unknown) => {
  console.error(`demo: ${oneLine(error)}`);
  // Whatever a failed start left open must not keep the process alive.
  process.exit(1);
});
