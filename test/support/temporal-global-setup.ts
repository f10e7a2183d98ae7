/**
 * Starts one Temporal dev server (the real server, SQLite in memory) for every workflow test file, through the
 * harness's launcher (dev/harness/dev-server.ts) with the locally built CLI: the SDK's own download cannot be
 * reached from CI machines.
 */
import { TEMPORAL_ADDRESS_VARIABLE } from '../../dev/harness/audit-harness';
import { startDevServer, type RunningDevServer } from '../../dev/harness/dev-server';

export { TEMPORAL_ADDRESS_VARIABLE };

/** Jest hands the global teardown nothing but globals; the server waits there for it. */
export type SharedServerGlobal = { __auditTestServer?: RunningDevServer };

export default async function setup(): Promise<void> {
  const server = await startDevServer({ store: 'memory' });
  (globalThis as SharedServerGlobal).__auditTestServer = server;
  process.env[TEMPORAL_ADDRESS_VARIABLE] = server.address;
}
