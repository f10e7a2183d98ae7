import type { TestWorkflowEnvironment } from '@temporalio/testing';

export default async function teardown(): Promise<void> {
  await (globalThis as { __temporalTestEnv?: TestWorkflowEnvironment }).__temporalTestEnv?.teardown();
}
