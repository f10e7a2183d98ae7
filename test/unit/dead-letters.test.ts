/** The dead-letter store on a real directory: round trips, file names, atomic writes, validation on read. */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { DatadogLog } from '../../activities/datadog-log';
import {
  DEFAULT_DEAD_LETTER_DIR,
  DeadLetterStore,
  DeadLetterUnreadableError,
  DeadLetterWriteError,
  type DeadLetter,
} from '../../activities/dead-letters';

let directory: string;
let store: DeadLetterStore;

beforeEach(async () => {
  directory = await mkdtemp(path.join(os.tmpdir(), 'dead-letters-'));
  store = new DeadLetterStore(directory);
});

afterEach(async () => {
  await rm(directory, { recursive: true, force: true });
});

function letter(orgId: string, eventId: string, storedAt = '2026-01-01T12:00:00.000Z'): DeadLetter {
  const log: DatadogLog = {
    ddsource: 'atlassian-event-logs',
    service: 'atlassian-event-logs',
    ddtags: `org_id:${orgId}`,
    hostname: 'atlassian-org',
    status: 'info',
    timestamp: Date.parse('2026-01-01T11:00:00.000Z'),
    message: 'Alice added Bob to group admins',
    usr: { email: 'alice@example.com' },
    atlassian: { event_id: eventId, org_id: orgId, event: { id: eventId, attributes: { context: [{ any: 'thing' }] } } },
  };
  return { orgId, eventId, status: 400, reason: 'Datadog refused the log as malformed (400)', storedAt, log };
}

test('keeps a dead letter whole and gives it back', async () => {
  const kept = letter('org-1', 'event-1');
  const file = await store.put(kept);
  expect(file).toBe(path.join(directory, 'org-1', 'event-1.json'));
  expect(await store.get('org-1', 'event-1')).toEqual(kept);
  expect(await store.get('org-1', 'another-event')).toBeUndefined();
  expect(await store.get('another-org', 'event-1')).toBeUndefined();
});

test('lists an org’s dead letters oldest first, without their logs', async () => {
  await store.put(letter('org-1', 'late', '2026-01-02T00:00:00.000Z'));
  await store.put(letter('org-1', 'early', '2026-01-01T00:00:00.000Z'));
  await store.put(letter('org-2', 'other-org'));
  const summaries = await store.list('org-1');
  expect(summaries.map((s) => s.eventId)).toEqual(['early', 'late']);
  expect(summaries[0]).toEqual({
    eventId: 'early',
    status: 400,
    reason: 'Datadog refused the log as malformed (400)',
    storedAt: '2026-01-01T00:00:00.000Z',
  });
  expect(await store.list('org-without-dead-letters')).toEqual([]);
});

test('a second put of the same event replaces the first', async () => {
  await store.put(letter('org-1', 'event-1', '2026-01-01T00:00:00.000Z'));
  await store.put({ ...letter('org-1', 'event-1', '2026-01-03T00:00:00.000Z'), status: 413 });
  expect(await store.list('org-1')).toEqual([expect.objectContaining({ status: 413, storedAt: '2026-01-03T00:00:00.000Z' })]);
});

test('remove deletes, and says whether there was anything to delete', async () => {
  await store.put(letter('org-1', 'event-1'));
  expect(await store.remove('org-1', 'event-1')).toBe(true);
  expect(await store.remove('org-1', 'event-1')).toBe(false);
  expect(await store.get('org-1', 'event-1')).toBeUndefined();
});

test.each([
  ['a path', '../../etc/passwd'],
  ['a dot', '..'],
  ['separators', 'a/b\\c'],
  ['upper case, kept apart from lower case', 'Event-A'],
  ['non-ASCII', 'événement-ü'],
  ['a NUL byte', 'a\u0000b'],
])('an ID with %s becomes a file name inside the store', async (_, eventId) => {
  const file = await store.put(letter('Org/../X', eventId));
  expect(path.dirname(path.dirname(file))).toBe(directory);
  expect(path.basename(file)).toMatch(/^([a-z0-9_-]|%[0-9A-F]{2})+\.json$/);
  expect((await store.get('Org/../X', eventId))?.eventId).toBe(eventId);
  expect((await store.list('Org/../X')).map((s) => s.eventId)).toEqual([eventId]);
});

test('IDs differing only in case are two files', async () => {
  await store.put(letter('org-1', 'event-a'));
  await store.put(letter('org-1', 'EVENT-A'));
  expect((await store.list('org-1')).map((s) => s.eventId).sort()).toEqual(['EVENT-A', 'event-a']);
});

test('a very long ID gets a short hashed name and still round-trips', async () => {
  const eventId = 'é'.repeat(500);
  const file = await store.put(letter('org-1', eventId));
  expect(path.basename(file)).toMatch(/^\+[0-9a-f]{64}\.json$/);
  expect((await store.get('org-1', eventId))?.eventId).toBe(eventId);
});

test('writes leave no temporary file behind, and a crash’s leftover is not listed', async () => {
  await store.put(letter('org-1', 'event-1'));
  expect(await readdir(path.join(directory, 'org-1'))).toEqual(['event-1.json']);
  await writeFile(path.join(directory, 'org-1', '.event-2.json.1234.tmp'), '{"half":');
  expect((await store.list('org-1')).map((s) => s.eventId)).toEqual(['event-1']);
});

test('what is read back is validated: not JSON, or not a dead letter, is an error naming the file', async () => {
  const file = await store.put(letter('org-1', 'event-1'));
  await writeFile(file, '{"half":');
  await expect(store.get('org-1', 'event-1')).rejects.toThrow(new DeadLetterUnreadableError(`${file} is not JSON`));
  await expect(store.list('org-1')).rejects.toBeInstanceOf(DeadLetterUnreadableError);

  const stored = letter('org-1', 'event-1');
  await writeFile(file, JSON.stringify({ version: 1, ...stored, log: { ...stored.log, timestamp: 'noon' } }));
  await expect(store.get('org-1', 'event-1')).rejects.toThrow(/is not a dead letter: log\.timestamp/);
});

test('a file holding another event’s dead letter is refused, not returned', async () => {
  const file = await store.put(letter('org-1', 'event-1'));
  await writeFile(store.fileOf('org-1', 'event-2'), await readFile(file, 'utf8'));
  await expect(store.get('org-1', 'event-2')).rejects.toThrow(/holds the dead letter of another event/);
});

test('a store it cannot write to fails with DeadLetterWriteError, naming the event and the directory only', async () => {
  const aFile = path.join(directory, 'a-file');
  await writeFile(aFile, '');
  const unwritable = new DeadLetterStore(path.join(aFile, 'dead-letters'));
  const error = (await unwritable.put(letter('org-1', 'event-1')).catch((e: unknown) => e)) as Error;
  expect(error).toBeInstanceOf(DeadLetterWriteError);
  expect(error.message).toBe(`could not keep the dead letter of Atlassian event event-1 in ${unwritable.directory} (ENOTDIR)`);
});

test('by default it lives in .data/dead-letters under the working directory', () => {
  expect(new DeadLetterStore().directory).toBe(path.resolve(DEFAULT_DEAD_LETTER_DIR));
  expect(DEFAULT_DEAD_LETTER_DIR).toBe('.data/dead-letters');
});
