/**
 * Compares a definition with what the account holds, on the fields the definition sets and only those. Datadog adds
 * its own fields to everything it stores (ids, authors, timestamps, widget ids, option defaults): comparing whole
 * objects would make every run an update. Arrays are compared element by element and must keep their length, so a
 * removed widget, query or processor is still a change.
 *
 * Accepted limitation: a key deleted from a local object is not seen as a change, because it looks exactly like a
 * field the server added. To undo a setting, set it back to its default explicitly.
 */

/** Paths (`options.evaluationWindow`, `widgets[3].definition.title`) where `actual` differs from `desired`. */
export function differingOwnedFields(desired: unknown, actual: unknown, at = ''): string[] {
  if (Array.isArray(desired)) {
    if (!Array.isArray(actual) || actual.length !== desired.length) return [at];
    return desired.flatMap((element, index) => differingOwnedFields(element, actual[index], `${at}[${index}]`));
  }
  if (isPlainObject(desired)) {
    if (!isPlainObject(actual)) return [at];
    return Object.entries(desired).flatMap(([key, value]) =>
      differingOwnedFields(value, actual[key], at === '' ? key : `${at}.${key}`)
    );
  }
  return desired === actual ? [] : [at];
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
