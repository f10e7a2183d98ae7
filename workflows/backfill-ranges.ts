/**
 * Backfill ranges: validation and merging. Pure and deterministic, shared by the workflow's Update validator and
 * the client (which refuses bad input before contacting Temporal).
 */

/** Atlassian keeps the organization audit log for 180 days (reference atlassian-org-audit-api.md §7). */
export const ATLASSIAN_RETENTION_MS = 180 * 24 * 3_600_000;

export interface BackfillRequest {
  /** Event-time bounds, ISO-8601 or epoch ms: `from` inclusive, `to` exclusive. */
  from: string | number;
  to: string | number;
}

export interface TimeRange {
  from: number;
  to: number;
}

export class InvalidBackfillRangeError extends Error {
  override readonly name = 'InvalidBackfillRangeError';
}

export interface BackfillLimits {
  now: number;
  /** The tail delivers every event from this time on; backfill covers what lies before it. */
  tailFrom: number;
  /** @default ATLASSIAN_RETENTION_MS */
  retentionMs?: number;
}

export function parseInstant(value: string | number, label: string): number {
  const ms = typeof value === 'number' ? value : parseIsoStrict(value);
  if (!Number.isFinite(ms)) {
    throw new InvalidBackfillRangeError(`${label} is not a valid time: expected ISO-8601 like 2026-11-20T00:00:00Z`);
  }
  return ms;
}

function parseIsoStrict(value: string): number {
  // Date.parse accepts many loose forms ("1", "Nov 20"); an operator's typo must not become a silent range.
  if (!/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(value)) return Number.NaN;
  return Date.parse(value);
}

/** Validates a request against the clock, Atlassian's retention and the tail's start; returns the range to work. */
export function validateBackfillRequest(request: BackfillRequest, limits: BackfillLimits): TimeRange {
  const from = parseInstant(request.from, '--from');
  const to = parseInstant(request.to, '--to');
  const retentionMs = limits.retentionMs ?? ATLASSIAN_RETENTION_MS;
  if (from >= to) throw new InvalidBackfillRangeError(`--from must be before --to (got ${iso(from)} and ${iso(to)})`);
  if (to > limits.now) throw new InvalidBackfillRangeError(`--to is in the future (${iso(to)})`);
  const oldest = limits.now - retentionMs;
  if (from < oldest) {
    throw new InvalidBackfillRangeError(
      `--from ${iso(from)} is older than Atlassian's ${Math.round(retentionMs / 86_400_000)}-day retention (oldest: ${iso(oldest)})`
    );
  }
  if (from >= limits.tailFrom) {
    throw new InvalidBackfillRangeError(
      `the range is already covered by the tail, which delivers every event since ${iso(limits.tailFrom)}`
    );
  }
  return { from, to: Math.min(to, limits.tailFrom) };
}

/** The parts of `range` not covered by any of `covered`, in time order. */
export function subtractRanges(range: TimeRange, covered: readonly TimeRange[]): TimeRange[] {
  let pieces: TimeRange[] = [range];
  for (const cut of covered) {
    pieces = pieces.flatMap((piece) => {
      if (cut.to <= piece.from || cut.from >= piece.to) return [piece];
      const left = { from: piece.from, to: Math.max(piece.from, cut.from) };
      const right = { from: Math.min(piece.to, cut.to), to: piece.to };
      return [left, right].filter((r) => r.to > r.from);
    });
  }
  return pieces;
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}
