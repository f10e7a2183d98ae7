/**
 * Decides, for each local definition, what apply does in the account: create it, update it, leave it unchanged, or
 * refuse (a conflict). An object is ours when its name (title for a dashboard) matches and it carries the managed-by
 * marker; a same-named object without the marker belongs to someone else and is never overwritten. Apply never
 * deletes: a managed object no local definition names any more is only reported.
 */
import type { LocalDefinition } from './definitions';
import { DEFINITION_KIND_LABELS } from './definition-kind';
import { differingOwnedFields } from './owned-fields';
import { MANAGED_BY_TAG, howToMarkAsManaged } from './ownership';
import type { RemoteDefinition } from './remote-state';

export type PlannedChange =
  | { readonly action: 'create'; readonly definition: LocalDefinition }
  | {
      readonly action: 'update';
      readonly definition: LocalDefinition;
      readonly remoteId: string;
      /** Paths of the owned fields that differ, e.g. `options.evaluationWindow`. */
      readonly changedFields: readonly string[];
    }
  | { readonly action: 'unchanged'; readonly definition: LocalDefinition; readonly remoteId: string }
  | { readonly action: 'conflict'; readonly definition: LocalDefinition; readonly reason: string };

export type PlannedAction = PlannedChange['action'];

export interface Plan {
  /** One per local definition, in their order. */
  readonly changes: readonly PlannedChange[];
  /** Managed objects that no local definition names (renamed or removed from datadog/). */
  readonly leftAlone: readonly RemoteDefinition[];
}

export function planChanges(local: readonly LocalDefinition[], remote: readonly RemoteDefinition[]): Plan {
  const changes = local.map((definition) =>
    planOne(
      definition,
      remote.filter((candidate) => candidate.kind === definition.kind && candidate.name === definition.name)
    )
  );
  const localKeys = new Set(local.map((definition) => `${definition.kind}\n${definition.name}`));
  const leftAlone = remote.filter((candidate) => candidate.managed && !localKeys.has(`${candidate.kind}\n${candidate.name}`));
  return { changes, leftAlone };
}

export function countByAction(plan: Plan): Record<PlannedAction, number> {
  const counts: Record<PlannedAction, number> = { create: 0, update: 0, unchanged: 0, conflict: 0 };
  for (const change of plan.changes) counts[change.action]++;
  return counts;
}

function planOne(definition: LocalDefinition, sameName: readonly RemoteDefinition[]): PlannedChange {
  const label = DEFINITION_KIND_LABELS[definition.kind];
  const managed = sameName.filter((candidate) => candidate.managed);
  if (managed.length > 1) {
    const ids = managed.map((candidate) => candidate.id).join(', ');
    return { action: 'conflict', definition, reason: `${managed.length} managed ${label}s have this name (${ids}): delete all but one` };
  }
  const [ours] = managed;
  if (ours === undefined) {
    const [someoneElses] = sameName;
    if (someoneElses === undefined) return { action: 'create', definition };
    return {
      action: 'conflict',
      definition,
      reason: `a ${label} with this name exists (id ${someoneElses.id}) without ${MANAGED_BY_TAG}: rename or delete it, or ${howToMarkAsManaged(definition.kind)} to let apply manage it`,
    };
  }
  const changedFields = differingOwnedFields(definition.body, ours.body);
  return changedFields.length === 0
    ? { action: 'unchanged', definition, remoteId: ours.id }
    : { action: 'update', definition, remoteId: ours.id, changedFields };
}
