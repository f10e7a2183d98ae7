/**
 * The worker's logs and metrics, installed once per process through the Temporal `Runtime`:
 *
 * - every log line (the worker's own, the SDK's, Core's, and `log` from workflows and activities) is one JSON object
 *   on stdout with `time`, `level` and `message` first, then the SDK's metadata (`workflowId`, `activityType`,
 *   `taskQueue`, ...) and the caller's (`orgId`, ...);
 * - metrics are served for Prometheus by the SDK's own endpoint (see ./metrics.ts).
 *
 * No line may carry a credential: errors are reduced to kind, message and stack (never an undici error's request or
 * socket), fields named like secrets are redacted, and as a last guard every line is scrubbed of the values of the
 * worker's secret environment variables and of every credential the activities have resolved (a key read through a
 * `file:` reference is in no variable).
 */
import type { LogLevel, Logger } from '@temporalio/common';
import { ApplicationFailure } from '@temporalio/common';
import { DefaultLogger, Runtime, type LogEntry } from '@temporalio/worker';
import { z } from 'zod';
import { resolvedSecrets, type SecretRegistry } from '../activities/credentials';
import { PROXY_URL_VARIABLES, proxyCredentials } from '../activities/http-client';
import { ConfigError, parseEnvironment } from './config';
import { DEFAULT_METRICS_ADDRESS, METRICS_ADDRESS_VARIABLE, metricsAddressSchema, prometheusExporter } from './metrics';

export const LOG_LEVEL_VARIABLE = 'AUDIT_LOG_LEVEL';

const LOG_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'] as const satisfies readonly LogLevel[];

export interface TelemetryConfig {
  /** Lowest level written, for the worker, the SDK and Core alike. */
  logLevel: LogLevel;
  /** `IP:port` of the Prometheus endpoint; `null` when switched off. */
  metricsBindAddress: string | null;
}

const envSchema = z.object({
  [LOG_LEVEL_VARIABLE]: z
    .string()
    .trim()
    .toUpperCase()
    .pipe(z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ').toLowerCase()}` }))
    .default('INFO'),
  [METRICS_ADDRESS_VARIABLE]: metricsAddressSchema.default(DEFAULT_METRICS_ADDRESS),
});

/** Reads `AUDIT_LOG_LEVEL` and `AUDIT_METRICS_ADDRESS`; a blank value counts as unset, as everywhere in the worker. */
export function loadTelemetryConfig(env: NodeJS.ProcessEnv = process.env): TelemetryConfig {
  const values = parseEnvironment(envSchema, env);
  return { logLevel: values[LOG_LEVEL_VARIABLE], metricsBindAddress: values[METRICS_ADDRESS_VARIABLE] };
}

/**
 * Installs the Runtime with JSON logs and the Prometheus endpoint. Must run before any connection or worker exists.
 *
 * @returns the JSON logger itself, unbuffered, for the worker's own lines and for a fatal error just before exit
 * (the Runtime's logger holds lines back ~100 ms to order them with Core's).
 * @throws ConfigError when the metrics address cannot be bound (in use, or not an address of this host).
 */
export function installTelemetry(config: TelemetryConfig, env: NodeJS.ProcessEnv = process.env): Logger {
  const logger = createJsonLogger({ level: config.logLevel, secrets: secretValuesIn(env) });
  try {
    Runtime.install({
      logger,
      telemetryOptions: {
        // Forwarding sends Core's own lines through `logger` too, instead of Core printing them in its own format.
        logging: { filter: { core: config.logLevel, other: 'ERROR' }, forward: {} },
        metrics: prometheusExporter(config.metricsBindAddress),
      },
    });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    // Core reports a bind failure as "Failed to start prometheus metrics exporter: <OS error>".
    if (config.metricsBindAddress !== null && /prometheus/i.test(message)) {
      const reason = message.replace(/^.*?exporter:\s*/i, '');
      throw new ConfigError(`Invalid configuration: ${METRICS_ADDRESS_VARIABLE} cannot be served: ${reason}`);
    }
    throw err;
  }
  return logger;
}

export interface JsonLoggerOptions {
  /** @default 'INFO' */
  level?: LogLevel;
  /** Strings that must never appear in a line (credential values); each occurrence becomes `[redacted]`. @default [] */
  secrets?: readonly string[];
  /**
   * Credential values resolved while the logger runs; each line is scrubbed of those registered so far.
   * @default resolvedSecrets, the process's own
   */
  resolved?: SecretRegistry;
  /** Receives each line, newline included. @default writes to process.stdout */
  write?: (line: string) => void;
}

/** A Temporal `Logger` that writes one JSON object per line (see {@link formatLogLine}). */
export function createJsonLogger(options: JsonLoggerOptions = {}): Logger {
  const { level = 'INFO', secrets = [], resolved = resolvedSecrets, write = (line: string) => void process.stdout.write(line) } = options;
  const scrub = secretScrubber(secrets, resolved);
  return new DefaultLogger(level, (entry) => write(`${scrub(formatLogLine(entry))}\n`));
}

const REDACTED = '[redacted]';

/** Field names whose values are never written, whatever they hold (HTTP headers, connection options). */
const SENSITIVE_FIELD = /^(authorization|proxy-authorization|cookie|set-cookie|dd-api-key|dd-application-key|x-api-key|api[-_]?key)$|password|secret|token/i;

const MAX_DEPTH = 8;

/**
 * One log entry as a JSON line: `time` (ISO-8601, from the entry's own timestamp, so Core's and the workflows'
 * buffered lines keep their real time), `level` (lower case, as Datadog's status remapper expects), `message`, then
 * the metadata fields. A metadata field named `time`, `level` or `message` cannot replace the entry's own.
 */
export function formatLogLine(entry: LogEntry): string {
  const record: Record<string, unknown> = {
    time: new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString(),
    level: entry.level.toLowerCase(),
    message: entry.message,
  };
  for (const [key, value] of Object.entries(entry.meta ?? {})) {
    if (key in record) continue;
    record[key] = SENSITIVE_FIELD.test(key) ? REDACTED : toLoggable(value, new WeakSet(), 0);
  }
  return JSON.stringify(record);
}

/**
 * A JSON-safe copy of a metadata value. Errors keep only what helps an operator (Datadog's `error.kind`,
 * `error.message`, `error.stack`, the failure type and code, the cause): their other fields (an undici error's
 * socket, a request's options and headers) are dropped. Bytes are never written, only their length.
 */
function toLoggable(value: unknown, seen: WeakSet<object>, depth: number): unknown {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (typeof value === 'bigint') return value.toString();
  if (typeof value !== 'object') return undefined;
  if (depth >= MAX_DEPTH) return '[truncated]';
  if (seen.has(value)) return '[circular]';
  seen.add(value);
  if (value instanceof Error) return errorFields(value, seen, depth);
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return `[${value.byteLength} bytes]`;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? String(value) : value.toISOString();
  if (Array.isArray(value)) return value.map((item) => toLoggable(item, seen, depth + 1));
  return Object.fromEntries(
    Object.entries(value).map(([key, item]) => [key, SENSITIVE_FIELD.test(key) ? REDACTED : toLoggable(item, seen, depth + 1)])
  );
}

function errorFields(error: Error, seen: WeakSet<object>, depth: number): Record<string, unknown> {
  const code = (error as { code?: unknown }).code;
  return {
    kind: error.name,
    message: error.message,
    ...(error instanceof ApplicationFailure && error.type ? { type: error.type } : {}),
    ...(typeof code === 'string' || typeof code === 'number' ? { code } : {}),
    ...(error.stack ? { stack: error.stack } : {}),
    ...(error.cause !== undefined ? { cause: toLoggable(error.cause, seen, depth + 1) } : {}),
  };
}

/** Names of environment variables that hold credentials, by convention (`*_API_KEY`, `AUDIT_PAYLOAD_KEY`, ...). */
const SECRET_VARIABLE = /KEY|TOKEN|SECRET|PASSWORD|PASSWD/i;
/** ...except those that only point at a credential (`TEMPORAL_TLS_CLIENT_KEY_PATH`). */
const REFERENCE_VARIABLE = /_(PATH|FILE)$/i;
/** Shorter values are not credentials, and scrubbing them would garble ordinary words. */
const MIN_SECRET_LENGTH = 8;

/**
 * The credential values held in the worker's environment: the Atlassian and Datadog keys (including any other
 * variable a credential reference `env:NAME` may point at, named by the same convention), the Temporal API key and
 * TLS key data, the payload keys (`AUDIT_PAYLOAD_OLD_KEYS` is a comma-separated list: each key counts), and the
 * credentials in a proxy URL (`HTTPS_PROXY`, ... are not named like secrets), in each form they may take.
 */
export function secretValuesIn(env: NodeJS.ProcessEnv): string[] {
  const values = Object.entries(env)
    .filter(([name]) => SECRET_VARIABLE.test(name) && !REFERENCE_VARIABLE.test(name))
    .flatMap(([, value]) => [value ?? '', ...(value ?? '').split(/[\s,]+/)])
    .concat(proxyCredentials(PROXY_URL_VARIABLES.map((name) => env[name])))
    .map((value) => value.trim())
    .filter((value) => value.length >= MIN_SECRET_LENGTH);
  return [...new Set(values)];
}

function secretScrubber(secrets: readonly string[], resolved: SecretRegistry): (line: string) => string {
  let formsFor = -1;
  let forms: string[] = [];
  return (line) => {
    // The registry only grows: its size says whether the forms must be worked out again.
    if (resolved.size !== formsFor) {
      formsFor = resolved.size;
      forms = scrubbedForms([...secrets, ...resolved.values().filter((value) => value.length >= MIN_SECRET_LENGTH)]);
    }
    return forms.reduce((text, form) => (text.includes(form) ? text.split(form).join(REDACTED) : text), line);
  };
}

/**
 * A value is looked for as written and as JSON escapes it inside a string; longest first, so a key that contains
 * another is replaced whole.
 */
function scrubbedForms(secrets: readonly string[]): string[] {
  return [...new Set(secrets.flatMap((secret) => [secret, JSON.stringify(secret).slice(1, -1)]))].sort((a, b) => b.length - a.length);
}
