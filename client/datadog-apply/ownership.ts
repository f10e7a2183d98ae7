/**
 * How apply recognises the Datadog objects it manages. A name alone is not enough: an operator may have imported the
 * same JSON by hand, or written a rule that happens to share a name, and apply must never overwrite what it did not
 * create. So every object it writes also carries a marker: a tag where the API keeps free-form `key:value` tags (log
 * pipelines, detection rules, monitors), and a line in the description for dashboards, whose `tags` only accept
 * `team:` values.
 */
import type { DefinitionKind, JsonObject } from './definition-kind';

export const MANAGED_BY_TAG = 'managed-by:atlassian-audit';

const DASHBOARD_MARKER_NOTE =
  `${MANAGED_BY_TAG}: kept in step with the project's datadog/dashboard.json by \`atlassian-audit datadog apply\`; ` +
  'edits made here are replaced on the next apply.';

/** The body to send: the definition plus the marker (added once, whatever the file already holds). */
export function withOwnershipMarker(kind: DefinitionKind, body: JsonObject): JsonObject {
  if (kind === 'dashboard') {
    const description = typeof body.description === 'string' ? body.description : '';
    if (description.includes(MANAGED_BY_TAG)) return body;
    return { ...body, description: description === '' ? DASHBOARD_MARKER_NOTE : `${description}\n\n${DASHBOARD_MARKER_NOTE}` };
  }
  const tags = Array.isArray(body.tags) ? body.tags.filter((tag): tag is string => typeof tag === 'string') : [];
  // Sorted, so that a server that stores tags sorted still agrees with what apply compares against.
  return { ...body, tags: [...new Set([...tags, MANAGED_BY_TAG])].sort() };
}

/** Whether an object found in the account carries the marker, i.e. was written by apply. */
export function carriesOwnershipMarker(kind: DefinitionKind, remote: JsonObject): boolean {
  if (kind === 'dashboard') return typeof remote.description === 'string' && remote.description.includes(MANAGED_BY_TAG);
  return Array.isArray(remote.tags) && remote.tags.includes(MANAGED_BY_TAG);
}

/** What an operator does to let apply take over an object it did not create. */
export function howToMarkAsManaged(kind: DefinitionKind): string {
  return kind === 'dashboard' ? `add "${MANAGED_BY_TAG}" to its description` : `add the tag ${MANAGED_BY_TAG}`;
}
