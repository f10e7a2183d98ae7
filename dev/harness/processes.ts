/**
 * Child processes of the harness: the project's real entry points (`npm run worker`, the client, the demo) run as
 * an operator runs them, with their output kept so that callers can wait for a line or check it for secrets.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

export const PROJECT_ROOT = join(__dirname, '..', '..');

export interface RunningProcess {
  child: ChildProcess;
  output(): string;
  /**
   * Resolves when a line matching `pattern` appears in stdout or stderr; rejects, with the output so far, when the
   * process ends first or `timeoutMs` passes.
   */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<void>;
  exited: Promise<number | null>;
}

/** `script` (relative to the project root) with `env` and nothing else of this process's environment but PATH and HOME. */
export function startEntryPoint(script: string, args: string[], env: NodeJS.ProcessEnv): RunningProcess {
  // One process, as `node --import tsx` runs it: a signal (SIGKILL above all) reaches the entry point itself, not a
  // wrapper such as the tsx command that would leave it running.
  const child = spawn(process.execPath, ['--import', 'tsx', join(PROJECT_ROOT, script), ...args], {
    cwd: PROJECT_ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  // 'close', not 'exit': the last output may still be in the pipes when the process exits.
  let closed = false;
  const listeners = new Set<() => void>();
  const notify = () => {
    for (const listener of listeners) listener();
  };
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
    notify();
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  child.on('close', () => {
    closed = true;
    notify();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    output: () => output,
    exited,
    waitForOutput(pattern, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const settle = (error?: Error) => {
          listeners.delete(check);
          clearTimeout(timer);
          if (error) reject(error);
          else resolve();
        };
        const check = () => {
          if (pattern.test(output)) settle();
          else if (closed) settle(new Error(`the process ended before any output matched ${pattern}; its output:\n${output}`));
        };
        const timer = setTimeout(() => settle(new Error(`no output matching ${pattern} within ${timeoutMs} ms; output so far:\n${output}`)), timeoutMs);
        listeners.add(check);
        check();
      });
    },
  };
}

/** Runs an entry point to completion: exit code and everything it printed. */
export async function runEntryPoint(script: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  const running = startEntryPoint(script, args, env);
  const code = await running.exited;
  return { code, output: running.output() };
}

/**
 * Asks a child to end and waits until it has: SIGTERM unless `ask` says otherwise (a forked child that ends when its
 * IPC channel closes is asked by disconnecting), SIGKILL once `graceMs` has passed.
 */
export async function stopChild(child: ChildProcess, graceMs: number, ask: () => void = () => child.kill('SIGTERM')): Promise<void> {
  // No pid: it never started (the spawn failed), so there is nothing to stop.
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  ask();
  const forced = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(forced);
}
