/**
 * MockActivityEnvironment for unit tests, logging as the workflow tests' workers do (sdk-log-setup.ts): through the
 * test's console.log, which the test environment keeps and prints only for a failed test, unless
 * AUDIT_TEST_LOG_LEVEL asks for the logs live. The SDK's own default writes every provoked failure to stderr.
 */
import type { Info } from '@temporalio/activity';
import { MockActivityEnvironment, type MockActivityEnvironmentOptions } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { formatLogEntry } from '../../dev/harness/sdk-logs';
import { testLogLevel } from './test-log-level';

export function activityEnvironment(info?: Partial<Info>, options: MockActivityEnvironmentOptions = {}): MockActivityEnvironment {
  const level = testLogLevel();
  const logger = level ? new DefaultLogger(level) : new DefaultLogger('INFO', (entry) => console.log(formatLogEntry(entry)));
  return new MockActivityEnvironment(info, { logger, ...options });
}
