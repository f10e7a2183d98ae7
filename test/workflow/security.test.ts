/**
 * Secrets and personal data (DESIGN.md, "Secrets and sensitive data"): no API key in any history or process output;
 * no audit event content in any history, in clear or encrypted (pages stay on the worker); with AUDIT_PAYLOAD_KEY,
 * what operators write (a pause reason) and failure messages are stored encrypted; the payload key itself can be
 * rotated without losing the ability to read older history.
 *
 * The same operator scenario runs without and with encryption, and the history of every run is then read raw, as
 * anyone with access to the namespace or its database reads it. The run without encryption proves that the search
 * finds what it looks for: the operator's pause reason quotes an email, and it is there, in both encodings searched.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { Client } from '@temporalio/client';
import { defaultPayloadConverter, type DataConverter, type PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import type { AuditWorker } from '../../worker/create-worker';
import { UnknownPayloadKeyError } from '../../codec/codec-errors';
import { loadDataConverter } from '../../codec/data-converter';
import { ENCRYPTED_PAYLOAD_METADATA } from '../../codec/encryption-codec';
import { loadPayloadKeyRing } from '../../codec/payload-keys';
import { workflowIdForOrg } from '../../shared/org-workflow';
import { AuditPhase } from '../../shared/phase';
import type { StandinEventInput } from '../../dev/standins/atlassian-standin';
import { iso } from '../../workflows/backfill-ranges';
import type { BackfillRequest, RotateCredentialsInput } from '../../workflows/messages';
import { pauseSignal, requestBackfillUpdate, resumeSignal, rotateCredentialsSignal, stopSignal } from '../../workflows/messages';
import type { orgAuditWorkflow } from '../../workflows/org-audit-workflow';
import { AuditHarness, TEST_KEYS, WORKER_ENV, duplicatesOf, waitUntil } from '../support/audit-harness';
import { runEntryPoint, startEntryPoint } from '../support/processes';
import { encodingOf, failuresIn, historiesOfEveryRun, payloadsIn, type RunHistory } from '../support/stored-history';

const HOUR = 3_600_000;
const CLIENT_ENTRY_POINT = 'client/main.ts';
const PAYLOAD_KEY = randomBytes(32).toString('base64');
const ROTATED_PAYLOAD_KEY = randomBytes(32).toString('base64');
const API_KEYS = Object.values(TEST_KEYS);

/** Personal data every scenario event carries, in the actor and in the context. */
const EMAILS = { actor: 'ada.secret-email@example.com', subject: 'grace.secret-email@example.com' } as const;
/** What only the events carry (the actor's email is also quoted by an operator's pause reason). */
const EVENT_CONTENT = [EMAILS.subject, 'Ada Lovelace', 'Grace Hopper', 'sre-oncall'];

// ---------------------------------------------------------------------------------------------------------------
// The scenario

/** The operator's actions: through the client library, or through the real command line as a process. */
interface Operator {
  start(orgId: string, since: number): Promise<void>;
  pause(orgId: string, reason: string): Promise<void>;
  resume(orgId: string): Promise<void>;
  backfill(orgId: string, from: number, to: number): Promise<void>;
  rotate(orgId: string, references: RotateCredentialsInput): Promise<void>;
  stop(orgId: string): Promise<void>;
}

function libraryOperator(harness: AuditHarness): Operator {
  const handle = (orgId: string) => harness.client.workflow.getHandle<typeof orgAuditWorkflow>(workflowIdForOrg(orgId));
  return {
    async start(orgId, since) {
      // A small threshold, so that the scenario spans several runs and each one's history is searched.
      await harness.startOrg({ orgId, since, pageSize: 10, continueAsNewAfterHistoryLength: 30 });
    },
    pause: (orgId, reason) => handle(orgId).signal(pauseSignal, { reason }),
    resume: (orgId) => handle(orgId).signal(resumeSignal),
    async backfill(orgId, from, to) {
      await handle(orgId).executeUpdate(requestBackfillUpdate, { args: [{ from: iso(from), to: iso(to) }] });
    },
    rotate: (orgId, references) => handle(orgId).signal(rotateCredentialsSignal, references),
    stop: (orgId) => handle(orgId).signal(stopSignal, {}),
  };
}

/** Runs `atlassian-audit` once per action; everything it prints is appended to `outputs`. */
function commandLineOperator(env: NodeJS.ProcessEnv, outputs: string[]): Operator {
  const cli = async (...args: string[]): Promise<void> => {
    const { code, output } = await runEntryPoint(CLIENT_ENTRY_POINT, args, env);
    outputs.push(output);
    if (code !== 0) throw new Error(`atlassian-audit ${args[0]} exited with ${code}: ${output}`);
  };
  return {
    start: (orgId, since) =>
      cli('start', '--org', orgId, '--since', iso(since), '--poll-interval', '1s', '--max-requests-per-minute', '600', '--page-size', '10'),
    pause: (orgId, reason) => cli('pause', '--org', orgId, '--reason', reason),
    resume: (orgId) => cli('resume', '--org', orgId),
    backfill: (orgId, from, to) => cli('backfill', '--org', orgId, '--from', iso(from), '--to', iso(to)),
    rotate: (orgId, { atlassian, datadog } = {}) =>
      cli(
        'rotate',
        '--org',
        orgId,
        ...(atlassian ? ['--atlassian-key', atlassian] : []),
        ...(datadog ? ['--datadog-key', datadog] : [])
      ),
    stop: (orgId) => cli('stop', '--org', orgId),
  };
}

/**
 * Start; pause (the reason quotes an email, as operators' notes do) and resume; a backfill; the Atlassian key
 * refused and rotated to a new reference; the Datadog key refused and rotated. Returns with every event delivered
 * exactly once and the org still running.
 */
async function runScenario(harness: AuditHarness, operator: Operator, orgId: string): Promise<void> {
  const since = Date.now() - HOUR;
  const expected: string[] = [];
  const add = (events: StandinEventInput[]) => expected.push(...harness.atlassian.addEvents(orgId, events).map((e) => e.id));
  const deliveredSoFar = () => harness.waitForDelivered(orgId, expected.length, 60_000);

  add(eventsWithEmails(30, () => Date.now()));
  await operator.start(orgId, since);
  await deliveredSoFar();

  await operator.pause(orgId, `maintenance requested by ${EMAILS.actor}`);
  await waitForPhase(harness, orgId, AuditPhase.Paused);
  await operator.resume(orgId);

  add(eventsWithEmails(30, (index) => since - HOUR + index * 60_000));
  await operator.backfill(orgId, since - 2 * HOUR, since);
  await deliveredSoFar();

  harness.atlassian.setApiKeys(orgId, [TEST_KEYS.atlassianRotated]);
  add(eventsWithEmails(15, () => Date.now()));
  await waitForPhase(harness, orgId, AuditPhase.AwaitingCredentials);
  await operator.rotate(orgId, { atlassian: 'env:ATLASSIAN_API_KEY_ROTATED' });
  await deliveredSoFar();

  harness.datadog.setApiKeys([TEST_KEYS.datadogRotated]);
  add(eventsWithEmails(15, () => Date.now()));
  await waitForPhase(harness, orgId, AuditPhase.AwaitingCredentials);
  await operator.rotate(orgId, { datadog: 'env:DD_API_KEY_ROTATED' });
  await deliveredSoFar();

  const delivered = harness.deliveredIds(orgId);
  expect(duplicatesOf(delivered)).toEqual([]);
  expect(new Set(delivered)).toEqual(new Set(expected));
}

/** Stops the org and checks its final state names the rotated references (and only references). */
async function stopScenario(harness: AuditHarness, operator: Operator, orgId: string): Promise<void> {
  await operator.stop(orgId);
  const result = await harness.client.workflow.getHandle<typeof orgAuditWorkflow>(workflowIdForOrg(orgId)).result();
  expect(result.stoppedBecause).toBe('stopped by operator');
  expect(result.state.credentials).toEqual({
    atlassian: { ref: 'env:ATLASSIAN_API_KEY_ROTATED', version: 2 },
    datadog: { ref: 'env:DD_API_KEY_ROTATED', version: 2 },
  });
}

function eventsWithEmails(count: number, timeOf: (index: number) => number): StandinEventInput[] {
  return Array.from({ length: count }, (_, index) => ({
    action: 'user_added_to_group',
    time: timeOf(index),
    actor: { id: '5b10ac8d82e05b22cc7d4ef5', name: 'Ada Lovelace', email: EMAILS.actor },
    context: [
      { id: '712020:0f1e2d3c-ada', type: 'users', attributes: { name: 'Grace Hopper', email: EMAILS.subject } },
      { id: 'c0ffee00-0000-4000-8000-000000000001', type: 'groups', attributes: { name: 'sre-oncall' } },
    ],
    message: { content: 'Added Grace Hopper to sre-oncall', format: 'simple' },
  }));
}

async function waitForPhase(harness: AuditHarness, orgId: string, phase: AuditPhase): Promise<void> {
  let seen: AuditPhase | undefined;
  await waitUntil(async () => (seen = (await harness.status(orgId)).phase) === phase, 30_000, () => `phase ${seen}, expected ${phase}`);
}

// ---------------------------------------------------------------------------------------------------------------
// Searching stored bytes and process output

/** Named texts to search, e.g. the histories once with bytes as UTF-8 and once as base64. */
type Texts = Record<string, string>;

/**
 * The histories as JSON, every byte string written once as UTF-8 text and once as base64: data shows as itself in
 * the first when it is stored in clear, and in the second when something stored it base64-encoded.
 * (JSON.stringify alone would not do: protobuf messages turn their bytes into base64 through their own toJSON.)
 */
function storedTexts(value: unknown): Texts {
  return {
    'bytes as UTF-8': JSON.stringify(withBytesAs(value, 'utf8')),
    'bytes as base64': JSON.stringify(withBytesAs(value, 'base64')),
  };
}

function withBytesAs(value: unknown, encoding: BufferEncoding): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value).toString(encoding);
  if (Array.isArray(value)) return value.map((item) => withBytesAs(item, encoding));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, child]) => [key, withBytesAs(child, encoding)]));
  }
  return value;
}

/**
 * `text` base64-encoded at each of the three byte alignments it can have inside longer data, each cut to the
 * characters that depend on `text` alone.
 */
function base64Forms(text: string): string[] {
  const bytes = Buffer.from(text, 'utf8');
  return [0, 1, 2].map((offset) => {
    const encoded = Buffer.concat([Buffer.alloc(offset), bytes]).toString('base64');
    return encoded.slice(Math.ceil((offset * 4) / 3), Math.floor((offset + bytes.length) / 3) * 4);
  });
}

/** Names of the texts in which `secret` shows, as itself or base64-encoded. */
function sightings(texts: Texts, secret: string): string[] {
  const forms = [secret, ...base64Forms(secret)];
  return Object.entries(texts)
    .filter(([, text]) => forms.some((form) => text.includes(form)))
    .map(([name]) => name);
}

/** Each secret that shows anywhere, with where: `{}` when none does, so that a failure says what leaked. */
function leaks(texts: Texts, secrets: readonly string[]): Record<string, string[]> {
  const found = secrets.map((secret): [string, string[]] => [secret, sightings(texts, secret)]);
  return Object.fromEntries(found.filter(([, where]) => where.length > 0));
}

/**
 * Search attributes and headers are never passed to the payload codec (reference §5): by design in clear. (The
 * workflow records no markers: no local activity and no patch, whose bookkeeping the SDK's core writes past the codec.)
 */
function isCodecEncoded(path: string): boolean {
  return !/\.(searchAttributes|header)\./.test(path);
}

function keyIdsIn(value: unknown): Set<string> {
  return new Set(
    payloadsIn(value)
      .filter(({ payload }) => encodingOf(payload) === ENCRYPTED_PAYLOAD_METADATA.encoding)
      .map(({ payload }) => Buffer.from(payload.metadata![ENCRYPTED_PAYLOAD_METADATA.keyIdKey]!).toString('utf8'))
  );
}

function keyIdOf(base64Key: string): string {
  return loadPayloadKeyRing({ AUDIT_PAYLOAD_KEY: base64Key })!.encryptionKey.id;
}

function codecOf(dataConverter: DataConverter | undefined): PayloadCodec {
  const codec = dataConverter?.payloadCodecs?.[0];
  if (!codec) throw new Error('no payload codec: the harness was created without encryption');
  return codec;
}

/**
 * A backfill request the workflow's validator refuses (the tail covers it), sent as raw gRPC: the answer is the
 * failure exactly as the worker sent it, before any client decodes it.
 */
async function rawUpdateRejection(client: Client, workflowId: string, request: BackfillRequest) {
  const response = await client.workflowService.updateWorkflowExecution({
    namespace: client.options.namespace,
    workflowExecution: { workflowId },
    waitPolicy: {
      lifecycleStage: temporal.api.enums.v1.UpdateWorkflowExecutionLifecycleStage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_COMPLETED,
    },
    request: {
      meta: { updateId: randomUUID() },
      input: { name: requestBackfillUpdate.name, args: { payloads: [defaultPayloadConverter.toPayload(request)] } },
    },
  });
  const failure = response.outcome?.failure;
  if (!failure) throw new Error('the Update was accepted; expected the validator to refuse it');
  return failure;
}

/** A range inside the tail's own span: the validator refuses it with a message that quotes the tail's start. */
async function coveredRange(harness: AuditHarness, orgId: string): Promise<BackfillRequest> {
  const since = Date.parse((await harness.status(orgId)).tail.since);
  return { from: iso(since + 60_000), to: iso(since + 120_000) };
}

function logSearched(mode: string, histories: RunHistory[]): void {
  const events = histories.reduce((sum, { history }) => sum + (history.events?.length ?? 0), 0);
  console.log(
    `security scenario ${mode}: searched ${histories.length} runs, ${events} history events, ` +
      `${payloadsIn(histories).length} payloads, ${failuresIn(histories).length} failures`
  );
}

async function withWorker<T>(worker: Promise<AuditWorker>, work: () => Promise<T>): Promise<T> {
  return (await worker).runUntil(work);
}

// ---------------------------------------------------------------------------------------------------------------

describe('without payload encryption', () => {
  let harness: AuditHarness;

  beforeAll(async () => {
    harness = await AuditHarness.create({ dataConverter: loadDataConverter({}) });
  });

  afterAll(async () => {
    await harness?.close();
  });

  beforeEach(() => {
    // The Datadog stand-in serves every test of the harness, and a scenario leaves it accepting the rotated key only.
    harness.datadog.setApiKeys([TEST_KEYS.datadog]);
  });

  test('no API key and no audit event content in the history of any run, while an operator’s note is there to be found', async () => {
    const orgId = harness.newOrg();
    const operator = libraryOperator(harness);
    let rawRejection: temporal.api.failure.v1.IFailure | undefined;
    await withWorker(harness.createWorker(), async () => {
      await runScenario(harness, operator, orgId);
      rawRejection = await rawUpdateRejection(harness.client, workflowIdForOrg(orgId), await coveredRange(harness, orgId));
      await stopScenario(harness, operator, orgId);
    });

    const histories = await historiesOfEveryRun(harness.client, workflowIdForOrg(orgId));
    expect(histories.length).toBeGreaterThanOrEqual(3);
    logSearched('without encryption', histories);
    const stored = storedTexts(histories);
    expect(leaks(stored, API_KEYS)).toEqual({});

    // The search works: in clear, the pause reason's email shows in both texts, and so do the failure messages.
    expect(sightings(stored, EMAILS.actor)).toEqual(['bytes as UTF-8', 'bytes as base64']);
    // The events' own content never enters history.
    expect(leaks(stored, EVENT_CONTENT)).toEqual({});
    const messages = failuresIn(histories).map((failure) => failure.message);
    expect(messages).toContainEqual(expect.stringMatching(/^Atlassian refused the API key with 401/));
    expect(messages).toContain('Datadog refused the API key with 403');
    expect(rawRejection?.message).toMatch(/^the range is already covered by the tail/);
  });
});

describe('with AUDIT_PAYLOAD_KEY', () => {
  let harness: AuditHarness;
  let codec: PayloadCodec;

  beforeAll(async () => {
    const dataConverter = loadDataConverter({ AUDIT_PAYLOAD_KEY: PAYLOAD_KEY });
    codec = codecOf(dataConverter);
    harness = await AuditHarness.create({ dataConverter });
  });

  afterAll(async () => {
    await harness?.close();
  });

  beforeEach(() => {
    // The Datadog stand-in serves every test of the harness, and a scenario leaves it accepting the rotated key only.
    harness.datadog.setApiKeys([TEST_KEYS.datadog]);
  });

  /** A client, as `atlassian-audit` builds it, holding the payload keys of `keys` (AUDIT_PAYLOAD_KEY and …_OLD_KEYS). */
  function clientWith(keys: NodeJS.ProcessEnv): Client {
    return new Client({ connection: harness.env.connection, namespace: harness.env.namespace, dataConverter: loadDataConverter(keys) });
  }

  /** The command line's environment: the harness's server and task queue, and the payload keys of `keys`. */
  function commandLineEnv(keys: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
    return { TEMPORAL_ADDRESS: harness.env.address, AUDIT_TASK_QUEUE: harness.taskQueue, ...keys };
  }

  /** The checks every encrypted history passes, whoever wrote it. */
  async function expectEncryptedHistories(histories: RunHistory[]): Promise<void> {
    const stored = storedTexts(histories);
    expect(leaks(stored, [...API_KEYS, PAYLOAD_KEY, EMAILS.actor, EMAILS.subject, 'refused the API key'])).toEqual({});

    const payloads = payloadsIn(histories);
    const inClear = payloads
      .filter(({ path, payload }) => isCodecEncoded(path) && encodingOf(payload) !== ENCRYPTED_PAYLOAD_METADATA.encoding)
      .map(({ path }) => path);
    expect(inClear).toEqual([]);
    expect(keyIdsIn(histories)).toEqual(new Set([keyIdOf(PAYLOAD_KEY)]));

    // The server writes its own workflow-task failure, message "UnhandledCommand" and nothing else, when a signal
    // lands while a run is continuing as new (the task is then retried); it carries no data of ours.
    const failures = failuresIn(histories).filter((failure) => failure.message !== 'UnhandledCommand' || failure.stackTrace !== '');
    expect(failures.length).toBeGreaterThanOrEqual(2);
    expect(new Set(failures.map((failure) => failure.message))).toEqual(new Set(['Encoded failure']));
    expect(failures.filter((failure) => failure.stackTrace !== '')).toEqual([]);

    // Hidden, not lost: decoded with the key, the same payloads hold the pause reason and the failure messages,
    // and still no event's content.
    const decoded = storedTexts(await codec.decode(payloads.map(({ payload }) => payload)));
    expect(sightings(decoded, EMAILS.actor)).toContain('bytes as UTF-8');
    expect(leaks(decoded, EVENT_CONTENT)).toEqual({});
    expect(decoded['bytes as UTF-8']).toContain('Datadog refused the API key with 403');
    expect(leaks(decoded, API_KEYS)).toEqual({});
  }

  test('no API key, no email and no failure message in clear in the history of any run', async () => {
    const orgId = harness.newOrg();
    const operator = libraryOperator(harness);
    await withWorker(harness.createWorker(), async () => {
      await runScenario(harness, operator, orgId);

      // The workflow's own failures (here, the Update validator's) leave the sandbox encoded: the bundle carries the
      // failure converter. The operator still reads the reason, decoded by the client.
      const covered = await coveredRange(harness, orgId);
      const raw = await rawUpdateRejection(harness.client, workflowIdForOrg(orgId), covered);
      expect(raw.message).toBe('Encoded failure');
      const refusal = harness.client.workflow
        .getHandle<typeof orgAuditWorkflow>(workflowIdForOrg(orgId))
        .executeUpdate(requestBackfillUpdate, { args: [covered] });
      await expect(refusal).rejects.toMatchObject({
        cause: { message: expect.stringMatching(/^the range is already covered by the tail/) },
      });

      await stopScenario(harness, operator, orgId);
    });

    const histories = await historiesOfEveryRun(harness.client, workflowIdForOrg(orgId));
    expect(histories.length).toBeGreaterThanOrEqual(3);
    logSearched('with AUDIT_PAYLOAD_KEY', histories);
    await expectEncryptedHistories(histories);
  });

  test('the worker and the command line as processes: no key in their output, nor in the history they wrote', async () => {
    const orgId = harness.newOrg();
    // One environment for both, as an operator's shell or .env file would have it.
    const env: NodeJS.ProcessEnv = {
      ...commandLineEnv({ AUDIT_PAYLOAD_KEY: PAYLOAD_KEY }),
      ATLASSIAN_API_BASE_URL: harness.atlassian.url,
      DD_LOGS_INTAKE_URL: harness.datadog.url,
      AUDIT_SHUTDOWN_GRACE_SECONDS: '2',
      ...WORKER_ENV,
    };
    const commandLineOutputs: string[] = [];
    const operator = commandLineOperator(env, commandLineOutputs);
    const worker = startEntryPoint('worker/main.ts', [], env);
    let status: { code: number | null; output: string };
    try {
      await worker.waitForOutput(/Worker polling task queue/);
      await runScenario(harness, operator, orgId);
      status = await runEntryPoint(CLIENT_ENTRY_POINT, ['status', '--org', orgId], env);
      await stopScenario(harness, operator, orgId);
    } finally {
      worker.child.kill('SIGTERM');
      await worker.exited;
    }

    expect(status.code).toBe(0);
    expect(status.output).toContain('atlassian env:ATLASSIAN_API_KEY_ROTATED (v2), datadog env:DD_API_KEY_ROTATED (v2)');
    expect(commandLineOutputs).toHaveLength(7);
    const outputs = { worker: worker.output(), 'command line': [...commandLineOutputs, status.output].join('\n') };
    expect(worker.output()).toMatch(/"payloadEncryption":true/);
    expect(leaks(outputs, [...API_KEYS, PAYLOAD_KEY])).toEqual({});
    // Nor does the worker log the audit data it encrypts (the command line may show an operator what they typed).
    expect(leaks({ worker: worker.output() }, [EMAILS.actor, EMAILS.subject])).toEqual({});

    await expectEncryptedHistories(await historiesOfEveryRun(harness.client, workflowIdForOrg(orgId)));
  }, 300_000);

  test('after a payload key rotation mid-run, new payloads use the new key and the client decodes the whole history', async () => {
    const rotatedKeys = { AUDIT_PAYLOAD_KEY: ROTATED_PAYLOAD_KEY, AUDIT_PAYLOAD_OLD_KEYS: PAYLOAD_KEY };
    const rotatedDataConverter = loadDataConverter(rotatedKeys);
    const rotatedClient = clientWith(rotatedKeys);
    const orgId = harness.newOrg();
    const workflowId = workflowIdForOrg(orgId);
    const first = harness.atlassian.addEvents(orgId, eventsWithEmails(20, () => Date.now()));
    await withWorker(harness.createWorker(), async () => {
      await harness.startOrg({ orgId, pageSize: 10 });
      await harness.waitForDelivered(orgId, first.length, 30_000);
    });
    const eventsBeforeRotation = (await harness.client.workflow.getHandle(workflowId).fetchHistory()).events!.length;

    // The worker restarts with the rotated keys: it replays the history written under the old key, then goes on.
    const second = harness.atlassian.addEvents(orgId, eventsWithEmails(20, () => Date.now()));
    await withWorker(harness.createWorker({ dataConverter: rotatedDataConverter }), async () => {
      await harness.waitForDelivered(orgId, first.length + second.length, 30_000);
      await rotatedClient.workflow.getHandle(workflowId).signal(stopSignal, {});
      const result = await rotatedClient.workflow.getHandle<typeof orgAuditWorkflow>(workflowId).result();
      expect(result.state.stats.eventsShipped).toBe(first.length + second.length);
    });
    expect(harness.deliveredIds(orgId)).toEqual([...first, ...second].map((event) => event.id));

    const [run, ...others] = await historiesOfEveryRun(rotatedClient, workflowId);
    expect(others).toEqual([]);
    const events = run!.history.events!;
    expect(keyIdsIn(events.slice(0, eventsBeforeRotation))).toEqual(new Set([keyIdOf(PAYLOAD_KEY)]));
    expect(keyIdsIn(events.slice(eventsBeforeRotation))).toEqual(new Set([keyIdOf(ROTATED_PAYLOAD_KEY)]));

    const decoded = await codecOf(rotatedDataConverter).decode(payloadsIn(events).map(({ payload }) => payload));
    expect(decoded.filter((payload) => encodingOf(payload) === ENCRYPTED_PAYLOAD_METADATA.encoding)).toEqual([]);
    const texts = storedTexts(decoded);
    expect(sightings(texts, orgId)).toContain('bytes as UTF-8');
    expect(leaks(texts, [EMAILS.actor, ...EVENT_CONTENT])).toEqual({});
  });

  test('a stopped org resumes after a payload key rotation; without the old key the client refuses clearly and starts nothing', async () => {
    const orgId = harness.newOrg();
    const workflowId = workflowIdForOrg(orgId);
    const first = harness.atlassian.addEvents(orgId, eventsWithEmails(20, () => Date.now()));
    await withWorker(harness.createWorker(), async () => {
      const handle = await harness.startOrg({ orgId, pageSize: 10 });
      await harness.waitForDelivered(orgId, first.length, 30_000);
      await handle.signal(stopSignal, {});
      await handle.result();
    });
    const stoppedRunId = (await harness.client.workflow.getHandle(workflowId).describe()).runId;

    // Rotated without keeping the old key: the stopped run's result (its cursor) cannot be read, and nothing starts.
    const newKeyOnly = { AUDIT_PAYLOAD_KEY: ROTATED_PAYLOAD_KEY };
    const missingKeyError = new UnknownPayloadKeyError(keyIdOf(PAYLOAD_KEY)).message;
    const refused = await runEntryPoint(CLIENT_ENTRY_POINT, ['start', '--org', orgId], commandLineEnv(newKeyOnly));
    expect(refused.code).toBe(1);
    expect(refused.output.trim()).toBe(`error: ${missingKeyError}`);
    expect(leaks({ output: refused.output }, [PAYLOAD_KEY, ROTATED_PAYLOAD_KEY, EMAILS.actor])).toEqual({});
    await expect(clientWith(newKeyOnly).workflow.getHandle(workflowId).result()).rejects.toThrow(missingKeyError);
    expect((await harness.client.workflow.getHandle(workflowId).describe()).runId).toBe(stoppedRunId);

    // With the old key kept for decryption, the client reads the stopped run's state and the org resumes from it.
    const rotatedKeys = { AUDIT_PAYLOAD_KEY: ROTATED_PAYLOAD_KEY, AUDIT_PAYLOAD_OLD_KEYS: PAYLOAD_KEY };
    const second = harness.atlassian.addEvents(orgId, eventsWithEmails(15, () => Date.now()));
    await withWorker(harness.createWorker({ dataConverter: loadDataConverter(rotatedKeys) }), async () => {
      const resumed = await runEntryPoint(
        CLIENT_ENTRY_POINT,
        ['start', '--org', orgId, '--poll-interval', '1s', '--max-requests-per-minute', '600'],
        commandLineEnv(rotatedKeys)
      );
      expect(resumed.output.trim()).toBe(`${workflowId} started, resuming from where its last run stopped`);
      await harness.waitForDelivered(orgId, first.length + second.length, 30_000);
      expect(harness.deliveredIds(orgId)).toEqual([...first, ...second].map((event) => event.id));
      const rotatedClient = clientWith(rotatedKeys);
      await rotatedClient.workflow.getHandle(workflowId).signal(stopSignal, {});
      await rotatedClient.workflow.getHandle(workflowId).result();
    });

    // The resumed run was written with the new key alone; the stopped one still carries the old.
    const stoppedRun = await harness.client.workflow.getHandle(workflowId, stoppedRunId).fetchHistory();
    const resumedRun = await harness.client.workflow.getHandle(workflowId).fetchHistory();
    expect(keyIdsIn(stoppedRun)).toEqual(new Set([keyIdOf(PAYLOAD_KEY)]));
    expect(keyIdsIn(resumedRun)).toEqual(new Set([keyIdOf(ROTATED_PAYLOAD_KEY)]));
  });
});
