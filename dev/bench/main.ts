/**
 * `npm run bench`: the collector's benchmarks, each against its own throwaway Temporal dev server and stand-ins.
 * Prints one markdown section per benchmark and, for a full run, writes bench-results/latest.{json,md}.
 *
 *   npm run bench [-- --only pipeline,budget,scale,latency,cost,map] [-- --quick]
 *
 * Benchmarks measure and print; they never assert on time (a shared machine makes any threshold flaky). Targets
 * are reported as met or missed, with the reason.
 */
import { cpus, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { Runtime } from '@temporalio/worker';
import { sdkRuntimeOptions } from '../harness/sdk-logs';
import type { Benchmark, BenchmarkContext, BenchmarkResult } from './benchmark';
import { budgetEfficiencyBenchmark } from './budget-efficiency';
import { costBenchmark } from './cost';
import { deliveryLatencyBenchmark } from './delivery-latency';
import { historyContentOutcome, recordedScans, scanningFor } from './history-content';
import { mapCostBenchmark } from './map-cost';
import { markdownSection } from './markdown-report';
import { pipelineHeadroomBenchmark } from './pipeline-headroom';
import { saveResults } from './results-file';
import { scalePerWorkerBenchmark } from './scale-per-worker';

const BENCHMARKS: readonly Benchmark[] = [
  pipelineHeadroomBenchmark,
  budgetEfficiencyBenchmark,
  scalePerWorkerBenchmark,
  deliveryLatencyBenchmark,
  costBenchmark,
  mapCostBenchmark,
];

/** Not a benchmark of its own: the search of every history the selected benchmarks left (./history-content.ts). */
const HISTORY_CONTENT = { name: 'history', title: '7. Audit content and payload sizes in history (every workflow of this run)' } as const;

function selectedBenchmarks(only: string | undefined): Benchmark[] {
  if (only === undefined) return [...BENCHMARKS];
  const names = only.split(',').map((name) => name.trim()).filter(Boolean);
  const unknown = names.filter((name) => !BENCHMARKS.some((benchmark) => benchmark.name === name));
  if (unknown.length > 0) {
    throw new UsageError(`unknown benchmark ${unknown.join(', ')}; choose from ${BENCHMARKS.map((b) => b.name).join(', ')}`);
  }
  return BENCHMARKS.filter((benchmark) => names.includes(benchmark.name));
}

class UsageError extends Error {}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { only: { type: 'string' }, quick: { type: 'boolean', default: false } },
    strict: true,
    allowPositionals: false,
  });
  const benchmarks = selectedBenchmarks(values.only);
  const quick = values.quick ?? false;
  // The SDK logs every worker start and stop at INFO; only problems belong beside the tables.
  Runtime.install(sdkRuntimeOptions('WARN'));
  const context: BenchmarkContext = { quick, log: (line) => process.stderr.write(`[bench] ${line}\n`) };

  const results: BenchmarkResult[] = [];
  const runStarted = Date.now();
  for (const benchmark of benchmarks) {
    context.log(`${benchmark.title}: starting`);
    scanningFor(benchmark.name);
    const started = Date.now();
    const outcome = await benchmark.run(context);
    const result: BenchmarkResult = {
      name: benchmark.name,
      title: benchmark.title,
      startedAt: new Date(started).toISOString(),
      durationSeconds: (Date.now() - started) / 1000,
      quick,
      ...outcome,
    };
    results.push(result);
    process.stdout.write(`\n${markdownSection(result)}\n`);
    context.log(`${benchmark.title}: done in ${result.durationSeconds.toFixed(0)} s`);
  }
  // Every benchmark's servers were searched before they went (BenchEnvironment.run): one section for all of them.
  if (recordedScans().length > 0) {
    const result: BenchmarkResult = {
      name: HISTORY_CONTENT.name,
      title: HISTORY_CONTENT.title,
      startedAt: new Date(runStarted).toISOString(),
      durationSeconds: (Date.now() - runStarted) / 1000,
      quick,
      ...historyContentOutcome(recordedScans()),
    };
    results.push(result);
    process.stdout.write(`\n${markdownSection(result)}\n`);
  }
  context.log(`all done in ${((Date.now() - runStarted) / 1000).toFixed(0)} s`);

  if (quick) {
    context.log('quick run: results are not written (bench-results/ keeps the last full measurements)');
    return;
  }
  const command = `npm run bench${values.only ? ` -- --only ${values.only}` : ''}`;
  const machine = `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
  const written = saveResults(results, { generatedAt: new Date().toISOString(), machine, command }, [...BENCHMARKS.map((b) => b.name), HISTORY_CONTENT.name]);
  context.log(`wrote ${written.join(' and ')}`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error instanceof UsageError ? `bench: ${error.message}` : error);
    process.exit(error instanceof UsageError ? 2 : 1);
  }
);
