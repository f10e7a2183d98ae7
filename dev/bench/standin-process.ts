/** The benchmark's side of ./standin-host.ts: starts the child, sends it commands, and stops it. */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { OrgTraffic, StandinCommandName, StandinCommands, StandinHostConfig, StandinReadyMessage, StandinReplyMessage } from './standin-protocol';
import { stopChild } from '../harness/processes';
import { waitUntil } from '../harness/wait';

/** The Datadog stand-in keeps every log it receives in memory: 50,000 shipped events need more than the default heap. */
const STANDIN_HEAP_MB = 6_144;

export class StandinProcess {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (output: unknown) => void; reject: (error: Error) => void }>();

  private constructor(
    private readonly child: ChildProcess,
    readonly atlassianUrl: string,
    readonly datadogIntakeUrl: string
  ) {
    child.on('message', (message: StandinReplyMessage) => {
      const waiting = this.pending.get(message.id);
      if (!waiting) return;
      this.pending.delete(message.id);
      if ('error' in message) waiting.reject(new Error(`stand-in host: ${message.error}`));
      else waiting.resolve(message.output);
    });
    child.on('exit', (code) => {
      for (const waiting of this.pending.values()) waiting.reject(new Error(`stand-in host exited with ${code}`));
      this.pending.clear();
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  static async start(config: StandinHostConfig): Promise<StandinProcess> {
    // The parent's own loader flags (tsx) are kept, so the child runs TypeScript the same way.
    const child = fork(join(__dirname, 'standin-host.ts'), [JSON.stringify(config)], {
      execArgv: [...process.execArgv, `--max-old-space-size=${STANDIN_HEAP_MB}`],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const ready = await new Promise<StandinReadyMessage['ready']>((resolve, reject) => {
      child.once('message', (message: StandinReadyMessage) => resolve(message.ready));
      child.once('exit', (code) => reject(new Error(`stand-in host exited with ${code} before it was ready`)));
    });
    return new StandinProcess(child, ready.atlassianUrl, ready.datadogIntakeUrl);
  }

  request<K extends StandinCommandName>(command: K, input: StandinCommands[K]['input']): Promise<StandinCommands[K]['output']> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (output: unknown) => void, reject });
      this.child.send({ id, command, input });
    });
  }

  /** Waits until `count` logs of the org reached the Datadog stand-in; returns the org's traffic at that point. */
  async waitForDelivered(orgId: string, count: number, timeoutMs: number): Promise<OrgTraffic> {
    let traffic: OrgTraffic | undefined;
    await waitUntil(
      async () => ((traffic = (await this.request('traffic', { orgIds: [orgId] }))[0]!).delivered >= count),
      timeoutMs,
      () => `${traffic?.delivered}/${count} logs of ${orgId} delivered`,
      250
    );
    return traffic!;
  }

  /** The host ends when its IPC channel closes (standin-host.ts). */
  stop(): Promise<void> {
    return stopChild(this.child, 10_000, () => this.child.disconnect());
  }
}
