import { Client, Connection } from '@temporalio/client';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import { loadDataConverter } from '../codec/data-converter';
import { DEFAULT_TASK_QUEUE } from '../shared/org-workflow';

export interface ClientContext {
  client: Client;
  taskQueue: string;
  close(): Promise<void>;
}

/** Connects as the worker does: `TEMPORAL_*` through envconfig, the same payload codec, the same task queue. */
export async function connectClient(env: NodeJS.ProcessEnv = process.env): Promise<ClientContext> {
  const { connectionOptions, namespace = 'default' } = loadClientConnectConfig();
  const dataConverter = loadDataConverter(env);
  const connection = await Connection.connect(connectionOptions);
  return {
    client: new Client({ connection, namespace, dataConverter }),
    taskQueue: env.AUDIT_TASK_QUEUE?.trim() || DEFAULT_TASK_QUEUE,
    close: () => connection.close(),
  };
}
