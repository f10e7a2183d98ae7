/**
 * Tests run the project's real entry points (`npm run worker`, the client, the demo) as child processes through the
 * harness (dev/harness/processes.ts), as the reliability run runs its workers.
 */
export { runEntryPoint, startEntryPoint, type RunningProcess } from '../../dev/harness/processes';
