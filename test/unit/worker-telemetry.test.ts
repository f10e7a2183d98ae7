/**
 * The worker's telemetry settings (`AUDIT_LOG_LEVEL`, `AUDIT_METRICS_ADDRESS`) and its JSON log lines, including the
 * guarantees that no line carries a credential.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { LogTimestamp } from '@temporalio/worker';
import { DEFAULT_CREDENTIAL_POLICY, SecretRegistry, resolveCredential } from '../../activities/credentials';
import { ConfigError } from '../../worker/config';
import { prometheusExporter } from '../../worker/metrics';
import { createJsonLogger, formatLogLine, loadTelemetryConfig, secretValuesIn } from '../../worker/telemetry';

describe('loadTelemetryConfig', () => {
  it('defaults to info logs and metrics on 0.0.0.0:9464', () => {
    expect(loadTelemetryConfig({})).toEqual({ logLevel: 'INFO', metricsBindAddress: '0.0.0.0:9464' });
  });

  it('reads a level in any case, and IPv4 or IPv6 socket addresses', () => {
    expect(loadTelemetryConfig({ AUDIT_LOG_LEVEL: 'debug', AUDIT_METRICS_ADDRESS: '127.0.0.1:9100' })).toEqual({
      logLevel: 'DEBUG',
      metricsBindAddress: '127.0.0.1:9100',
    });
    expect(loadTelemetryConfig({ AUDIT_LOG_LEVEL: ' Warn ', AUDIT_METRICS_ADDRESS: '[::]:9464' })).toEqual({
      logLevel: 'WARN',
      metricsBindAddress: '[::]:9464',
    });
  });

  it('switches metrics off with "off"; a blank value means unset, as for every worker variable', () => {
    expect(loadTelemetryConfig({ AUDIT_METRICS_ADDRESS: 'off' }).metricsBindAddress).toBeNull();
    expect(loadTelemetryConfig({ AUDIT_METRICS_ADDRESS: 'OFF' }).metricsBindAddress).toBeNull();
    expect(loadTelemetryConfig({ AUDIT_METRICS_ADDRESS: '  ', AUDIT_LOG_LEVEL: '' })).toEqual({
      logLevel: 'INFO',
      metricsBindAddress: '0.0.0.0:9464',
    });
  });

  it.each([
    [{ AUDIT_LOG_LEVEL: 'verbose' }, 'Invalid configuration: AUDIT_LOG_LEVEL must be one of trace, debug, info, warn, error'],
    [{ AUDIT_METRICS_ADDRESS: 'localhost:9100' }, /^Invalid configuration: AUDIT_METRICS_ADDRESS must be IP:port such as /],
    [{ AUDIT_METRICS_ADDRESS: '9100' }, /^Invalid configuration: AUDIT_METRICS_ADDRESS must be IP:port/],
    [{ AUDIT_METRICS_ADDRESS: '0.0.0.0:70000' }, /^Invalid configuration: AUDIT_METRICS_ADDRESS must be IP:port/],
    [{ AUDIT_METRICS_ADDRESS: '::1:9100' }, /^Invalid configuration: AUDIT_METRICS_ADDRESS must be IP:port/],
  ])('refuses %j with one line naming the variable, not its value', (env, expected) => {
    const error = captureError(() => loadTelemetryConfig(env));
    expect(error).toBeInstanceOf(ConfigError);
    const message = error.message;
    expect(message).toMatch(expected);
    expect(message.split('\n')).toHaveLength(1);
    expect(message).not.toContain(Object.values(env)[0]);
  });

  it('gives the Runtime a Prometheus exporter, or none when off', () => {
    expect(prometheusExporter('0.0.0.0:9464')).toEqual({ prometheus: { bindAddress: '0.0.0.0:9464' } });
    expect(prometheusExporter(null)).toBeUndefined();
  });
});

function captureError(action: () => unknown): Error {
  try {
    action();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected an error');
}

describe('JSON log lines', () => {
  const at = (iso: string) => BigInt(Date.parse(iso)) * 1_000_000n;

  function capture(options: Parameters<typeof createJsonLogger>[0] = {}) {
    const lines: string[] = [];
    const logger = createJsonLogger({ ...options, write: (line) => lines.push(line) });
    return { logger, lines, records: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>) };
  }

  it('writes one JSON object per line: time, level, message, then the SDK and caller metadata', () => {
    const { logger, lines } = capture();
    logger.warn('Holding the cursor until credentials are rotated', {
      [LogTimestamp]: at('2026-11-25T10:00:00.123Z'),
      sdkComponent: 'workflow',
      workflowId: 'atlassian-audit-org-1',
      runId: 'run-1',
      orgId: 'org-1',
      attempt: 2,
    });
    expect(lines).toHaveLength(1);
    expect(lines[0]!.endsWith('\n')).toBe(true);
    expect(lines[0]!.slice(0, -1)).not.toContain('\n');
    expect(Object.entries(JSON.parse(lines[0]!))).toEqual([
      ['time', '2026-11-25T10:00:00.123Z'],
      ['level', 'warn'],
      ['message', 'Holding the cursor until credentials are rotated'],
      ['sdkComponent', 'workflow'],
      ['workflowId', 'atlassian-audit-org-1'],
      ['runId', 'run-1'],
      ['orgId', 'org-1'],
      ['attempt', 2],
    ]);
  });

  it('writes only lines at or above the configured level', () => {
    const { logger, records } = capture({ level: 'WARN' });
    logger.debug('not written');
    logger.info('not written');
    logger.warn('written');
    logger.error('written too');
    expect(records().map((record) => record.level)).toEqual(['warn', 'error']);
  });

  it('keeps its own time, level and message when metadata has fields of the same names', () => {
    const line = formatLogLine({
      level: 'INFO',
      message: 'real',
      timestampNanos: at('2026-11-25T10:00:00Z'),
      meta: { message: 'fake', level: 'ERROR', time: 'yesterday', orgId: 'org-1' },
    });
    expect(JSON.parse(line)).toEqual({ time: '2026-11-25T10:00:00.000Z', level: 'info', message: 'real', orgId: 'org-1' });
  });

  it('writes an error as Datadog error attributes (kind, message, stack), with the failure type and cause', () => {
    const failure = ApplicationFailure.create({
      type: 'AtlassianAuthFailed',
      message: 'Atlassian refused the API key with 401',
      cause: new Error('inner'),
    });
    const record = JSON.parse(formatLogLine({ level: 'WARN', message: 'Activity failed', timestampNanos: 0n, meta: { error: failure } }));
    expect(record.error).toEqual({
      kind: 'ApplicationFailure',
      message: 'Atlassian refused the API key with 401',
      type: 'AtlassianAuthFailed',
      stack: expect.stringContaining('Atlassian refused the API key with 401'),
      cause: { kind: 'Error', message: 'inner', stack: expect.any(String) },
    });
  });

  it("drops an undici error's request options, headers and socket: only kind, message, code and stack remain", () => {
    const undiciLike = Object.assign(new Error('other side closed'), {
      name: 'SocketError',
      code: 'UND_ERR_SOCKET',
      socket: { remoteAddress: '10.0.0.1', localPort: 51000 },
      headers: { authorization: 'Bearer atlassian-secret-value' },
      options: { headers: { 'dd-api-key': 'datadog-secret-value' } },
    });
    const line = formatLogLine({ level: 'ERROR', message: 'request failed', timestampNanos: 0n, meta: { error: undiciLike } });
    expect(Object.keys(JSON.parse(line).error).sort()).toEqual(['code', 'kind', 'message', 'stack']);
    expect(line).not.toContain('secret-value');
    expect(line).not.toContain('10.0.0.1');
  });

  it('redacts fields named like credentials at any depth, and never writes bytes', () => {
    const line = formatLogLine({
      level: 'DEBUG',
      message: 'connecting',
      timestampNanos: 0n,
      meta: {
        apiKey: 'temporal-api-key-value',
        options: {
          headers: { Authorization: 'Bearer a', 'DD-API-KEY': 'b', accept: 'application/json' },
          tls: { clientCertPair: { crt: Buffer.from('cert'), key: Buffer.from('private key bytes') } },
          password: 'pg',
        },
      },
    });
    expect(JSON.parse(line)).toMatchObject({
      apiKey: '[redacted]',
      options: {
        headers: { Authorization: '[redacted]', 'DD-API-KEY': '[redacted]', accept: 'application/json' },
        tls: { clientCertPair: { crt: '[4 bytes]', key: '[17 bytes]' } },
        password: '[redacted]',
      },
    });
  });

  it('copes with cycles, bigints and odd numbers', () => {
    const cyclic: Record<string, unknown> = { name: 'a' };
    cyclic.self = cyclic;
    const record = JSON.parse(
      formatLogLine({ level: 'INFO', message: 'm', timestampNanos: 0n, meta: { cyclic, big: 12n, ratio: Number.NaN } })
    );
    expect(record).toMatchObject({ cyclic: { name: 'a', self: '[circular]' }, big: '12', ratio: 'NaN' });
  });

  it("scrubs the values of the worker's secret variables from every line, wherever they appear", () => {
    const env = {
      ATLASSIAN_API_KEY: 'fake-test-atlassian-key-3xFfGF0',
      DD_API_KEY: '0123456789abcdef0123456789abcdef',
      DD_API_KEY_ROTATED: 'fedcba9876543210fedcba9876543210',
      AUDIT_PAYLOAD_OLD_KEYS: 'b2xkLWtleS1vbmUtMzItYnl0ZXMtbG9uZy4uLi4uLi4=, b2xkLWtleS10d28tMzItYnl0ZXMtbG9uZy4uLi4uLi4=',
      TEMPORAL_TLS_CLIENT_KEY_PATH: '/certs/client.key',
      DD_SITE: 'datadoghq.com',
      SHORT_KEY: 'abc',
    };
    expect(secretValuesIn(env).sort()).toEqual(
      [
        env.ATLASSIAN_API_KEY,
        env.DD_API_KEY,
        env.DD_API_KEY_ROTATED,
        env.AUDIT_PAYLOAD_OLD_KEYS,
        'b2xkLWtleS1vbmUtMzItYnl0ZXMtbG9uZy4uLi4uLi4=',
        'b2xkLWtleS10d28tMzItYnl0ZXMtbG9uZy4uLi4uLi4=',
      ].sort()
    );
    const { logger, lines } = capture({ secrets: secretValuesIn(env) });
    logger.error(`request with ${env.DD_API_KEY} failed`, {
      detail: { note: `key ${env.ATLASSIAN_API_KEY} and rotated ${env.DD_API_KEY_ROTATED}` },
      oldKey: 'b2xkLWtleS10d28tMzItYnl0ZXMtbG9uZy4uLi4uLi4=',
      certificate: '/certs/client.key',
    });
    const line = lines.join('');
    for (const secret of secretValuesIn(env)) expect(line).not.toContain(secret);
    expect(JSON.parse(line)).toMatchObject({
      message: 'request with [redacted] failed',
      detail: { note: 'key [redacted] and rotated [redacted]' },
      oldKey: '[redacted]',
      certificate: '/certs/client.key',
    });
  });

  it('scrubs a key read through a file: reference from every line written after, as written and JSON-escaped', async () => {
    const secretsDir = mkdtempSync(path.join(tmpdir(), 'telemetry-secrets-'));
    try {
      // A quote, so the key's JSON-escaped form differs from the raw one.
      const key = 'file-only-datadog-key-"5e6f7a"';
      writeFileSync(path.join(secretsDir, 'datadog-key'), `${key}\n`);
      // The logger exists before the key is read, as the worker's does.
      const { logger, lines, records } = capture();
      const resolved = await resolveCredential({ ref: `file:${secretsDir}/datadog-key`, version: 1 }, 'datadog', {}, {
        ...DEFAULT_CREDENTIAL_POLICY,
        secretsDir,
      });
      expect(resolved).toBe(key);
      logger.error(`Datadog refused ${resolved}`, { request: { note: `sent ${resolved}` }, error: new Error(`bad key ${resolved}`) });
      const output = lines.join('');
      expect(output).not.toContain(key);
      expect(output).not.toContain(JSON.stringify(key).slice(1, -1));
      expect(output).not.toContain('5e6f7a');
      expect(records()[0]).toMatchObject({
        message: 'Datadog refused [redacted]',
        request: { note: 'sent [redacted]' },
        error: { message: 'bad key [redacted]' },
      });
    } finally {
      rmSync(secretsDir, { recursive: true, force: true });
    }
  });

  it('consults its registry at every line, leaving values too short to be credentials alone', () => {
    const resolved = new SecretRegistry();
    const { logger, records } = capture({ resolved });
    logger.info('key registered-later-value-31 not yet known');
    resolved.add('registered-later-value-31');
    resolved.add('short');
    logger.info('key registered-later-value-31 and a short word');
    expect(records().map((record) => record.message)).toEqual([
      'key registered-later-value-31 not yet known',
      'key [redacted] and a short word',
    ]);
  });
});
