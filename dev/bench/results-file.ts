/**
 * bench-results/latest.json and latest.md. A full run replaces both; `--only` replaces just the benchmarks it ran
 * and keeps the others' last results, so the files always hold one result per benchmark. A quick (smoke) run
 * writes nothing: its small sizes are not measurements.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchmarkResult } from './benchmark';
import { markdownReport, type RunDescription } from './markdown-report';

const RESULTS_DIRECTORY = join(__dirname, '..', '..', 'bench-results');

interface ResultsFile {
  run: RunDescription;
  benchmarks: BenchmarkResult[];
}

/** Merges `results` into the saved ones (in `order`) and writes both files; returns their paths. */
export function saveResults(results: readonly BenchmarkResult[], run: RunDescription, order: readonly string[]): string[] {
  mkdirSync(RESULTS_DIRECTORY, { recursive: true });
  const jsonPath = join(RESULTS_DIRECTORY, 'latest.json');
  const markdownPath = join(RESULTS_DIRECTORY, 'latest.md');
  const previous: BenchmarkResult[] = existsSync(jsonPath) ? (JSON.parse(readFileSync(jsonPath, 'utf8')) as ResultsFile).benchmarks : [];
  const byName = new Map(previous.map((result) => [result.name, result]));
  for (const result of results) byName.set(result.name, result);
  const benchmarks = order.flatMap((name) => byName.get(name) ?? []);
  const file: ResultsFile = { run, benchmarks };
  writeFileSync(jsonPath, `${JSON.stringify(file, null, 2)}\n`);
  writeFileSync(markdownPath, `${markdownReport(benchmarks, run)}\n`);
  return [jsonPath, markdownPath];
}
