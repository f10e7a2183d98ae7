/**
 * The Temporal dev server (`temporal server start-dev`, the real server with SQLite) as a child process, from the CLI
 * that dev/temporal-cli.sh provides: the one launcher of the workflow tests' shared server, each benchmark's
 * throwaway server, the reliability run's restartable one and the demo's. The project's search attributes are
 * registered at start; the server's output goes to a log file, so no terminal carries it.
 */
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { TypedSearchAttributes } from '@temporalio/common';
import { projectSearchAttributes } from '../../shared/search-attributes';
import { freePort } from './ports';
import { PROJECT_ROOT, stopChild } from './processes';
import { waitUntil } from './wait';

const READY_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 15_000;

export interface DevServerOptions {
  /** The frontend's gRPC port. @default a free port */
  port?: number;
  /** The Web UI's port; without one the server runs headless. */
  uiPort?: number;
  /**
   * Where `temporal.db` and `temporal-server.log` are kept after `stop`: a server started again on the same
   * directory resumes its workflows, and a post-mortem can read them. @default a temporary directory, removed at stop
   */
  dataDir?: string;
  /**
   * `file`: SQLite in the data directory, every write synced to disk, as a persistent server stores. `memory`: SQLite
   * in memory, for the tests' shared server and for a benchmark that shows what the store's disk writes cost.
   * @default 'file'
   */
  store?: 'file' | 'memory';
  /** Server settings (`--dynamic-config-value KEY=VALUE`) on top of the dev server's defaults. */
  dynamicConfig?: Readonly<Record<string, string | number>>;
  /** Aborting ends the wait for the server to answer; the caller then stops the server. */
  abortSignal?: AbortSignal;
  /**
   * A process group of its own: Ctrl-C in a terminal then reaches only this process, which can stop the server
   * after its worker has finished. Only for a caller that handles SIGINT itself.
   */
  ownProcessGroup?: boolean;
  /** The CLI, when the caller has resolved it already. @default temporalCliPath() */
  cli?: string;
}

export interface RunningDevServer {
  /** gRPC address for clients and workers, `127.0.0.1:<port>`. */
  readonly address: string;
  /** Web UI origin as a user's browser reaches it, `http://localhost:<uiPort>`; undefined when headless. */
  readonly uiUrl: string | undefined;
  /** The server process, for CPU and memory sampling: the CLI runs the whole server in this one process. */
  readonly pid: number;
  /** SIGTERM, then waits for the exit (SIGKILL after a grace period); removes a temporary data directory. */
  stop(): Promise<void>;
}

/**
 * The CLI from dev/temporal-cli.sh: `TEMPORAL_CLI_PATH`, PATH, the project's cache, or a build from source.
 * @param projectRoot the checkout whose script (and cache) to use
 */
export function temporalCliPath(projectRoot = PROJECT_ROOT): string {
  return execFileSync('bash', [join(projectRoot, 'dev', 'temporal-cli.sh')], {
    encoding: 'utf8',
    // The first build takes minutes; its progress lines go to the user's terminal.
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
}

export async function startDevServer(options: DevServerOptions = {}): Promise<RunningDevServer> {
  const { uiPort, store = 'file', dynamicConfig = {} } = options;
  const port = options.port ?? (await freePort());
  const cli = options.cli ?? temporalCliPath();
  const temporaryDir = options.dataDir === undefined ? mkdtempSync(join(tmpdir(), 'audit-temporal-')) : undefined;
  const dataDir = options.dataDir ?? temporaryDir!;
  mkdirSync(dataDir, { recursive: true });
  const logFile = join(dataDir, 'temporal-server.log');
  const args = [
    'server',
    'start-dev',
    ...['--ip', '127.0.0.1', '--port', String(port)],
    ...(uiPort === undefined ? ['--headless'] : ['--ui-port', String(uiPort)]),
    ...(store === 'file' ? ['--db-filename', join(dataDir, 'temporal.db')] : []),
    ...Object.entries(dynamicConfig).flatMap(([key, value]) => ['--dynamic-config-value', `${key}=${value}`]),
    ...projectSearchAttributes.flatMap((key) => ['--search-attribute', `${key.name}=${TypedSearchAttributes.toMetadataType(key.type)}`]),
  ];
  const log = openSync(logFile, 'a');
  const child = spawn(cli, args, { detached: options.ownProcessGroup ?? false, stdio: ['ignore', log, log] });
  closeSync(log);
  let exitReason: string | undefined;
  child.once('exit', (code, signal) => (exitReason = signal ? `signal ${signal}` : `code ${code}`));
  child.once('error', (error) => (exitReason = error.message));
  // Should the caller end without stopping it (an uncaught error, process.exit), the server still gets SIGTERM.
  const stopOnExit = () => child.kill('SIGTERM');
  process.on('exit', stopOnExit);

  const server: RunningDevServer = {
    address: `127.0.0.1:${port}`,
    uiUrl: uiPort === undefined ? undefined : `http://localhost:${uiPort}`,
    // Defined: the server is handed out only once it answers.
    pid: child.pid!,
    async stop() {
      process.off('exit', stopOnExit);
      await stopChild(child, STOP_GRACE_MS);
      if (temporaryDir) rmSync(temporaryDir, { recursive: true, force: true });
    },
  };
  try {
    // Until the frontend knows the `default` namespace (the port answers before it exists) and the Web UI answers:
    // then every printed link works.
    await waitUntil(
      async () => {
        if (exitReason) throw new Error(`the Temporal dev server exited (${exitReason}) before it answered; ${logTail(logFile)}`);
        if (options.abortSignal?.aborted) return true;
        return (await frontendAnswers(server.address)) && (uiPort === undefined || (await webUiAnswers(uiPort)));
      },
      READY_TIMEOUT_MS,
      () => `the Temporal dev server did not answer; ${logTail(logFile)}`,
      250
    );
  } catch (error) {
    await server.stop();
    throw error;
  }
  return server;
}

/** The end of the server's log for an error message: a temporary log is gone once the server is stopped. */
function logTail(logFile: string): string {
  const lines = readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-20);
  return `the last lines of ${logFile}:\n${lines.join('\n')}`;
}

async function frontendAnswers(address: string): Promise<boolean> {
  let connection: Connection | undefined;
  try {
    connection = await Connection.connect({ address, connectTimeout: 2_000 });
    await connection.workflowService.describeNamespace({ namespace: 'default' });
    return true;
  } catch {
    return false;
  } finally {
    await connection?.close();
  }
}

async function webUiAnswers(uiPort: number): Promise<boolean> {
  try {
    const response = await fetch(`http://127.0.0.1:${uiPort}/`, { signal: AbortSignal.timeout(2_000) });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}
