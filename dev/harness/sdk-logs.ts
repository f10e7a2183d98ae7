/**
 * The Temporal SDK's own logs (worker state changes at INFO, every failed activity attempt at WARN, and the Rust
 * core's lines) where the harness runs workers in its own process: tests, benchmarks, measurements.
 */
import { inspect } from 'node:util';
import { DefaultLogger, type LogEntry, type LogLevel, type RuntimeOptions } from '@temporalio/worker';

/**
 * Runtime options that log at `level` and above through `logFunction` (stderr by default). The core's logs are
 * forwarded to the same logger at the same level, so that none reach the terminal past it.
 */
export function sdkRuntimeOptions(level: LogLevel, logFunction?: (entry: LogEntry) => void): RuntimeOptions {
  return {
    logger: new DefaultLogger(level, logFunction),
    telemetryOptions: { logging: { forward: {}, filter: { core: level, other: 'ERROR' } } },
  };
}

/** One line per entry, as the SDK's default log function writes it but without colours or line breaks in the metadata. */
export function formatLogEntry({ level, message, meta, timestampNanos }: LogEntry): string {
  const time = new Date(Number(timestampNanos / 1_000_000n)).toISOString();
  return `${time} [${level}] ${message}${meta === undefined ? '' : ` ${inspect(meta, { breakLength: Infinity })}`}`;
}
