/**
 * Dead letters: logs the Datadog intake kept refusing, kept whole on the worker's disk so an operator can see and
 * re-send them while the org's collection moves on (the ship activity sends a small stub in their place).
 *
 * One JSON file per org and event, `<dir>/<org>/<event>.json`, both names encoded so that any ID is a safe file
 * name. A file is written to a temporary name, flushed, and renamed into place, so a reader (or a crash) never sees
 * half a dead letter; what is read back is validated, since the disk is outside the program's control.
 */
import { createHash, randomUUID } from 'node:crypto';
import { open, readdir, readFile, rename, unlink, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import type { CredentialRef } from '../shared/credential-ref';
import type { DatadogLog } from './datadog-log';

/** Relative to the worker's working directory. */
export const DEFAULT_DEAD_LETTER_DIR = '.data/dead-letters';

const FILE_FORMAT_VERSION = 1;

/**
 * Names longer than this (file systems stop at 255 bytes) are replaced by a hash. The hash name starts with `+`,
 * which the encoding never produces, so it cannot clash with the name of another ID.
 */
const MAX_ENCODED_NAME_LENGTH = 200;

/** A log the intake refused, with why and when; `log` is the original as the map made it, never re-dated. */
export interface DeadLetter {
  orgId: string;
  eventId: string;
  /** The intake's last answer to the log sent alone (400 or 413). */
  status: number;
  /** Short and free of log content: it travels to status output and into Datadog on the stub. */
  reason: string;
  /** ISO-8601. */
  storedAt: string;
  log: DatadogLog;
}

/** What `list` shows: enough to choose what to re-send, none of the log's personal data. */
export type DeadLetterSummary = Omit<DeadLetter, 'orgId' | 'log'>;

/** Input of the `resendDeadLetters` activity (activities/ship.ts). */
export interface ResendDeadLettersInput {
  orgId: string;
  credential: CredentialRef;
  /**
   * The events whose dead letters to send again.
   * @default every dead letter this worker holds for the org
   */
  eventIds?: string[];
}

export interface ResendDeadLettersResult {
  /** Accepted by Datadog and removed from the store. */
  resent: string[];
  /** Refused again (400/413); they stay in the store. */
  refused: Array<{ eventId: string; status: number }>;
  /** Not in this worker's store: kept on another worker's disk, or already re-sent. */
  missing: string[];
}

/** A dead letter could not be written; the log it holds has not been given up, the caller must fail and retry. */
export class DeadLetterWriteError extends Error {
  override readonly name = 'DeadLetterWriteError';
}

/** A file in the store is not a dead letter this version can read (edited by hand, or of a newer format). */
export class DeadLetterUnreadableError extends Error {
  override readonly name = 'DeadLetterUnreadableError';
}

const datadogLogSchema = z.looseObject({
  ddsource: z.literal('atlassian-event-logs'),
  service: z.string(),
  ddtags: z.string(),
  hostname: z.string().optional(),
  status: z.enum(['info', 'warn', 'error']),
  timestamp: z.number(),
  message: z.string(),
  usr: z.looseObject({ id: z.string().optional(), name: z.string().optional(), email: z.string().optional() }).optional(),
  network: z
    .looseObject({
      client: z
        .looseObject({ ip: z.string().optional(), geoip: z.record(z.string(), z.unknown()).optional() })
        .optional(),
    })
    .optional(),
  evt: z
    .looseObject({ name: z.string().optional(), category: z.string().optional(), outcome: z.string().optional() })
    .optional(),
  atlassian: z.looseObject({
    event_id: z.string().min(1),
    org_id: z.string(),
    time: z.string().optional(),
    processed_at: z.string().optional(),
  }),
});

const deadLetterFileSchema = z.object({
  version: z.literal(FILE_FORMAT_VERSION),
  orgId: z.string().min(1),
  eventId: z.string().min(1),
  status: z.number().int(),
  reason: z.string(),
  storedAt: z.iso.datetime(),
  log: datadogLogSchema,
});

export class DeadLetterStore {
  /** Absolute, so that file locations given out (in the stub's message) do not depend on who reads them. */
  readonly directory: string;

  /** @param directory relative paths resolve against the working directory */
  constructor(directory: string = DEFAULT_DEAD_LETTER_DIR) {
    this.directory = path.resolve(directory);
  }

  /** Where the dead letter of this event is (or would be) kept. */
  fileOf(orgId: string, eventId: string): string {
    return path.join(this.orgDirectory(orgId), `${safeName(eventId)}.json`);
  }

  /**
   * Keeps `letter`, replacing an earlier dead letter of the same event, and returns its file. Resolves only once
   * the file is flushed to disk: the caller gives up sending the log on the strength of it.
   */
  async put(letter: DeadLetter): Promise<string> {
    const file = this.fileOf(letter.orgId, letter.eventId);
    const content = JSON.stringify(deadLetterFileSchema.parse({ version: FILE_FORMAT_VERSION, ...letter }));
    const directory = path.dirname(file);
    const temporary = path.join(directory, `.${path.basename(file)}.${randomUUID()}.tmp`);
    try {
      await mkdir(directory, { recursive: true });
      const handle = await open(temporary, 'wx');
      try {
        await handle.writeFile(content, 'utf8');
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temporary, file);
      // The rename itself is durable only once the directory is flushed too.
      const directoryHandle = await open(directory, 'r');
      try {
        await directoryHandle.sync();
      } finally {
        await directoryHandle.close();
      }
    } catch (err) {
      await unlink(temporary).catch(() => undefined);
      throw new DeadLetterWriteError(
        `could not keep the dead letter of Atlassian event ${letter.eventId} in ${this.directory} (${errorCode(err)})`
      );
    }
    return file;
  }

  /** The org's dead letters on this worker, oldest first. */
  async list(orgId: string): Promise<DeadLetterSummary[]> {
    let names: string[];
    try {
      names = await readdir(this.orgDirectory(orgId));
    } catch (err) {
      if (errorCode(err) === 'ENOENT') return [];
      throw err;
    }
    const summaries: DeadLetterSummary[] = [];
    // A temporary file (`.tmp`) left by a crash is not a dead letter.
    for (const name of names.filter((n) => n.endsWith('.json'))) {
      const letter = await this.read(path.join(this.orgDirectory(orgId), name));
      if (!letter) continue;
      const { eventId, status, reason, storedAt } = letter;
      summaries.push({ eventId, status, reason, storedAt });
    }
    return summaries.sort((a, b) => a.storedAt.localeCompare(b.storedAt) || a.eventId.localeCompare(b.eventId));
  }

  /** The dead letter of this event, or undefined when this worker holds none. */
  async get(orgId: string, eventId: string): Promise<DeadLetter | undefined> {
    const file = this.fileOf(orgId, eventId);
    const letter = await this.read(file);
    if (letter && (letter.orgId !== orgId || letter.eventId !== eventId)) {
      throw new DeadLetterUnreadableError(`${file} holds the dead letter of another event`);
    }
    return letter;
  }

  /** Deletes the dead letter of this event; false when there was none. */
  async remove(orgId: string, eventId: string): Promise<boolean> {
    try {
      await unlink(this.fileOf(orgId, eventId));
      return true;
    } catch (err) {
      if (errorCode(err) === 'ENOENT') return false;
      throw err;
    }
  }

  private orgDirectory(orgId: string): string {
    return path.join(this.directory, safeName(orgId));
  }

  private async read(file: string): Promise<DeadLetter | undefined> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if (errorCode(err) === 'ENOENT') return undefined;
      throw err;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new DeadLetterUnreadableError(`${file} is not JSON`);
    }
    const parsed = deadLetterFileSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const where = issue.path.join('.') || 'file';
      throw new DeadLetterUnreadableError(`${file} is not a dead letter: ${where} ${issue.message}`);
    }
    const { version: _version, ...letter } = parsed.data;
    return letter;
  }
}

/**
 * An ID as a file name that is safe everywhere: lowercase letters, digits, `-` and `_` stay, every other byte
 * (upper case included, so that case-insensitive file systems keep `A` and `a` apart; `.` included, so `..` stays
 * inside) becomes `%XX`.
 */
function safeName(id: string): string {
  const encoded = [...Buffer.from(id, 'utf8')]
    .map((byte) => {
      const char = String.fromCharCode(byte);
      return /[a-z0-9_-]/.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
    })
    .join('');
  if (encoded.length <= MAX_ENCODED_NAME_LENGTH) return encoded;
  return `+${createHash('sha256').update(id, 'utf8').digest('hex')}`;
}

function errorCode(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' ? code : err instanceof Error ? err.name : 'error';
}
