/**
 * Datadog tag rules (docs.datadoghq.com/getting_started/tagging): tags are lowercase, may hold letters, digits,
 * `_ - : . /`, other characters are turned into underscores, and a tag is at most 200 characters. A comma would
 * split the comma-joined `ddtags` string, so it must never survive in a value.
 */

const MAX_TAG_CHARS = 200;
const CHARACTERS_NOT_ALLOWED_IN_TAGS = /[^\p{L}\p{N}_\-:./]+/gu;

/**
 * `key:value` with the value made tag-safe, or undefined when nothing of the value survives (a tag `site:` with an
 * empty value would only add noise). Keys are our own constants and already valid.
 */
export function datadogTag(key: string, value: string): string | undefined {
  const safeValue = value
    .toLowerCase()
    .replace(CHARACTERS_NOT_ALLOWED_IN_TAGS, '_')
    .replace(/_{2,}/g, '_')
    .replace(/^_+|_+$/g, '');
  if (safeValue === '') return undefined;
  return Array.from(`${key}:${safeValue}`).slice(0, MAX_TAG_CHARS).join('');
}

/** The `ddtags` string: distinct tags in their first-seen order, comma-joined. */
export function joinDatadogTags(tags: readonly (string | undefined)[]): string {
  const present = tags.filter((tag): tag is string => tag !== undefined);
  return [...new Set(present)].join(',');
}
