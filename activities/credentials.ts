/**
 * Resolves credential references where the activities run, under a policy that keeps each reference to what its
 * service may read. A reference comes from an operator's `start` or `rotate`, so without the policy
 * `--datadog-key env:ATLASSIAN_API_KEY` would send the Atlassian key to the Datadog intake, and a `file:` reference
 * could name any file the worker can open, a FIFO included.
 *
 * - `env:NAME` must be on the service's allow-list, on no other service's, and not a secret of the worker itself.
 * - `file:/path` must resolve (symlinks followed) to a regular file inside the secrets directory, no larger than the
 *   cap, and be read within the timeout.
 *
 * Every value resolved joins {@link resolvedSecrets}, which the log scrubber consults (worker/telemetry.ts): a key read
 * from a file has no environment variable the scrubber could have found it in.
 */
import { Worker } from 'node:worker_threads';
import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import type { CredentialRef } from '../shared/credential-ref';
import { isCredentialRef } from '../shared/credential-ref';
import { CredentialOwner, FailureType, type FailureDetails } from '../shared/failure-types';

export type { CredentialOwner };

/** An allow-list entry: a variable name, or a prefix when it ends in `*` (`DD_API_KEY_*`). */
export const CREDENTIAL_VARIABLE_ENTRY = /^[A-Za-z_][A-Za-z0-9_]*\*?$/;

/**
 * Variables that hold the worker's own secrets (Temporal connection and TLS, payload keys, codec token, Datadog
 * application key): no credential reference may name them, whatever an allow-list says.
 */
export const WORKER_SECRET_VARIABLES = ['TEMPORAL_*', 'AUDIT_*', 'DD_APP_KEY*', 'DD_APPLICATION_KEY*'] as const;

export const DEFAULT_CREDENTIAL_VARIABLES = {
  [CredentialOwner.Atlassian]: ['ATLASSIAN_API_KEY', 'ATLASSIAN_API_KEY_*'],
  [CredentialOwner.Datadog]: ['DD_API_KEY', 'DD_API_KEY_*'],
} as const satisfies Record<CredentialOwner, readonly string[]>;

/** Docker's secret mount; Kubernetes mounts are usually configured there too. */
export const DEFAULT_SECRETS_DIR = '/run/secrets';
export const DEFAULT_MAX_SECRET_FILE_BYTES = 64 * 1024;
export const DEFAULT_SECRET_FILE_TIMEOUT_MS = 2_000;

export interface CredentialPolicy {
  /** Per service, the variables its `env:` references may name (names, or prefixes ending in `*`). */
  readonly variables: Readonly<Record<CredentialOwner, readonly string[]>>;
  /** Absolute path of the directory that `file:` references must resolve into, after following symlinks. */
  readonly secretsDir: string;
  /** Larger files are refused. @default DEFAULT_MAX_SECRET_FILE_BYTES (64 KiB) */
  readonly maxFileBytes?: number;
  /** A file not read by then is refused. @default DEFAULT_SECRET_FILE_TIMEOUT_MS (2 s) */
  readonly fileTimeoutMs?: number;
}

export const DEFAULT_CREDENTIAL_POLICY: CredentialPolicy = {
  variables: DEFAULT_CREDENTIAL_VARIABLES,
  secretsDir: DEFAULT_SECRETS_DIR,
};

/** Whether an allow-list entry names the variable. */
function variableEntryMatches(entry: string, name: string): boolean {
  return entry.endsWith('*') ? name.startsWith(entry.slice(0, -1)) : name === entry;
}

/** Whether some variable name matches both entries. */
export function variableEntriesOverlap(a: string, b: string): boolean {
  const prefixA = a.endsWith('*') ? a.slice(0, -1) : undefined;
  const prefixB = b.endsWith('*') ? b.slice(0, -1) : undefined;
  if (prefixA !== undefined && prefixB !== undefined) return prefixA.startsWith(prefixB) || prefixB.startsWith(prefixA);
  if (prefixA !== undefined) return b.startsWith(prefixA);
  if (prefixB !== undefined) return a.startsWith(prefixB);
  return a === b;
}

/**
 * Resolves a credential reference where the activity runs. The secret stays in the worker's memory; a refused or
 * unreadable reference is a non-retryable `CredentialUnavailable` naming the reference and the rule, never a value,
 * so only this org holds (until `rotate`).
 */
export async function resolveCredential(
  credential: CredentialRef,
  owner: CredentialOwner,
  env: NodeJS.ProcessEnv,
  policy: CredentialPolicy = DEFAULT_CREDENTIAL_POLICY
): Promise<string> {
  const { ref } = credential;
  if (!isCredentialRef(ref)) {
    throw unavailable(owner, `credential reference of an unknown form (expected env:NAME or file:/path)`);
  }
  const value = ref.startsWith('env:') ? variableValue(ref, owner, env, policy) : await fileValue(ref, owner, policy);
  resolvedSecrets.add(value);
  return value;
}

function variableValue(ref: string, owner: CredentialOwner, env: NodeJS.ProcessEnv, policy: CredentialPolicy): string {
  const name = ref.slice('env:'.length);
  const allowed = policy.variables[owner];
  if (!allowed.some((entry) => variableEntryMatches(entry, name))) {
    throw unavailable(owner, `${ref} is not allowed for ${owner} (allowed: ${allowed.join(', ')})`);
  }
  // A policy built in code has not been through the configuration's checks: these rules hold whatever it says.
  const other = owner === CredentialOwner.Atlassian ? CredentialOwner.Datadog : CredentialOwner.Atlassian;
  if (policy.variables[other].some((entry) => variableEntryMatches(entry, name))) {
    throw unavailable(owner, `${ref} is allowed for ${other} too, and a variable may be the credential of one service only`);
  }
  if (WORKER_SECRET_VARIABLES.some((entry) => variableEntryMatches(entry, name))) {
    throw unavailable(owner, `${ref} names a secret of the worker itself (${WORKER_SECRET_VARIABLES.join(', ')})`);
  }
  const value = env[name]?.trim();
  if (!value) throw unavailable(owner, `${ref} is not set on the worker`);
  return value;
}

async function fileValue(ref: string, owner: CredentialOwner, policy: CredentialPolicy): Promise<string> {
  const { secretsDir, maxFileBytes = DEFAULT_MAX_SECRET_FILE_BYTES, fileTimeoutMs = DEFAULT_SECRET_FILE_TIMEOUT_MS } = policy;
  const answer = await secretFiles.read({ file: ref.slice('file:'.length), secretsDir, maxBytes: maxFileBytes }, fileTimeoutMs);
  switch (answer.outcome) {
    case FileOutcome.Read: {
      const value = answer.content.trim();
      if (!value) throw unavailable(owner, `${ref} is empty`);
      return value;
    }
    case FileOutcome.Outside:
      throw unavailable(owner, `${ref} resolves outside the secrets directory ${secretsDir}`);
    case FileOutcome.NotRegular:
      throw unavailable(owner, `${ref} is not a regular file`);
    case FileOutcome.TooLarge:
      throw unavailable(owner, `${ref} is larger than ${maxFileBytes} bytes`);
    case FileOutcome.NoSecretsDir:
      throw unavailable(owner, `${ref} cannot be read: the secrets directory ${secretsDir} is not accessible (${answer.code})`);
    case FileOutcome.Unreadable:
      throw unavailable(owner, `${ref} cannot be read (${answer.code})`);
    case FileOutcome.TimedOut:
      throw unavailable(owner, `${ref} was not read within ${fileTimeoutMs} ms`);
    case FileOutcome.ReaderFailed:
      throw unavailable(owner, `${ref} cannot be read (the reader thread stopped)`);
  }
}

function unavailable(owner: CredentialOwner, detail: string): ApplicationFailure {
  return ApplicationFailure.create({
    type: FailureType.CredentialUnavailable,
    message: `${owner} credential unavailable: ${detail}`,
    nonRetryable: true,
    details: [{ owner } satisfies FailureDetails],
  });
}

/** Credential values resolved in this process. Append-only, so its size tells the scrubber when to look again. */
export class SecretRegistry {
  private readonly values_ = new Set<string>();

  add(value: string): void {
    this.values_.add(value);
  }

  get size(): number {
    return this.values_.size;
  }

  values(): string[] {
    return [...this.values_];
  }
}

/** Every credential value this process has resolved; the worker's JSON logger scrubs them from every line. */
export const resolvedSecrets = new SecretRegistry();

const FileOutcome = {
  Read: 'read',
  Outside: 'outside',
  NotRegular: 'notRegular',
  TooLarge: 'tooLarge',
  NoSecretsDir: 'noSecretsDir',
  Unreadable: 'unreadable',
  /** Given by this side: the thread did not answer within the timeout. */
  TimedOut: 'timedOut',
  /** Given by this side: the thread ended or answered something else. */
  ReaderFailed: 'readerFailed',
} as const;

/** What the reader thread answers: the thread's program is plain JavaScript, so its answers are checked here. */
const threadAnswer = z.discriminatedUnion('outcome', [
  z.object({ outcome: z.literal(FileOutcome.Read), content: z.string() }),
  z.object({ outcome: z.literal(FileOutcome.Outside) }),
  z.object({ outcome: z.literal(FileOutcome.NotRegular) }),
  z.object({ outcome: z.literal(FileOutcome.TooLarge) }),
  z.object({ outcome: z.literal(FileOutcome.NoSecretsDir), code: z.string() }),
  z.object({ outcome: z.literal(FileOutcome.Unreadable), code: z.string() }),
]);

export type SecretFileAnswer =
  | z.infer<typeof threadAnswer>
  | { outcome: typeof FileOutcome.TimedOut }
  | { outcome: typeof FileOutcome.ReaderFailed };

export interface SecretFileRequest {
  /** Absolute path named by the reference. */
  file: string;
  secretsDir: string;
  maxBytes: number;
}

/**
 * The reader thread's program, evaluated as CommonJS (no TypeScript, no loader: it starts in tens of milliseconds).
 * Its answers are those of `threadAnswer`.
 */
export const READER_THREAD_SOURCE = `
const fs = require('node:fs');
const path = require('node:path');
const { parentPort } = require('node:worker_threads');
const { O_RDONLY, O_NONBLOCK, O_NOCTTY, O_NOFOLLOW } = fs.constants;

parentPort.on('message', (request) => parentPort.postMessage(read(request)));

function read({ file, secretsDir, maxBytes }) {
  let dir;
  let real;
  try {
    dir = fs.realpathSync.native(secretsDir);
  } catch (err) {
    return { outcome: 'noSecretsDir', code: String(err.code) };
  }
  try {
    real = fs.realpathSync.native(file);
  } catch (err) {
    return { outcome: 'unreadable', code: String(err.code) };
  }
  const inside = path.relative(dir, real);
  if (inside === '' || inside === '..' || inside.startsWith('..' + path.sep) || path.isAbsolute(inside)) {
    return { outcome: 'outside' };
  }
  let fd;
  try {
    // O_NOFOLLOW: the real path has no symlink left, so one found now was put there since; it is refused.
    fd = fs.openSync(real, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_NOFOLLOW);
    const stats = fs.fstatSync(fd);
    if (!stats.isFile()) return { outcome: 'notRegular' };
    if (stats.size > maxBytes) return { outcome: 'tooLarge' };
    // One byte more than allowed tells a file that grew since fstat from one that fits.
    const buffer = Buffer.alloc(maxBytes + 1);
    let length = 0;
    while (length < buffer.length) {
      const n = fs.readSync(fd, buffer, length, buffer.length - length, length);
      if (n === 0) break;
      length += n;
    }
    if (length > maxBytes) return { outcome: 'tooLarge' };
    return { outcome: 'read', content: buffer.toString('utf8', 0, length) };
  } catch (err) {
    return { outcome: 'unreadable', code: String(err.code) };
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
`;

export interface SecretFileReaderOptions {
  /** The thread's program. @default READER_THREAD_SOURCE */
  threadSource?: string;
}

/** A fresh thread has this long to start on top of the request's own timeout (it takes ~0.1 s on an idle machine). */
const THREAD_START_ALLOWANCE_MS = 5_000;

interface Job {
  request: SecretFileRequest;
  timeoutMs: number;
  resolve: (answer: SecretFileAnswer) => void;
}

interface ReaderThread {
  worker: Worker;
  online: boolean;
}

/**
 * Reads `file:` references on a thread of its own, never on libuv's thread pool.
 *
 * Node has no non-blocking file I/O: each `fs` promise holds one of the pool's threads (four by default) until its
 * system call returns, and the same pool runs the `dns.lookup` of every new undici connection, zlib and crypto. So a
 * `readFile` that never returns (open() of a FIFO waits for a writer; a device or a hung network mount may never
 * answer) holds a pool thread for ever, and four of them stop every org on the worker. Here:
 *
 * - the thread opens with O_NONBLOCK, so a FIFO or device opens at once instead of waiting, and fstat must show a
 *   regular file before a byte is read; the read is bounded by the size cap;
 * - realpath, open, fstat and read are synchronous calls on this one dedicated worker thread, so what can still
 *   hang (a regular file on a mount that stops answering) holds that thread, not the pool the other orgs need;
 * - the caller waits at most the timeout; then its org fails, the thread is given up (its termination takes effect
 *   when the kernel returns) and the next request gets a new one.
 *
 * No Node API cancels a system call in progress, and a thread stuck in one also holds up the process's exit: that
 * is why the O_NONBLOCK and fstat rules keep the thread from starting one on anything but a regular file. One
 * request is in flight at a time (reading a secret takes microseconds), so a timeout always belongs to the request
 * that caused it and never fails the ones queued behind it.
 */
export class SecretFileReader {
  private readonly threadSource: string;
  private readonly queue: Job[] = [];
  private thread: ReaderThread | undefined;
  private current: { job: Job; timer: NodeJS.Timeout } | undefined;

  constructor(options: SecretFileReaderOptions = {}) {
    this.threadSource = options.threadSource ?? READER_THREAD_SOURCE;
  }

  read(request: SecretFileRequest, timeoutMs: number): Promise<SecretFileAnswer> {
    return new Promise((resolve) => {
      this.queue.push({ request, timeoutMs, resolve });
      this.next();
    });
  }

  private next(): void {
    if (this.current) return;
    const job = this.queue.shift();
    if (!job) {
      // An idle reader must not keep the process alive.
      this.thread?.worker.unref();
      return;
    }
    const thread = (this.thread ??= this.startThread());
    thread.worker.ref();
    const deadline = job.timeoutMs + (thread.online ? 0 : THREAD_START_ALLOWANCE_MS);
    const timer = setTimeout(() => {
      this.abandon(thread);
      this.finish({ outcome: FileOutcome.TimedOut });
    }, deadline);
    this.current = { job, timer };
    thread.worker.postMessage(job.request);
  }

  private finish(answer: SecretFileAnswer): void {
    if (!this.current) return;
    const { job, timer } = this.current;
    clearTimeout(timer);
    this.current = undefined;
    job.resolve(answer);
    this.next();
  }

  private startThread(): ReaderThread {
    const worker = new Worker(this.threadSource, { eval: true, execArgv: [], env: {} });
    const thread: ReaderThread = { worker, online: false };
    worker.once('online', () => {
      thread.online = true;
    });
    worker.on('message', (message: unknown) => {
      const parsed = threadAnswer.safeParse(message);
      this.finish(parsed.success ? parsed.data : { outcome: FileOutcome.ReaderFailed });
    });
    const stopped = () => {
      this.abandon(thread);
      this.finish({ outcome: FileOutcome.ReaderFailed });
    };
    worker.once('error', stopped);
    worker.once('exit', stopped);
    return thread;
  }

  /** Stops listening to a thread and lets it go; a thread stuck in a system call ends when the call returns. */
  private abandon(thread: ReaderThread): void {
    thread.worker.removeAllListeners();
    // An 'error' after this point must not become an uncaught exception.
    thread.worker.on('error', () => undefined);
    thread.worker.unref();
    void thread.worker.terminate();
    if (this.thread === thread) this.thread = undefined;
  }
}

/** The process's one reader: resolving is per activity, and one thread serves them all. */
const secretFiles = new SecretFileReader();
