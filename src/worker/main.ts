/**
 * `npm run worker`: runs the workflows and activities for every organization on the task queue.
 * Configuration comes from the environment (see README, "Operator contract"); a bad value stops it with one line.
 */
import { Connection } from '@temporalio/client';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import { NativeConnection } from '@temporalio/worker';
import { createHttpAgent } from '../activities/http-client';
import { loadDataConverter } from '../codec/data-converter';
import { ConfigError, loadWorkerConfig } from './config';
import { createAuditWorker } from './create-worker';
import { ensureSearchAttributes } from './search-attributes';

async function run(): Promise<void> {
  const config = loadWorkerConfig();
  const dataConverter = loadDataConverter();
  const { connectionOptions, namespace = 'default' } = loadClientConnectConfig();

  const admin = await Connection.connect(connectionOptions);
  try {
    const added = await ensureSearchAttributes(admin, namespace);
    if (added.length > 0) console.log(`Registered search attributes: ${added.join(', ')}`);
  } finally {
    await admin.close();
  }

  const connection = await NativeConnection.connect(connectionOptions);
  const dispatcher = createHttpAgent();
  try {
    const worker = await createAuditWorker({
      connection,
      namespace,
      taskQueue: config.taskQueue,
      activities: { atlassianBaseUrl: config.atlassianBaseUrl, datadogIntakeUrl: config.datadogIntakeUrl, dispatcher },
      dataConverter,
      shutdownGraceMs: config.shutdownGraceMs,
    });
    console.log(`Worker polling task queue "${config.taskQueue}" in namespace "${namespace}"`);
    await worker.run();
  } finally {
    await connection.close();
    await dispatcher.close();
  }
}

run().catch((err: unknown) => {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
});
