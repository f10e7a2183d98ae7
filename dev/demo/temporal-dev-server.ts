/**
 * The demo's Temporal dev server: the harness's (dev/harness/dev-server.ts) with its state and log in the demo's
 * data directory, so workflows survive a restart, the Web UI on, and a process group of its own: Ctrl-C in the
 * terminal reaches the demo, which stops the server only after the worker has finished its in-flight activities.
 */
import { startDevServer, type DevServerOptions, type RunningDevServer } from '../harness/dev-server';
import { isPortFree } from '../harness/ports';

export { temporalCliPath, type RunningDevServer } from '../harness/dev-server';
export { isPortFree } from '../harness/ports';

/** What the demo always gives: the ports and data directory of its settings, and its Ctrl-C as the abort signal. */
export type DemoServerOptions = Required<Pick<DevServerOptions, 'port' | 'uiPort' | 'dataDir' | 'abortSignal'>>;

export async function startTemporalDevServer(cliPath: string, options: DemoServerOptions): Promise<RunningDevServer> {
  for (const port of [options.port, options.uiPort]) {
    if (!(await isPortFree(port))) {
      // Most likely a dev server an earlier demo run left behind.
      const hint = 'is an earlier `npm start` or its Temporal dev server still running? Stop it, or set TEMPORAL_ADDRESS to use it';
      throw new Error(`port ${port} is already in use: ${hint}`);
    }
  }
  return startDevServer({ ...options, cli: cliPath, ownProcessGroup: true });
}
