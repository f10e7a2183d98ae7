/**
 * Datadog's per-log attribute limits (reference §1.4): fewer than 256 attributes, keys shorter than 50 characters,
 * nesting under 10 levels; a log beyond them "may be transformed, truncated, or not indexed".
 *
 * Everything we add ourselves is small and fixed. The one part whose shape we do not control is the original
 * Atlassian event: the attributes of `context[]` and `container[]` items are free-form. When the log would break a
 * limit, the event travels as one JSON string in `atlassian.event_json` instead of an object in `atlassian.event`:
 * every field is still there, only no longer searchable as separate attributes.
 *
 * How attributes are counted is our reading, not a Datadog definition: an attribute is a distinct dotted path to a
 * value, and array elements share their array's path (Datadog search flattens arrays that way), so 500 users in
 * `context` add the same handful of attributes as one user does.
 */
import type { DatadogLog } from './datadog-log';

const DATADOG_ATTRIBUTE_LIMITS = { maxAttributes: 255, maxDepth: 9, maxKeyChars: 49 } as const;

export function fitAttributeLimits(log: DatadogLog): DatadogLog {
  const { event, ...atlassianWithoutEvent } = log.atlassian;
  if (event === undefined || withinAttributeLimits(log)) return log;
  return { ...log, atlassian: { ...atlassianWithoutEvent, event_json: JSON.stringify(event) } };
}

function withinAttributeLimits(log: DatadogLog): boolean {
  const leafPaths = new Set<string>();
  // Depth-first with an explicit stack; stops at the first limit broken.
  const pending: { readonly value: unknown; readonly path: readonly string[] }[] = [{ value: log, path: [] }];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const { value, path } = next;
    const children = childrenOf(value);
    if (children.length === 0) {
      leafPaths.add(path.join('.'));
      if (leafPaths.size > DATADOG_ATTRIBUTE_LIMITS.maxAttributes) return false;
      continue;
    }
    for (const [key, child] of children) {
      if (key === undefined) {
        pending.push({ value: child, path });
        continue;
      }
      if (key.length > DATADOG_ATTRIBUTE_LIMITS.maxKeyChars || path.length >= DATADOG_ATTRIBUTE_LIMITS.maxDepth) {
        return false;
      }
      pending.push({ value: child, path: [...path, key] });
    }
  }
  return true;
}

/** An object's entries, an array's elements (no key: they share the array's path), nothing for a leaf value. */
function childrenOf(value: unknown): readonly (readonly [string | undefined, unknown])[] {
  if (Array.isArray(value)) return value.map((element) => [undefined, element] as const);
  if (value !== null && typeof value === 'object') return Object.entries(value);
  return [];
}
