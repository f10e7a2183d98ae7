import type { SharedServerGlobal } from './temporal-global-setup';

export default async function teardown(): Promise<void> {
  await (globalThis as SharedServerGlobal).__auditTestServer?.stop();
}
