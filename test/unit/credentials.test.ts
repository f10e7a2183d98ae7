/**
 * Credential references under the worker's policy: `env:` names only the variables allowed for its service, `file:`
 * reads only regular files inside the secrets directory, within a size cap and a timeout, without ever blocking
 * libuv's thread pool. Refusals are non-retryable `CredentialUnavailable` failures naming the rule, never a value.
 */
import { execFileSync } from 'node:child_process';
import { constants, existsSync, mkdirSync, mkdtempSync, openSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import {
  DEFAULT_CREDENTIAL_POLICY,
  READER_THREAD_SOURCE,
  SecretFileReader,
  resolveCredential,
  resolvedSecrets,
  type CredentialPolicy,
} from '../../activities/credentials';
import { ConfigError, loadWorkerConfig } from '../../worker/config';
import { CredentialOwner, FailureType } from '../../shared/failure-types';

const ENV = {
  ATLASSIAN_API_KEY: 'atlassian-key-value-0b7e2c',
  ATLASSIAN_API_KEY_ROTATED: 'atlassian-rotated-value-5a1d',
  DD_API_KEY: 'datadog-key-value-93f0aa',
  DD_API_KEY_EU: 'datadog-eu-key-value-77c1',
  TEMPORAL_API_KEY: 'temporal-key-value-4e4e4e',
  AUDIT_PAYLOAD_KEY: 'cGF5bG9hZC1rZXktdmFsdWUtMzItYnl0ZXMtbG9uZyE=',
  SHARED_KEY: 'shared-key-value-1c2d3e',
};

const ref = (value: string) => ({ ref: value, version: 1 });

async function refusal(pending: Promise<unknown>): Promise<ApplicationFailure> {
  try {
    await pending;
  } catch (err) {
    expect(err).toBeInstanceOf(ApplicationFailure);
    const failure = err as ApplicationFailure;
    expect(failure.type).toBe(FailureType.CredentialUnavailable);
    expect(failure.nonRetryable).toBe(true);
    return failure;
  }
  throw new Error('expected the reference to be refused');
}

/** The refusal's message, after checking that it is the owner's and carries none of the secrets it could leak. */
async function refusedBecause(pending: Promise<unknown>, owner: CredentialOwner, secrets: readonly string[] = Object.values(ENV)) {
  const failure = await refusal(pending);
  expect(failure.details).toEqual([{ owner }]);
  for (const secret of secrets) expect(failure.message).not.toContain(secret);
  return failure.message;
}

function errorCode(action: () => unknown): string | undefined {
  try {
    action();
  } catch (err) {
    return (err as NodeJS.ErrnoException).code;
  }
  return undefined;
}

describe('env: references', () => {
  it.each([
    [CredentialOwner.Atlassian, 'env:ATLASSIAN_API_KEY', ENV.ATLASSIAN_API_KEY],
    [CredentialOwner.Atlassian, 'env:ATLASSIAN_API_KEY_ROTATED', ENV.ATLASSIAN_API_KEY_ROTATED],
    [CredentialOwner.Datadog, 'env:DD_API_KEY', ENV.DD_API_KEY],
    [CredentialOwner.Datadog, 'env:DD_API_KEY_EU', ENV.DD_API_KEY_EU],
  ])('by default lets %s name %s', async (owner, reference, value) => {
    await expect(resolveCredential(ref(reference), owner, ENV)).resolves.toBe(value);
  });

  it("never sends one service's key to the other", async () => {
    expect(await refusedBecause(resolveCredential(ref('env:ATLASSIAN_API_KEY'), CredentialOwner.Datadog, ENV), CredentialOwner.Datadog)).toBe(
      'datadog credential unavailable: env:ATLASSIAN_API_KEY is not allowed for datadog (allowed: DD_API_KEY, DD_API_KEY_*)'
    );
    expect(await refusedBecause(resolveCredential(ref('env:DD_API_KEY_EU'), CredentialOwner.Atlassian, ENV), CredentialOwner.Atlassian)).toBe(
      'atlassian credential unavailable: env:DD_API_KEY_EU is not allowed for atlassian (allowed: ATLASSIAN_API_KEY, ATLASSIAN_API_KEY_*)'
    );
  });

  it("refuses the worker's own secrets and variables outside the lists", async () => {
    for (const reference of ['env:TEMPORAL_API_KEY', 'env:AUDIT_PAYLOAD_KEY', 'env:SHARED_KEY', 'env:PATH']) {
      expect(await refusedBecause(resolveCredential(ref(reference), CredentialOwner.Datadog, ENV), CredentialOwner.Datadog)).toMatch(
        /is not allowed for datadog/
      );
    }
  });

  it('holds its rules even for a policy built in code that lists a worker secret or one variable for both services', async () => {
    const careless: CredentialPolicy = {
      ...DEFAULT_CREDENTIAL_POLICY,
      variables: { atlassian: ['ATLASSIAN_API_KEY', 'SHARED_KEY', 'TEMPORAL_*'], datadog: ['DD_API_KEY', 'SHARED_KEY'] },
    };
    expect(await refusedBecause(resolveCredential(ref('env:SHARED_KEY'), CredentialOwner.Atlassian, ENV, careless), CredentialOwner.Atlassian)).toBe(
      'atlassian credential unavailable: env:SHARED_KEY is allowed for datadog too, and a variable may be the credential of one service only'
    );
    expect(await refusedBecause(resolveCredential(ref('env:SHARED_KEY'), CredentialOwner.Datadog, ENV, careless), CredentialOwner.Datadog)).toMatch(
      /env:SHARED_KEY is allowed for atlassian too/
    );
    expect(await refusedBecause(resolveCredential(ref('env:TEMPORAL_API_KEY'), CredentialOwner.Atlassian, ENV, careless), CredentialOwner.Atlassian)).toBe(
      'atlassian credential unavailable: env:TEMPORAL_API_KEY names a secret of the worker itself (TEMPORAL_*, AUDIT_*, DD_APP_KEY*, DD_APPLICATION_KEY*)'
    );
    await expect(resolveCredential(ref('env:ATLASSIAN_API_KEY'), CredentialOwner.Atlassian, ENV, careless)).resolves.toBe(ENV.ATLASSIAN_API_KEY);
  });

  it('says when an allowed variable is unset or blank', async () => {
    expect(
      await refusedBecause(resolveCredential(ref('env:ATLASSIAN_API_KEY_NEXT'), CredentialOwner.Atlassian, { ATLASSIAN_API_KEY_NEXT: '  ' }), CredentialOwner.Atlassian)
    ).toBe('atlassian credential unavailable: env:ATLASSIAN_API_KEY_NEXT is not set on the worker');
  });

  it("follows the worker's configured lists", async () => {
    const { credentialPolicy } = loadWorkerConfig({
      AUDIT_ATLASSIAN_CREDENTIAL_VARIABLES: 'ATLASSIAN_API_KEY, ATL_ORG_*',
      AUDIT_DATADOG_CREDENTIAL_VARIABLES: 'DD_ORG_KEY_*',
    });
    const env = { ...ENV, ATL_ORG_7: 'atlassian-org-seven-value', DD_ORG_KEY_7: 'datadog-org-seven-value' };
    await expect(resolveCredential(ref('env:ATL_ORG_7'), CredentialOwner.Atlassian, env, credentialPolicy)).resolves.toBe(env.ATL_ORG_7);
    await expect(resolveCredential(ref('env:DD_ORG_KEY_7'), CredentialOwner.Datadog, env, credentialPolicy)).resolves.toBe(env.DD_ORG_KEY_7);
    expect(await refusedBecause(resolveCredential(ref('env:DD_API_KEY'), CredentialOwner.Datadog, env, credentialPolicy), CredentialOwner.Datadog)).toBe(
      'datadog credential unavailable: env:DD_API_KEY is not allowed for datadog (allowed: DD_ORG_KEY_*)'
    );
  });
});

describe('credential policy configuration', () => {
  function configError(env: NodeJS.ProcessEnv): string {
    try {
      loadWorkerConfig(env);
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message.split('\n')).toHaveLength(1);
      return (err as Error).message;
    }
    throw new Error('expected a ConfigError');
  }

  it('defaults to the documented lists and /run/secrets; blank values count as unset', () => {
    const expected = {
      variables: { atlassian: ['ATLASSIAN_API_KEY', 'ATLASSIAN_API_KEY_*'], datadog: ['DD_API_KEY', 'DD_API_KEY_*'] },
      secretsDir: '/run/secrets',
    };
    expect(loadWorkerConfig({}).credentialPolicy).toEqual(expected);
    expect(loadWorkerConfig({ AUDIT_ATLASSIAN_CREDENTIAL_VARIABLES: ' ', AUDIT_SECRETS_DIR: '' }).credentialPolicy).toEqual(expected);
  });

  it('reads comma-separated names and prefixes, and a secrets directory', () => {
    expect(
      loadWorkerConfig({
        AUDIT_ATLASSIAN_CREDENTIAL_VARIABLES: ' ATL_KEY ,ATL_KEY_*,',
        AUDIT_DATADOG_CREDENTIAL_VARIABLES: 'DD_API_KEY',
        AUDIT_SECRETS_DIR: '/var/run/audit-secrets/',
      }).credentialPolicy
    ).toEqual({ variables: { atlassian: ['ATL_KEY', 'ATL_KEY_*'], datadog: ['DD_API_KEY'] }, secretsDir: '/var/run/audit-secrets' });
  });

  it('refuses a variable both services could name, naming both settings', () => {
    expect(configError({ AUDIT_ATLASSIAN_CREDENTIAL_VARIABLES: 'ATLASSIAN_API_KEY,DD_API_KEY' })).toBe(
      'Invalid configuration: AUDIT_ATLASSIAN_CREDENTIAL_VARIABLES (DD_API_KEY) and AUDIT_DATADOG_CREDENTIAL_VARIABLES (DD_API_KEY) name the same variables; a variable may be the credential of one service only'
    );
    expect(configError({ AUDIT_ATLASSIAN_CREDENTIAL_VARIABLES: 'KEY_*', AUDIT_DATADOG_CREDENTIAL_VARIABLES: 'KEY_DD' })).toMatch(
      /^Invalid configuration: AUDIT_ATLASSIAN_CREDENTIAL_VARIABLES \(KEY_\*\) and AUDIT_DATADOG_CREDENTIAL_VARIABLES \(KEY_DD\) /
    );
    expect(configError({ AUDIT_ATLASSIAN_CREDENTIAL_VARIABLES: 'SECRET_*', AUDIT_DATADOG_CREDENTIAL_VARIABLES: 'SECRET_DD_*' })).toMatch(
      /AUDIT_ATLASSIAN_CREDENTIAL_VARIABLES \(SECRET_\*\) and AUDIT_DATADOG_CREDENTIAL_VARIABLES \(SECRET_DD_\*\)/
    );
  });

  it.each([
    ['AUDIT_DATADOG_CREDENTIAL_VARIABLES', 'DD_*', 'DD_APP_KEY*'],
    ['AUDIT_DATADOG_CREDENTIAL_VARIABLES', 'TEMPORAL_API_KEY', 'TEMPORAL_*'],
    ['AUDIT_ATLASSIAN_CREDENTIAL_VARIABLES', 'AUDIT_PAYLOAD_KEY', 'AUDIT_*'],
    ['AUDIT_ATLASSIAN_CREDENTIAL_VARIABLES', 'A*', 'AUDIT_*'],
  ])("refuses %s=%s, which would name the worker's own secrets", (variable, list, reserved) => {
    expect(configError({ [variable]: list })).toBe(
      `Invalid configuration: ${variable} (${list}) names variables of ${reserved}, which hold the worker's own secrets and are never a credential`
    );
  });

  it.each([
    [{ AUDIT_DATADOG_CREDENTIAL_VARIABLES: '*' }, 'Invalid configuration: AUDIT_DATADOG_CREDENTIAL_VARIABLES must list variable names, each a name or a prefix ending in *'],
    [{ AUDIT_DATADOG_CREDENTIAL_VARIABLES: 'DD-API-KEY' }, 'Invalid configuration: AUDIT_DATADOG_CREDENTIAL_VARIABLES must list variable names, each a name or a prefix ending in *'],
    [{ AUDIT_ATLASSIAN_CREDENTIAL_VARIABLES: ', ,' }, 'Invalid configuration: AUDIT_ATLASSIAN_CREDENTIAL_VARIABLES must name at least one variable'],
    [{ AUDIT_SECRETS_DIR: 'run/secrets' }, 'Invalid configuration: AUDIT_SECRETS_DIR must be an absolute path'],
  ])('refuses %j with one line naming the variable', (env, expected) => {
    expect(configError(env)).toBe(expected);
  });
});

describe('file: references', () => {
  const FILE_SECRET = 'file-secret-value-6f3a91';
  let root: string;
  let secretsDir: string;
  let outsideDir: string;
  let policy: CredentialPolicy;

  beforeAll(() => {
    root = mkdtempSync(path.join(tmpdir(), 'credentials-test-'));
    secretsDir = path.join(root, 'secrets');
    outsideDir = path.join(root, 'outside');
    mkdirSync(secretsDir);
    mkdirSync(outsideDir);
    policy = { ...DEFAULT_CREDENTIAL_POLICY, secretsDir };
    writeFileSync(path.join(secretsDir, 'datadog-key'), `${FILE_SECRET}\n`);
    writeFileSync(path.join(outsideDir, 'secret'), 'outside-secret-value-2b2b');
  });

  afterAll(() => rmSync(root, { recursive: true, force: true }));

  const secrets = () => [...Object.values(ENV), FILE_SECRET, 'outside-secret-value-2b2b'];

  it('reads a regular file inside the secrets directory, trimmed, and registers it for the log scrubber', async () => {
    await expect(resolveCredential(ref(`file:${secretsDir}/datadog-key`), CredentialOwner.Datadog, {}, policy)).resolves.toBe(FILE_SECRET);
    expect(resolvedSecrets.values()).toContain(FILE_SECRET);
  });

  it("follows Kubernetes' symlinks inside the mount, and a secrets directory that is itself a symlink", async () => {
    const dir = path.join(root, 'k8s');
    mkdirSync(path.join(dir, '..2026_11_25_10_00_00.123'), { recursive: true });
    writeFileSync(path.join(dir, '..2026_11_25_10_00_00.123', 'atlassian-key'), 'k8s-mounted-value-8d8d');
    symlinkSync('..2026_11_25_10_00_00.123', path.join(dir, '..data'));
    symlinkSync('..data/atlassian-key', path.join(dir, 'atlassian-key'));
    const linkedDir = path.join(root, 'linked-secrets');
    symlinkSync(dir, linkedDir);
    await expect(
      resolveCredential(ref(`file:${linkedDir}/atlassian-key`), CredentialOwner.Atlassian, {}, { ...policy, secretsDir: linkedDir })
    ).resolves.toBe('k8s-mounted-value-8d8d');
  });

  it('refuses a symlink that escapes the directory, a path that climbs out of it, and a file elsewhere', async () => {
    symlinkSync(path.join(outsideDir, 'secret'), path.join(secretsDir, 'escape'));
    for (const file of [`${secretsDir}/escape`, `${secretsDir}/../outside/secret`, `${outsideDir}/secret`]) {
      expect(await refusedBecause(resolveCredential(ref(`file:${file}`), CredentialOwner.Atlassian, {}, policy), CredentialOwner.Atlassian, secrets())).toBe(
        `atlassian credential unavailable: file:${file} resolves outside the secrets directory ${secretsDir}`
      );
    }
  });

  it("refuses a FIFO at once and never blocks libuv's thread pool on it", async () => {
    const fifo = path.join(secretsDir, 'pipe');
    execFileSync('mkfifo', [fifo]);
    // More than the pool's four threads: a blocking open of each would leave none for the reads below.
    const started = Date.now();
    const refusals = await Promise.all(
      Array.from({ length: 8 }, () => refusedBecause(resolveCredential(ref(`file:${fifo}`), CredentialOwner.Datadog, {}, policy), CredentialOwner.Datadog))
    );
    expect(refusals).toEqual(Array(8).fill(`datadog credential unavailable: file:${fifo} is not a regular file`));
    expect(Date.now() - started).toBeLessThan(1_000);
    await expect(Promise.all(Array.from({ length: 8 }, () => readFile(path.join(secretsDir, 'datadog-key'), 'utf8')))).resolves.toHaveLength(8);
    // No reader holds the FIFO open: a writer that does not wait is told there is none.
    expect(errorCode(() => openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK))).toBe('ENXIO');
    await expect(resolveCredential(ref(`file:${secretsDir}/datadog-key`), CredentialOwner.Datadog, {}, policy)).resolves.toBe(FILE_SECRET);
  });

  it('refuses a device and a directory without reading them', async () => {
    expect(
      await refusedBecause(resolveCredential(ref('file:/dev/zero'), CredentialOwner.Datadog, {}, { ...policy, secretsDir: '/dev' }), CredentialOwner.Datadog)
    ).toBe('datadog credential unavailable: file:/dev/zero is not a regular file');
    mkdirSync(path.join(secretsDir, 'folder'));
    expect(await refusedBecause(resolveCredential(ref(`file:${secretsDir}/folder`), CredentialOwner.Datadog, {}, policy), CredentialOwner.Datadog)).toBe(
      `datadog credential unavailable: file:${secretsDir}/folder is not a regular file`
    );
  });

  it('refuses a file over the size cap: 64 KiB by default', async () => {
    writeFileSync(path.join(secretsDir, 'sixteen'), 'x'.repeat(16));
    writeFileSync(path.join(secretsDir, 'seventeen'), 'y'.repeat(17));
    writeFileSync(path.join(secretsDir, 'huge'), 'z'.repeat(64 * 1024 + 1));
    const small = { ...policy, maxFileBytes: 16 };
    await expect(resolveCredential(ref(`file:${secretsDir}/sixteen`), CredentialOwner.Atlassian, {}, small)).resolves.toBe('x'.repeat(16));
    expect(await refusedBecause(resolveCredential(ref(`file:${secretsDir}/seventeen`), CredentialOwner.Atlassian, {}, small), CredentialOwner.Atlassian)).toBe(
      `atlassian credential unavailable: file:${secretsDir}/seventeen is larger than 16 bytes`
    );
    expect(await refusedBecause(resolveCredential(ref(`file:${secretsDir}/huge`), CredentialOwner.Atlassian, {}, policy), CredentialOwner.Atlassian)).toBe(
      `atlassian credential unavailable: file:${secretsDir}/huge is larger than 65536 bytes`
    );
  });

  it('says when the file is empty, missing, or the secrets directory is', async () => {
    writeFileSync(path.join(secretsDir, 'blank'), ' \n');
    const reasons = await Promise.all(
      [
        resolveCredential(ref(`file:${secretsDir}/blank`), CredentialOwner.Atlassian, {}, policy),
        resolveCredential(ref(`file:${secretsDir}/missing`), CredentialOwner.Atlassian, {}, policy),
        resolveCredential(ref(`file:${secretsDir}/datadog-key`), CredentialOwner.Atlassian, {}, { ...policy, secretsDir: `${root}/none` }),
      ].map((pending) => refusedBecause(pending, CredentialOwner.Atlassian, secrets()))
    );
    expect(reasons).toEqual([
      `atlassian credential unavailable: file:${secretsDir}/blank is empty`,
      `atlassian credential unavailable: file:${secretsDir}/missing cannot be read (ENOENT)`,
      `atlassian credential unavailable: file:${secretsDir}/datadog-key cannot be read: the secrets directory ${root}/none is not accessible (ENOENT)`,
    ]);
  });

  it('by default reads only under /run/secrets', async () => {
    const file = `${secretsDir}/datadog-key`;
    expect(await refusedBecause(resolveCredential(ref(`file:${file}`), CredentialOwner.Datadog, {}), CredentialOwner.Datadog, secrets())).toBe(
      existsSync('/run/secrets')
        ? `datadog credential unavailable: file:${file} resolves outside the secrets directory /run/secrets`
        : `datadog credential unavailable: file:${file} cannot be read: the secrets directory /run/secrets is not accessible (ENOENT)`
    );
  });
});

describe('SecretFileReader', () => {
  let root: string;

  beforeAll(() => {
    root = mkdtempSync(path.join(tmpdir(), 'secret-reader-test-'));
    writeFileSync(path.join(root, 'key'), 'reader-key-value');
    writeFileSync(path.join(root, 'stuck'), 'never-read-value');
  });

  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('gives up a thread that does not answer in time; the requests behind it are read on a new one', async () => {
    // Stands for a system call that does not return: the thread is held for 3 s, like one in a hung mount.
    const stuckOnFile = `require('node:worker_threads').parentPort.on('message', ({ file }) => {
      if (file.endsWith('/stuck')) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 3000);
    });`;
    const reader = new SecretFileReader({ threadSource: stuckOnFile + READER_THREAD_SOURCE });
    const request = (name: string) => ({ file: path.join(root, name), secretsDir: root, maxBytes: 1024 });
    // A first read, so the thread is running and the timeouts below are the requests' own.
    await expect(reader.read(request('key'), 2_000)).resolves.toEqual({ outcome: 'read', content: 'reader-key-value' });

    const started = Date.now();
    const [stuck, queued] = await Promise.all([reader.read(request('stuck'), 200), reader.read(request('key'), 2_000)]);
    expect(stuck).toEqual({ outcome: 'timedOut' });
    expect(queued).toEqual({ outcome: 'read', content: 'reader-key-value' });
    expect(Date.now() - started).toBeLessThan(2_500);
  });
});
