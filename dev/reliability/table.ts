/** The run's result table: one row per fault, printed aligned. */
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
  const header = ['fault', 'injected', 'expected', 'delivered', 'lost', 'duplicated', 'time to recover'];
  const cells = rows.map((r) => [
    r.fault,
    String(r.injected),
    String(r.expected),
    String(r.delivered),
    String(r.lost),
    String(r.duplicated),
    r.recoveryMs === null ? '—' : seconds(r.recoveryMs),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (values: string[]) => values.map((v, i) => (i === 0 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of cells) console.log(line(row));
}
