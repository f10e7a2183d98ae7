import type { LogLevel } from '@temporalio/common';

const LEVELS: readonly LogLevel[] = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'];

/**
 * `AUDIT_TEST_LOG_LEVEL`, what a test run prints besides jest's report:
 * - unset (the default): nothing more. The Temporal SDK's logs (worker state changes, every activity failure a test
 *   provokes on purpose) and the tests' console.log/info/debug lines are kept per test and printed only for a test,
 *   or a beforeAll/afterAll hook, that fails; console.warn and console.error print as ever.
 * - TRACE, DEBUG, INFO, WARN or ERROR: the SDK logs at that level and above live on stderr, and console output prints
 *   as jest prints it, e.g. `AUDIT_TEST_LOG_LEVEL=INFO npm test`.
 * Read by the test environment (test-output-environment.ts) and by the workflow tests' setup (sdk-log-setup.ts).
 */
export function testLogLevel(): LogLevel | undefined {
  const raw = process.env.AUDIT_TEST_LOG_LEVEL?.trim().toUpperCase();
  if (!raw) return undefined;
  if (!(LEVELS as readonly string[]).includes(raw)) throw new Error(`AUDIT_TEST_LOG_LEVEL must be one of ${LEVELS.join(', ')}, or unset`);
  return raw as LogLevel;
}
