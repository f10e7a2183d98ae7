/** Tests take ports from the harness (dev/harness/ports.ts), which the benchmarks, the reliability run and the demo share. */
export { freePort, isPortFree } from '../../dev/harness/ports';
