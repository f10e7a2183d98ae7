/**
 * Everything a workflow test needs: the shared dev server (started by the global setup), the two stand-ins, a
 * task queue of its own, and a real worker built by the same factory as `npm run worker`. The pieces live in
 * dev/harness/, which the benchmarks, the reliability run and the measurements share; this is the tests' entry.
 */
export { AuditHarness, type HarnessOptions } from '../../dev/harness/audit-harness';
export { workflowBundle } from '../../dev/harness/collector';
export { TEST_KEYS, WORKER_ENV } from '../../dev/harness/keys';
export { waitUntil } from '../../dev/harness/wait';

/** Every ID seen before: the tests' exactly-once check reads better as "no ID twice, none missing". */
export function duplicatesOf(ids: readonly string[]): string[] {
  const seen = new Set<string>();
  return ids.filter((id) => (seen.has(id) ? true : (seen.add(id), false)));
}
