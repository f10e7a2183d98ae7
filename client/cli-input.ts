/**
 * Validation of everything an operator types, before anything is sent to Temporal. Errors are one line that
 * names the flag; a value that could be a secret is never echoed.
 */
import { msToNumber } from '@temporalio/common/lib/time';
import { z } from 'zod';
import { isCredentialRef } from '../shared/credential-ref';
import { InvalidBackfillRangeError, parseInstant, rangeErrorMessage, validateBackfillRequest, type TimeRange } from '../workflows/backfill-ranges';

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Atlassian org IDs are UUIDs; anything else that could be an ID (letters, digits, hyphens) is let through. */
export const orgIdSchema = z
  .string({ error: '--org is required' })
  .trim()
  .regex(/^[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?$/, {
    error: '--org must be an Atlassian organization ID (letters, digits and hyphens, as in admin.atlassian.com/o/<ID>)',
  });

export function credentialRefSchema(flag: string) {
  return z.string().refine(isCredentialRef, {
    error: `${flag} must be a credential reference, env:NAME or file:/absolute/path (a raw key is refused: keys never travel through Temporal)`,
  });
}

export function instantSchema(flag: string) {
  return z.string().transform((value, ctx) => {
    try {
      return parseInstant(value);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: `${flag} ${(err as InvalidBackfillRangeError).message}` });
      return z.NEVER;
    }
  });
}

export function durationSchema(flag: string, minMs: number, maxMs: number) {
  return z.string().transform((value, ctx) => {
    let ms = Number.NaN;
    try {
      ms = /^\d+$/.test(value) ? Number(value) * 1000 : msToNumber(value as `${number}s`);
    } catch {
      // reported below
    }
    if (!Number.isFinite(ms) || ms < minMs || ms > maxMs) {
      ctx.addIssue({
        code: 'custom',
        message: `${flag} must be a duration like 30s, 5m or 1h, between ${minMs / 1000} s and ${maxMs / 1000} s`,
      });
      return z.NEVER;
    }
    return ms;
  });
}

export function integerSchema(flag: string, min: number, max: number) {
  return z
    .string()
    .regex(/^\d+$/, { error: `${flag} must be a whole number` })
    .transform(Number)
    .refine((n) => n >= min && n <= max, { error: `${flag} must be between ${min} and ${max}` });
}

/**
 * `--from` / `--to` as a range of past event time within Atlassian's retention, checked as the workflow checks a
 * backfill, except against the tail's start, which only the workflow knows. A problem is a UsageError naming the flag.
 */
export function pastRangeOption(from: string, to: string): TimeRange {
  try {
    return validateBackfillRequest({ from, to }, { now: Date.now(), tailFrom: Number.POSITIVE_INFINITY });
  } catch (err) {
    if (err instanceof InvalidBackfillRangeError) throw new UsageError(rangeErrorMessage(err, (field) => `--${field}`));
    throw err;
  }
}

/** Parses commander's option object with a zod schema; the first problem becomes a UsageError. */
export function parseOptions<T extends z.ZodType>(schema: T, options: unknown): z.output<T> {
  const parsed = schema.safeParse(options);
  if (!parsed.success) throw new UsageError(parsed.error.issues[0]!.message);
  return parsed.data;
}
