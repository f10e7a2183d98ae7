/**
 * What Temporal stores for a workflow, read the way anyone with access to the namespace (or its database) reads it:
 * the raw history of every run, continue-as-new included, and the payloads and failures in it. Nothing here decodes.
 */
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { waitUntil } from './wait';

const { Payload } = temporal.api.common.v1;
const { Failure } = temporal.api.failure.v1;

export interface RunHistory {
  runId: string;
  history: temporal.api.history.v1.IHistory;
}

/**
 * The raw history of every run of `workflowId`, oldest first, listed through visibility. Visibility lags behind
 * the server's own state, so the list is awaited until it holds every run of the latest continue-as-new chain
 * (each run's first event names the run it continues).
 */
export async function historiesOfEveryRun(client: Client, workflowId: string, timeoutMs = 20_000): Promise<RunHistory[]> {
  const latestChain: string[] = [];
  let runId: string | undefined = (await client.workflow.getHandle(workflowId).describe()).runId;
  while (runId) {
    latestChain.push(runId);
    const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    runId = history.events?.[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId || undefined;
  }

  let listed: Array<{ runId: string; startTime: Date }> = [];
  await waitUntil(
    async () => {
      listed = [];
      for await (const execution of client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) {
        listed.push({ runId: execution.runId, startTime: execution.startTime });
      }
      return latestChain.every((id) => listed.some((execution) => execution.runId === id));
    },
    timeoutMs,
    () => `visibility lists ${listed.length} runs of ${workflowId}; the continue-as-new chain has ${latestChain.length}`
  );

  listed.sort((a, b) => a.startTime.getTime() - b.startTime.getTime());
  return Promise.all(
    listed.map(async ({ runId: id }) => ({ runId: id, history: await client.workflow.getHandle(workflowId, id).fetchHistory() }))
  );
}

export interface StoredPayload {
  /** Where the payload sits, e.g. `events.4.activityTaskScheduledEventAttributes.input.payloads.0`. */
  path: string;
  payload: temporal.api.common.v1.Payload;
}

/** Every payload in `value` (a history or any part of one), wherever it is nested. */
export function payloadsIn(value: unknown): StoredPayload[] {
  return [...nodesOf(value, '')]
    .filter(([, node]) => isMessageOf(node, Payload))
    .map(([path, node]) => ({ path, payload: node as temporal.api.common.v1.Payload }));
}

/** Every failure in `value`, causes included. */
export function failuresIn(value: unknown): temporal.api.failure.v1.Failure[] {
  return [...nodesOf(value, '')]
    .filter(([, node]) => isMessageOf(node, Failure))
    .map(([, node]) => node as temporal.api.failure.v1.Failure);
}

/** The `encoding` metadata of a payload, e.g. `json/plain` or `binary/encrypted`. */
export function encodingOf(payload: temporal.api.common.v1.IPayload): string | undefined {
  const encoding = payload.metadata?.encoding;
  return encoding ? Buffer.from(encoding).toString('utf8') : undefined;
}

/** Serialized size of a payload as it travels and is stored (protobuf), metadata included. */
export function storedBytesOf(payload: temporal.api.common.v1.IPayload): number {
  return Payload.encode(payload).finish().length;
}

/** Serialized size of a whole history. */
export function storedHistoryBytes(history: temporal.api.history.v1.IHistory): number {
  return temporal.api.history.v1.History.encode(history).finish().length;
}

/**
 * @temporalio/proto is built by reflection: its message "classes" are protobufjs Type objects at run time, so
 * `instanceof` cannot be used; every decoded message names its Type in `$type`.
 */
function isMessageOf(node: object, type: unknown): boolean {
  return (node as { $type?: unknown }).$type === type;
}

function* nodesOf(value: unknown, path: string): Generator<[string, object]> {
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return;
  yield [path, value];
  for (const [key, child] of Object.entries(value)) yield* nodesOf(child, path === '' ? key : `${path}.${key}`);
}
