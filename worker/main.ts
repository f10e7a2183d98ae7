/**
 * `npm run worker`: runs the workflows and activities for every organization on the task queue.
 * Configuration comes from the environment (see README, "Operator contract"); a bad value stops it with one line.
 * Once running, everything it says is a JSON line on stdout (./telemetry.ts) and its metrics are served for
 * Prometheus (./metrics.ts).
 */
import { existsSync } from 'node:fs';
import { Connection } from '@temporalio/client';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import { NativeConnection, Runtime } from '@temporalio/worker';
import { createHttpAgent, displayableProxySettings } from '../activities/http-client';
import { CodecConfigError } from '../codec/codec-errors';
import { loadDataConverter } from '../codec/data-converter';
import { ConfigError, loadWorkerConfig } from './config';
import { createAuditWorker } from './create-worker';
import { ensureSearchAttributes } from './search-attributes';
import { installTelemetry, loadTelemetryConfig } from './telemetry';

const WORKFLOW_BUNDLE_VARIABLE = 'AUDIT_WORKFLOW_BUNDLE';

async function run(): Promise<void> {
  // Every setting is read before anything starts, so that a bad one ends the process with its one-line message.
  const config = loadWorkerConfig();
  const telemetry = loadTelemetryConfig();
  const dataConverter = loadDataConverter();
  const workflowBundle = prebuiltWorkflowBundle();
  const { connectionOptions, namespace = 'default' } = loadTemporalConnectConfig();
  const logger = installTelemetry(telemetry);

  try {
    const admin = await Connection.connect(connectionOptions);
    try {
      const added = await ensureSearchAttributes(admin, namespace);
      if (added.length > 0) logger.info(`Registered search attributes: ${added.join(', ')}`, { namespace });
    } catch (err) {
      // A key without namespace-admin rights (the norm on Temporal Cloud) may not list or add them; where they were
      // created beforehand, the worker runs as well, so this is a warning and not the end of the process.
      logger.warn('Could not check the search attributes; AtlassianOrgId and AtlassianAuditPhase (Keyword) must exist', {
        namespace,
        error: err,
      });
    } finally {
      await admin.close();
    }

    const connection = await NativeConnection.connect(connectionOptions);
    const dispatcher = createHttpAgent({ proxy: config.proxy });
    try {
      const worker = await createAuditWorker({
        connection,
        namespace,
        taskQueue: config.taskQueue,
        activities: {
          atlassianBaseUrl: config.atlassianBaseUrl,
          datadogIntakeUrl: config.datadogIntakeUrl,
          deadLetterDir: config.deadLetterDir,
          credentialPolicy: config.credentialPolicy,
          dispatcher,
        },
        workflowBundle,
        dataConverter,
        shutdownGraceMs: config.shutdownGraceMs,
        paceGroups: config.paceGroups,
      });
      logger.info(`Worker polling task queue "${config.taskQueue}" in namespace "${namespace}"`, {
        taskQueue: config.taskQueue,
        namespace,
        workflowBundle: workflowBundle?.codePath ?? 'built from source at start-up',
        payloadEncryption: (dataConverter?.payloadCodecs?.length ?? 0) > 0,
        metricsAddress: telemetry.metricsBindAddress ?? 'off',
        proxy: displayableProxySettings(config.proxy),
        paceGroups: config.paceGroups,
      });
      await worker.run();
    } finally {
      await connection.close();
      await dispatcher.close();
    }
  } catch (err) {
    // Past this point the logs are JSON: the fatal error is one more line, after the SDK's lines still held back.
    Runtime.instance().flushLogs();
    logger.error('Worker stopped on an error', { error: err });
    process.exit(1);
  }
}

/**
 * The bundle built by `worker/build-workflow-bundle.ts` (the container image sets `AUDIT_WORKFLOW_BUNDLE`); without
 * it the workflows are bundled from source at start-up, which takes seconds and needs webpack.
 */
function prebuiltWorkflowBundle(env: NodeJS.ProcessEnv = process.env): { codePath: string } | undefined {
  const codePath = env[WORKFLOW_BUNDLE_VARIABLE]?.trim();
  if (!codePath) return undefined;
  if (!existsSync(codePath)) {
    throw new ConfigError(`Invalid configuration: ${WORKFLOW_BUNDLE_VARIABLE} names a file that does not exist`);
  }
  return { codePath };
}

/**
 * `TEMPORAL_*` and the optional envconfig TOML profile. Only the first line of a failure is kept: a TOML parse error
 * goes on with a frame of the offending lines, and that line may hold an `api_key`.
 */
function loadTemporalConnectConfig(): ReturnType<typeof loadClientConnectConfig> {
  try {
    return loadClientConnectConfig();
  } catch (err) {
    const firstLine = (err instanceof Error ? err.message : String(err)).split('\n')[0];
    throw new ConfigError(`Invalid Temporal connection configuration (TEMPORAL_* or its TOML profile): ${firstLine}`);
  }
}

run().catch((err: unknown) => {
  console.error(err instanceof ConfigError || err instanceof CodecConfigError ? err.message : err);
  process.exit(1);
});
