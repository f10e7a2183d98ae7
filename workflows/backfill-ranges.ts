/**
 * Backfill ranges: validation and merging. Pure and deterministic, shared by the workflow's Update validator and
 * the client (which refuses bad input before contacting Temporal).
 */

/** Atlassian keeps the organization audit log for 180 days (reference atlassian-org-audit-api.md §7). */
export const ATLASSIAN_RETENTION_MS = 180 * 24 * 3_600_000;

import type { BackfillRequest } from './messages';

export interface TimeRange {
  from: number;
  to: number;
}

/** A time or range that cannot be worked; `field` names the bound at fault, so a caller can name its own flag. */
export class InvalidBackfillRangeError extends Error {
  override readonly name = 'InvalidBackfillRangeError';
  constructor(
    message: string,
    readonly field?: 'from' | 'to'
  ) {
    super(message);
  }
}

export interface BackfillLimits {
  now: number;
  /** The tail delivers every event from this time on; backfill covers what lies before it. */
  tailFrom: number;
  /** @default ATLASSIAN_RETENTION_MS */
  retentionMs?: number;
}

/**
 * ISO-8601 as operators type it: a date (midnight UTC), or a date and time with an offset (`Z`, `+02:00`). A time
 * without an offset is refused rather than read in the worker's or the operator's local zone, and a date that
 * does not exist (2026-02-31) is refused rather than rolled into March.
 */
const ISO_INSTANT = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2}))?$/;

export function parseInstant(value: string | number, field?: 'from' | 'to'): number {
  const ms = typeof value === 'number' ? value : parseIsoStrict(value);
  if (!Number.isFinite(ms)) {
    throw new InvalidBackfillRangeError(
      `is not a valid time: expected ISO-8601 with an offset, like 2026-11-20 or 2026-11-20T08:00:00Z`,
      field
    );
  }
  return ms;
}

function parseIsoStrict(value: string): number {
  const match = ISO_INSTANT.exec(value);
  if (!match) return Number.NaN;
  const [year, month, day, hour = 0, minute = 0, second = 0] = match.slice(1, 7).map((part) => Number(part ?? 0));
  const daysInMonth = new Date(Date.UTC(year!, month!, 0)).getUTCDate();
  if (month! < 1 || month! > 12 || day! < 1 || day! > daysInMonth || hour > 23 || minute > 59 || second > 59) return Number.NaN;
  return Date.parse(match[4] === undefined ? `${value}T00:00:00Z` : value);
}

/**
 * The error as one line, its bounds named as the caller calls them (`--from` on the command line): the bound at
 * fault first, and any `{from}` / `{to}` in the message.
 */
export function rangeErrorMessage(err: InvalidBackfillRangeError, name: (field: 'from' | 'to') => string = (field) => field): string {
  const message = err.message.replace(/\{(from|to)\}/g, (_, field: 'from' | 'to') => name(field));
  return err.field ? `${name(err.field)} ${message}` : message;
}

/** Validates a request against the clock, Atlassian's retention and the tail's start; returns the range to work. */
export function validateBackfillRequest(request: BackfillRequest, limits: BackfillLimits): TimeRange {
  const from = parseInstant(request.from, 'from');
  const to = parseInstant(request.to, 'to');
  const retentionMs = limits.retentionMs ?? ATLASSIAN_RETENTION_MS;
  if (from >= to) throw new InvalidBackfillRangeError(`must be before {to} (got ${iso(from)} and ${iso(to)})`, 'from');
  if (to > limits.now) throw new InvalidBackfillRangeError(`is in the future (${iso(to)})`, 'to');
  const oldest = limits.now - retentionMs;
  if (from < oldest) {
    throw new InvalidBackfillRangeError(
      `${iso(from)} is older than Atlassian's ${Math.round(retentionMs / 86_400_000)}-day retention (oldest: ${iso(oldest)})`,
      'from'
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
