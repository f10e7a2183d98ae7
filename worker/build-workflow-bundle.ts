/**
 * Builds the workflow bundle once, at image build time, so the worker starts without webpack:
 * `npx tsx worker/build-workflow-bundle.ts [output]` (default `lib/workflow-bundle.js`), then run the worker with
 * `AUDIT_WORKFLOW_BUNDLE` pointing at the file.
 *
 * The failure converter is bundled in always. With a prebuilt bundle the worker ignores
 * `dataConverter.failureConverterPath` for the sandbox (it only passes it to its own bundler), and the image is built
 * before anyone knows whether `AUDIT_PAYLOAD_KEY` will be set. Encoding failure messages into `encodedAttributes`
 * is harmless without a key (every SDK, the CLI and the UI decode them unconditionally; the payload is then plain
 * JSON) and required with one, or workflow failures would carry audit data in clear.
 *
 * Build it with the same @temporalio/worker version that runs it (the lock file guarantees it in the image).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { failureConverterPath } from '../codec/data-converter';
import { WORKFLOWS_PATH } from './create-worker';

const DEFAULT_OUTPUT = resolve(__dirname, '..', 'lib', 'workflow-bundle.js');

async function build(output: string): Promise<void> {
  const { code } = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, failureConverterPath });
  await mkdir(dirname(output), { recursive: true });
  await writeFile(output, code);
  console.log(`Workflow bundle written to ${output} (${Math.round(code.length / 1024)} KiB)`);
}

build(resolve(process.argv[2] ?? DEFAULT_OUTPUT)).catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
