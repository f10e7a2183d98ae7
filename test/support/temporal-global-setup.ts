/**
 * Starts one Temporal dev server (the real server, SQLite in memory) for every workflow test file, through
 * @temporalio/testing with the locally built CLI: the SDK's own download cannot be reached from CI machines.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { projectSearchAttributes } from '../../shared/search-attributes';

export const TEMPORAL_ADDRESS_VARIABLE = 'AUDIT_TEST_TEMPORAL_ADDRESS';

export default async function setup(): Promise<void> {
  const cli = execFileSync('bash', [join(__dirname, '../../dev/temporal-cli.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: cli },
      searchAttributes: [...projectSearchAttributes],
    },
  });
  (globalThis as { __temporalTestEnv?: TestWorkflowEnvironment }).__temporalTestEnv = env;
  process.env[TEMPORAL_ADDRESS_VARIABLE] = env.address;
}
