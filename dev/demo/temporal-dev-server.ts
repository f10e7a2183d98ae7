/**
 * The Temporal dev server (`temporal server start-dev`) as a child process of the demo: SQLite state in the data
 * directory so workflows survive a restart, the project's search attributes registered at start, output in a log
 * file so the demo's terminal stays readable.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
import { SearchAttributeType } from '@temporalio/common';
import { projectSearchAttributes } from '../../shared/search-attributes';

export interface DevServerOptions {
  port: number;
  uiPort: number;
  dataDir: string;
  /** Aborting stops the wait for the server to answer; the caller then stops the server. */
  abortSignal: AbortSignal;
}

export interface RunningDevServer {
  /** gRPC address for clients and workers, `127.0.0.1:<port>`. */
  readonly address: string;
  /** Web UI origin as a user's browser reaches it, `http://localhost:<uiPort>`. */
  readonly uiUrl: string;
  /** SIGTERM, then waits for the exit (SIGKILL after a grace period). */
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 15_000;

const cliTypeNames: Record<string, string> = { [SearchAttributeType.KEYWORD]: 'Keyword' };

/** The CLI from dev/temporal-cli.sh: `TEMPORAL_CLI_PATH`, PATH, the project's cache, or a build from source. */
export function temporalCliPath(projectRoot: string): string {
  return execFileSync('bash', [path.join(projectRoot, 'dev', 'temporal-cli.sh')], {
    encoding: 'utf8',
    // The first build takes minutes; its progress lines go to the user's terminal.
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
}

export async function startTemporalDevServer(cliPath: string, options: DevServerOptions): Promise<RunningDevServer> {
  for (const port of [options.port, options.uiPort]) {
    if (!(await isPortFree(port))) {
      // Most likely a dev server an earlier demo run left behind.
      const hint = 'is an earlier `npm start` or its Temporal dev server still running? Stop it, or set TEMPORAL_ADDRESS to use it';
      throw new Error(`port ${port} is already in use: ${hint}`);
    }
  }

  mkdirSync(options.dataDir, { recursive: true });
  const logFile = path.join(options.dataDir, 'temporal-server.log');
  const log = openSync(logFile, 'a');
  const args = [
    'server',
    'start-dev',
    ...['--ip', '127.0.0.1', '--port', String(options.port), '--ui-port', String(options.uiPort)],
    ...['--db-filename', path.join(options.dataDir, 'temporal.db')],
    ...projectSearchAttributes.flatMap((key) => ['--search-attribute', `${key.name}=${cliTypeNames[key.type]!}`]),
  ];
  // Its own process group: Ctrl-C in the terminal reaches the demo, which stops the server only after the worker
  // has finished its in-flight activities.
  const child = spawn(cliPath, args, { detached: true, stdio: ['ignore', log, log] });
  closeSync(log);
  const exited = new Promise<string>((resolve) => {
    child.once('exit', (code, signal) => resolve(signal ? `signal ${signal}` : `code ${code}`));
    child.once('error', (error) => resolve(error.message));
  });
  let exitReason: string | undefined;
  void exited.then((reason) => (exitReason = reason));
  // Should the demo end without its cleanup (an uncaught error, a second Ctrl-C), the server still gets SIGTERM.
  const stopOnExit = () => child.kill('SIGTERM');
  process.on('exit', stopOnExit);

  const server: RunningDevServer = {
    address: `127.0.0.1:${options.port}`,
    uiUrl: `http://localhost:${options.uiPort}`,
    async stop() {
      process.off('exit', stopOnExit);
      await stopChild(child, exited);
    },
  };
  try {
    await waitUntilServing(server.address, options.uiPort, options.abortSignal, () => exitReason, logFile);
  } catch (error) {
    await server.stop();
    throw error;
  }
  return server;
}

export async function isPortFree(port: number): Promise<boolean> {
  const probe = createServer();
  return new Promise((resolve) => {
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

/** Until the frontend knows the `default` namespace and the Web UI answers: then the printed links work. */
async function waitUntilServing(
  address: string,
  uiPort: number,
  abortSignal: AbortSignal,
  exitReason: () => string | undefined,
  logFile: string
): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!abortSignal.aborted) {
    const reason = exitReason();
    if (reason) throw new Error(`the Temporal dev server exited (${reason}) before it answered; see ${logFile}`);
    if ((await frontendAnswers(address)) && (await webUiAnswers(uiPort))) return;
    if (Date.now() > deadline) {
      throw new Error(`the Temporal dev server did not answer within ${READY_TIMEOUT_MS / 1000} s; see ${logFile}`);
    }
    await sleep(250);
  }
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

async function stopChild(child: ChildProcess, exited: Promise<string>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
  await exited;
  clearTimeout(timer);
}
