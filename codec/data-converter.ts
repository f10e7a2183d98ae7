import type { DataConverter } from '@temporalio/common';
import { EncryptionCodec } from './encryption-codec';
import { loadPayloadKeyRing } from './payload-keys';

/**
 * Absolute path of the module exporting `failureConverter` (see ./failure-converter.ts). Temporal takes the failure
 * converter by path, not by value, because the worker has to bundle it into the workflow sandbox.
 */
export const failureConverterPath = require.resolve('./failure-converter');

/**
 * The data converter for payload encryption, built from `AUDIT_PAYLOAD_KEY` and `AUDIT_PAYLOAD_OLD_KEYS`.
 *
 * @returns `undefined` when `AUDIT_PAYLOAD_KEY` is unset: the SDK defaults then apply (no encryption, failure
 * messages in clear).
 * @throws CodecConfigError naming the variable when a key is malformed.
 *
 * How to wire it (checked against the @temporalio/{common,worker,client} 1.24.0 sources):
 *
 * - Client and Worker take the same value: `new Client({ connection, namespace, dataConverter })` and
 *   `Worker.create({ ..., dataConverter })`. Both types accept only a `DataConverter`: a failure converter *object*
 *   cannot be passed, so it goes by `failureConverterPath`, which each of them `require()`s in its own process
 *   (`loadDataConverter` in `@temporalio/common/lib/internal-non-workflow/data-converter-helpers`).
 * - Workflow code runs in a sandbox that has its own copy of the failure converter, compiled into the bundle:
 *   - with `workflowsPath`, `Worker.create` passes `dataConverter.failureConverterPath` to its bundler itself;
 *   - with a prebuilt `workflowBundle`, the worker ignores the path for the sandbox, so the build step must call
 *     `bundleWorkflowCode({ workflowsPath, failureConverterPath })` with this same {@link failureConverterPath};
 *     without it, failures raised in workflow code keep their messages in clear.
 * - `payloadCodecs` run outside the sandbox (worker main thread, client), so the codec needs no bundling.
 * - Every process that reads history (worker, client CLI, codec server) needs the same keys in its environment.
 */
export function loadDataConverter(env: NodeJS.ProcessEnv = process.env): DataConverter | undefined {
  const keys = loadPayloadKeyRing(env);
  if (keys === undefined) {
    return undefined;
  }
  return { payloadCodecs: [new EncryptionCodec({ keys })], failureConverterPath };
}
