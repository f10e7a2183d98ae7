/**
 * Datadog accepts a log above 1,000,000 bytes but truncates it (reference §1.4), cutting wherever the bytes run out,
 * possibly in the middle of the original event. We cut first, visibly and at value boundaries: while the
 * serialised log is above the limit, drop the largest removable part, where removable means
 *
 * - a part of the original event that does not identify it: anything but `id`, `type` and
 *   `attributes.{time, processedAt, action, actor, location}`, so in practice `attributes.context` or
 *   `attributes.container`;
 * - an `atlassian.*` attribute other than the event's identity (`event_id`, `org_id`, `time`, `processed_at`,
 *   `action`, `action_display_name`, `parse_error`): a copy such as `atlassian.message`, or a malformed
 *   element's `raw` text;
 * - last of all, what is left of `atlassian.event` (its identity is also in `atlassian.*`).
 *
 * On equal sizes the event's copy goes before ours (`atlassian.event.message` before `atlassian.message`).
 * Whole values are removed, never a part of a string, and every removal is listed in
 * `atlassian.truncated = { reason, limit_bytes, original_bytes, removed: [dotted paths] }` with status `warn`.
 * The root `message` and the standard `usr`/`network`/`evt` attributes are never cut: the map keeps them small
 * (the message is capped), so in practice the cut always fits; if a pathological actor name still does not, the
 * log goes out as small as we could make it and Datadog truncates the rest.
 */
import { fitAttributeLimits } from './attribute-limits';
import type { DatadogLog } from './datadog-log';

/** 100 KB under Datadog's 1 MB: room for what the intake adds (host, tags) and for JSON escaping differences. */
export const DEFAULT_MAX_LOG_BYTES = 900_000;

const EVENT_IDENTITY_KEYS: readonly string[] = ['id', 'type', 'attributes'];
const EVENT_IDENTITY_ATTRIBUTE_KEYS: readonly string[] = ['time', 'processedAt', 'action', 'actor', 'location'];
const NEVER_CUT_ATLASSIAN_KEYS: readonly string[] = [
  'event_id',
  'org_id',
  'time',
  'processed_at',
  'action',
  'action_display_name',
  'parse_error',
  'truncated',
];

type PartPath = readonly [string, ...string[]];

/**
 * The log as it will be sent: within Datadog's attribute limits (see attribute-limits.ts) and, when its JSON is
 * above `maxBytes`, cut as described above.
 */
export function cutOversizedLog(log: DatadogLog, maxBytes: number = DEFAULT_MAX_LOG_BYTES): DatadogLog {
  const whole = fitAttributeLimits(log);
  const originalBytes = serializedBytes(whole);
  if (originalBytes <= maxBytes) return whole;

  const removed: string[] = [];
  let remaining = log;
  const cut = () =>
    fitAttributeLimits({
      ...remaining,
      status: 'warn',
      atlassian: {
        ...remaining.atlassian,
        truncated: {
          reason: 'log_over_size_limit',
          limit_bytes: maxBytes,
          original_bytes: originalBytes,
          removed: [...removed],
        },
      },
    });
  for (let part = largestRemovablePart(remaining); part; part = largestRemovablePart(remaining)) {
    remaining = withoutPart(remaining, part);
    removed.push(part.join('.'));
    const candidate = cut();
    if (serializedBytes(candidate) <= maxBytes) return candidate;
  }
  return cut();
}

function largestRemovablePart(log: DatadogLog): PartPath | undefined {
  const event = asRecord(log.atlassian.event);
  const eventParts: PartPath[] = event
    ? [
        ...Object.keys(event)
          .filter((key) => !EVENT_IDENTITY_KEYS.includes(key))
          .map((key): PartPath => ['atlassian', 'event', key]),
        ...Object.keys(asRecord(event.attributes) ?? {})
          .filter((key) => !EVENT_IDENTITY_ATTRIBUTE_KEYS.includes(key))
          .map((key): PartPath => ['atlassian', 'event', 'attributes', key]),
      ]
    : [];
  const atlassianParts = Object.keys(log.atlassian)
    .filter((key) => key !== 'event' && !NEVER_CUT_ATLASSIAN_KEYS.includes(key))
    .map((key): PartPath => ['atlassian', key]);
  const lastResort: PartPath | undefined = event ? ['atlassian', 'event'] : undefined;
  return largest(log, [...eventParts, ...atlassianParts]) ?? lastResort;
}

/** The largest part; among equals the first listed, which is why event parts are listed first. */
function largest(log: DatadogLog, parts: readonly PartPath[]): PartPath | undefined {
  const sized = parts.map((part) => ({ part, bytes: serializedBytes(valueAt(log, part)) }));
  // Array.prototype.sort is stable, so equal sizes keep their listed order.
  return sized.sort((a, b) => b.bytes - a.bytes)[0]?.part;
}

function valueAt(root: unknown, path: readonly string[]): unknown {
  return path.reduce<unknown>((value, key) => asRecord(value)?.[key], root);
}

/** A copy of `value` without the part at `path`; everything off the path is shared, not copied. */
function withoutPart<T>(value: T, path: readonly string[]): T {
  const [key, ...rest] = path;
  const record = asRecord(value);
  if (key === undefined || record === undefined) return value;
  if (rest.length === 0) {
    const { [key]: _removed, ...others } = record;
    return others as T;
  }
  return { ...record, [key]: withoutPart(record[key], rest) } as T;
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

function serializedBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value) ?? '', 'utf8');
}
