/**
 * A throwaway Temporal dev server (the CLI's `server start-dev`, SQLite in a temporary file) for one benchmark, so
 * that no benchmark inherits the workflows, history or task-queue backlog of another.
 */

export interface DevServerOptions {
  /**
   * Server settings (`--dynamic-config-value KEY=VALUE`) on top of the dev server's defaults, for a run that shows
   * what one setting changes.
   */
  dynamicConfig?: Readonly<Record<string, string | number>>;
  /**
   * `file`: SQLite in a temporary file, every write synced to disk, as a persistent server stores. `memory`: SQLite
   * in memory, for a run that shows what the store's disk writes cost.
   * @default 'file'
   */
  store?: 'file' | 'memory';
}
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { projectSearchAttributes } from '../../shared/search-attributes';

const ROOT = join(__dirname, '..', '..');
const READY_TIMEOUT_MS = 60_000;

export class TemporalDevServer {
  private constructor(
    private readonly child: ChildProcess,
    private readonly directory: string,
    /** `127.0.0.1:<port>` of the frontend gRPC service. */
    readonly address: string,
    private readonly output: () => string
  ) {}

  /** The server process, for CPU and memory sampling: the CLI runs the whole server in this one process. */
  get pid(): number {
    return this.child.pid!;
  }

  static async start(options: DevServerOptions = {}): Promise<TemporalDevServer> {
    const { dynamicConfig = {}, store = 'file' } = options;
    const cli = execFileSync('bash', [join(ROOT, 'dev/temporal-cli.sh')], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    }).trim();
    const port = await freePort();
    const directory = mkdtempSync(join(tmpdir(), 'audit-bench-temporal-'));
    const args = [
      'server',
      'start-dev',
      '--headless',
      '--ip',
      '127.0.0.1',
      '--port',
      String(port),
      ...(store === 'file' ? ['--db-filename', join(directory, 'temporal.sqlite')] : []),
      ...Object.entries(dynamicConfig).flatMap(([key, value]) => ['--dynamic-config-value', `${key}=${value}`]),
      ...projectSearchAttributes.flatMap((key) => ['--search-attribute', `${key.name}=${key.type}`]),
    ];
    const child = spawn(cli, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const server = new TemporalDevServer(child, directory, `127.0.0.1:${port}`, () => output);
    try {
      await server.waitUntilServing();
    } catch (error) {
      await server.stop();
      throw error;
    }
    return server;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise((resolve) => this.child.once('exit', resolve));
      this.child.kill('SIGTERM');
      const forced = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(forced);
    }
    rmSync(this.directory, { recursive: true, force: true });
  }

  /** The port answers before the default namespace exists: wait until a namespace call succeeds. */
  private async waitUntilServing(): Promise<void> {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      if (this.child.exitCode !== null) throw new Error(`temporal dev server exited early:\n${this.output()}`);
      try {
        const connection = await Connection.connect({ address: this.address, connectTimeout: 1_000 });
        try {
          await connection.workflowService.describeNamespace({ namespace: 'default' });
          return;
        } finally {
          await connection.close();
        }
      } catch (error) {
        if (Date.now() > deadline) throw new Error(`temporal dev server not serving after ${READY_TIMEOUT_MS} ms: ${String(error)}`);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}
