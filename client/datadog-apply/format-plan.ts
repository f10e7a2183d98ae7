/** The plan as the operator reads it: one line per definition, then a count. */
import { DEFINITION_KIND_LABELS, type DefinitionKind } from './definition-kind';
import { countByAction, type Plan, type PlannedChange } from './plan';

/** Changed fields listed before "+N more": enough to recognise the edit without flooding the terminal. */
const MAX_FIELDS_SHOWN = 6;

const ACTION_WIDTH = 'left alone'.length;
const KIND_WIDTH = Math.max(...Object.values(DEFINITION_KIND_LABELS).map((label) => label.length));

export function formatPlanLines(plan: Plan): string[] {
  return [
    ...plan.changes.map(formatChange),
    ...plan.leftAlone.map(
      (remote) =>
        `${column('left alone', remote.kind)}"${remote.name}" (id ${remote.id}): managed by atlassian-audit but no longer ` +
        'defined locally; apply never deletes, remove it by hand if unwanted'
    ),
  ];
}

export function formatPlanSummary(plan: Plan): string {
  const counts = countByAction(plan);
  const parts = [`${counts.create} to create`, `${counts.update} to update`, `${counts.unchanged} unchanged`];
  if (counts.conflict > 0) parts.push(`${counts.conflict} in conflict`);
  if (plan.leftAlone.length > 0) parts.push(`${plan.leftAlone.length} left alone`);
  return `Plan: ${parts.join(', ')}.`;
}

/** The line printed once a create or update went through. */
export function formatWrite(action: 'created' | 'updated', kind: DefinitionKind, name: string, id: string): string {
  return `${column(action, kind)}"${name}" (id ${id})`;
}

function formatChange(change: PlannedChange): string {
  const { definition } = change;
  const start = `${column(change.action, definition.kind)}"${definition.name}"`;
  switch (change.action) {
    case 'create':
      return `${start} from ${definition.file}`;
    case 'update':
      return `${start} (id ${change.remoteId}): ${listFields(change.changedFields)}`;
    case 'unchanged':
      return `${start} (id ${change.remoteId})`;
    case 'conflict':
      return `${start}: ${change.reason}`;
  }
}

function listFields(fields: readonly string[]): string {
  const shown = fields.slice(0, MAX_FIELDS_SHOWN).join(', ');
  return fields.length > MAX_FIELDS_SHOWN ? `${shown} +${fields.length - MAX_FIELDS_SHOWN} more` : shown;
}

function column(action: string, kind: DefinitionKind): string {
  return `  ${action.padEnd(ACTION_WIDTH)}  ${DEFINITION_KIND_LABELS[kind].padEnd(KIND_WIDTH)}  `;
}
