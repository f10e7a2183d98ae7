/** The run's result tables, printed aligned: one row per fault, and one per liveness case. */
import { seconds } from '../bench/number-format';

export interface Row {
  fault: string;
  injected: number;
  expected: number;
  delivered: number;
  lost: number;
  duplicated: number;
  /** From the fault to the next event Datadog received from the org; the worst one when there were several. */
  recoveryMs: number | null;
}

export function printTable(rows: readonly Row[]): void {
  printAligned(
    ['fault', 'injected', 'expected', 'delivered', 'lost', 'duplicated', 'time to recover'],
    rows.map((r) => [
      r.fault,
      String(r.injected),
      String(r.expected),
      String(r.delivered),
      String(r.lost),
      String(r.duplicated),
      r.recoveryMs === null ? '—' : seconds(r.recoveryMs),
    ])
  );
}

/** One liveness case: did the org stop, did it say why, what reached Datadog, and the org beside it. */
export interface LivenessRow {
  case: string;
  /** Longest stretch in which the org had events waiting in Atlassian and Datadog received none of them. */
  longestWaitMs: number;
  /** What `status` (or the client) said about the trouble, and how long after it began; null: nothing in time. */
  report: { said: string; afterMs: number } | null;
  expected: number;
  lost: number;
  duplicated: number;
  /** From `from` (the fault, or the operator's remedy) to the next event Datadog received from the org. */
  recovery: { ms: number | null; from: string } | null;
  /** The healthy org's events added during the trouble, and how long until the last of them arrived. */
  otherOrg: { expected: number; delivered: number; ms: number | null };
  /** Printed under the table: what the org said in full, and what the case saw besides. */
  notes: string[];
}

/** An org that went this long without delivering any waiting event counts as stuck (see liveness.ts). */
export function isStuck(row: LivenessRow, stuckAfterMs: number): boolean {
  return row.longestWaitMs > stuckAfterMs;
}

export function printLivenessTable(rows: readonly LivenessRow[], stuckAfterMs: number): void {
  printAligned(
    ['case', 'stuck? (longest wait)', 'reported?', 'lost', 'duplicated', 'time to recover', 'other org'],
    rows.map((r) => [
      r.case,
      `${isStuck(r, stuckAfterMs) ? 'yes' : 'no'} (${seconds(r.longestWaitMs)})`,
      r.report === null ? 'NO' : `${r.report.said}, ${seconds(r.report.afterMs)}`,
      `${r.lost}/${r.expected}`,
      String(r.duplicated),
      r.recovery === null ? '—' : r.recovery.ms === null ? `never (from ${r.recovery.from})` : `${seconds(r.recovery.ms)} from ${r.recovery.from}`,
      `${r.otherOrg.delivered}/${r.otherOrg.expected}` + (r.otherOrg.ms === null ? '' : ` in ${seconds(r.otherOrg.ms)}`),
    ]),
    3
  );
}

/** Under a header and a rule; the first `textColumns` columns left-aligned, the figures after them right-aligned. */
function printAligned(header: readonly string[], cells: readonly string[][], textColumns = 1): void {
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (values: readonly string[]) => values.map((v, i) => (i < textColumns ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of cells) console.log(line(row));
}
