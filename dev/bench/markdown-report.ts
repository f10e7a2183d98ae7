/** Benchmark results as markdown: one section per benchmark, a table of targets at the top. */
import type { BenchmarkResult, Table } from './benchmark';

export interface RunDescription {
  generatedAt: string;
  machine: string;
  command: string;
}

export function markdownTable(table: Table): string {
  const escape = (cell: string) => cell.replace(/\|/g, '\\|');
  const lines = [
    `| ${table.columns.map(escape).join(' | ')} |`,
    `|${table.columns.map(() => '---').join('|')}|`,
    ...table.rows.map((row) => `| ${row.map(escape).join(' | ')} |`),
  ];
  return `**${table.title}**\n\n${lines.join('\n')}`;
}

export function markdownSection(result: BenchmarkResult): string {
  const settings = Object.entries(result.settings)
    .map(([key, value]) => `${key} ${String(value)}`)
    .join(', ');
  const parts = [
    `## ${result.title}`,
    `_${result.quick ? 'quick (smoke) run' : 'full run'}, ${result.startedAt}, ${result.durationSeconds.toFixed(0)} s; ${settings}_`,
    ...result.tables.map(markdownTable),
  ];
  if (result.targets.length > 0) {
    parts.push(
      markdownTable({
        title: 'Targets',
        columns: ['target', 'measured', 'met', 'why'],
        rows: result.targets.map((check) => [check.target, check.measured, check.met ? 'yes' : 'no', check.reason]),
      })
    );
  }
  if (result.findings.length > 0) parts.push(`What limits these figures:\n\n${result.findings.map((line) => `- ${line}`).join('\n')}`);
  return parts.join('\n\n');
}

export function markdownReport(results: readonly BenchmarkResult[], run: RunDescription): string {
  const targets = results.flatMap((result) => result.targets.map((check) => ({ result, check })));
  const summary = markdownTable({
    title: 'Targets at a glance',
    columns: ['benchmark', 'target', 'measured', 'met'],
    rows: targets.map(({ result, check }) => [result.title, check.target, check.measured, check.met ? 'yes' : 'no']),
  });
  return [
    '# Benchmark results',
    `Generated ${run.generatedAt} by \`${run.command}\` on ${run.machine}. The machine is shared with other work, so ` +
      'every figure stands beside a baseline measured in the same run; read ratios before absolute numbers.',
    summary,
    ...results.map(markdownSection),
  ].join('\n\n');
}
