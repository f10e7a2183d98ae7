/**
 * The Temporal SDK's logs in workflow tests (see test-log-level.ts): every entry from INFO up goes to console.info,
 * which the test environment keeps for a test that fails; with AUDIT_TEST_LOG_LEVEL set, they print live at that
 * level. `Runtime.defaultOptions` rather than `Runtime.install`: the options apply when a worker first needs the
 * Runtime, so a test file that runs no worker creates none, and a test may still install a Runtime of its own.
 */
import { Runtime } from '@temporalio/worker';
import { formatLogEntry, sdkRuntimeOptions } from '../../dev/harness/sdk-logs';
import { testLogLevel } from './test-log-level';

const level = testLogLevel();
Runtime.defaultOptions = level ? sdkRuntimeOptions(level) : sdkRuntimeOptions('INFO', (entry) => console.info(formatLogEntry(entry)));
