/** What every benchmark is given and what it hands back for the printed tables and the results files. */

export interface BenchmarkContext {
  /** Small sizes and short windows: a smoke run that checks the benchmark works, not a measurement. */
  readonly quick: boolean;
  /** Progress lines on stderr, so that stdout carries only the tables. */
  log(line: string): void;
}

export interface Table {
  readonly title: string;
  readonly columns: readonly string[];
  readonly rows: ReadonlyArray<readonly string[]>;
}

/** A target from the design brief and whether this run met it. */
export interface TargetCheck {
  readonly target: string;
  readonly measured: string;
  readonly met: boolean;
  /** Why it was met or missed: where the time (or the budget, or the actions) went. */
  readonly reason: string;
}

export interface BenchmarkOutcome {
  /** The sizes and settings this run used, so that a figure is never read without them. */
  readonly settings: Readonly<Record<string, string | number | boolean>>;
  readonly tables: readonly Table[];
  readonly targets: readonly TargetCheck[];
  /** What limits each figure, in sentences that carry this run's own numbers. */
  readonly findings: readonly string[];
  /** The raw numbers behind the tables, for the JSON file. */
  readonly data: unknown;
}

export interface Benchmark {
  readonly name: string;
  readonly title: string;
  run(context: BenchmarkContext): Promise<BenchmarkOutcome>;
}

export interface BenchmarkResult extends BenchmarkOutcome {
  readonly name: string;
  readonly title: string;
  readonly startedAt: string;
  readonly durationSeconds: number;
  readonly quick: boolean;
}
