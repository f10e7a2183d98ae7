/**
 * What a verify run is asked to do, read through one schema wherever it comes from (the client, a Schedule, the
 * Temporal CLI), and the names derived from it. Pure, so the workflow, the activities and the client share it.
 */
import { z } from 'zod';
import { isCredentialRef } from '../credential-ref';
import { WORKFLOW_ID_PREFIX } from '../org-workflow';

export const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/**
 * The most event time one verify covers. Its report holds a row per hour and the IDs of every hour it compares pass
 * through its history: a month keeps both well within Temporal's limits. Longer ranges are verified month by month.
 */
export const MAX_VERIFY_RANGE_MS = 31 * DAY_MS;

/** Datadog index names (letters, digits, `-`, `_`, `.`), or `*` for every index the key may read. */
export const DATADOG_INDEX_NAME = /^(\*|[A-Za-z0-9][\w.-]{0,99})$/;
const indexName = z.string().regex(DATADOG_INDEX_NAME, { error: 'an index is a Datadog index name or *' });
const credentialRef = z.string().max(4096).refine(isCredentialRef, { error: 'not an env:NAME or file:/path reference' });

/** Event time to verify: `from` inclusive, `to` exclusive (epoch ms), or the UTC day before the run starts. */
export const verifyRangeSchema = z.union([
  z
    .object({ from: z.number().int(), to: z.number().int() })
    .refine((range) => range.from < range.to, { error: 'from must be before to' })
    .refine((range) => range.to - range.from <= MAX_VERIFY_RANGE_MS, { error: 'a verify covers at most 31 days of event time' }),
  z.object({ previousUtcDay: z.literal(true) }),
]);

export const verifyRangeInputSchema = z.object({
  orgId: z.string().trim().min(1).max(100),
  range: verifyRangeSchema,
  /** Re-ship what is missing (marked `repaired:true`), then verify again. */
  repair: z.boolean().default(false),
  /** Datadog indexes searched. */
  indexes: z.array(indexName).min(1).max(20).default(['*']),
  /** Credential references; by default those of the org's collector, else `env:ATLASSIAN_API_KEY` / `env:DD_API_KEY`. */
  atlassianKey: credentialRef.optional(),
  datadogKey: credentialRef.optional(),
  /** The verify's own Atlassian budget; by default a fifth of the org's (see verify-settings.ts). */
  maxRequestsPerMinute: z.number().int().min(1).max(6000).optional(),
  /**
   * After a repair, how long to let Datadog index the re-shipped logs before verifying again: a log is searchable
   * some seconds after the intake accepted it.
   */
  indexingDelayMs: z.number().int().min(0).max(3_600_000).default(60_000),
});
export type VerifyRangeInput = z.input<typeof verifyRangeInputSchema>;
export type VerifyRequest = z.output<typeof verifyRangeInputSchema>;

/** The event time a run verifies: whole UTC hours, epoch ms. */
export interface VerifiedRange {
  from: number;
  to: number;
}

/**
 * The whole UTC hours that hold the requested range: Datadog's counts come per hour, so a verify always covers
 * hours whole. The previous UTC day is the day before `now`, the run's start.
 */
export function verifiedRange(range: VerifyRequest['range'], now: number): VerifiedRange {
  if ('previousUtcDay' in range) {
    const today = Math.floor(now / DAY_MS) * DAY_MS;
    return { from: today - DAY_MS, to: today };
  }
  return { from: Math.floor(range.from / HOUR_MS) * HOUR_MS, to: Math.ceil(range.to / HOUR_MS) * HOUR_MS };
}

/** `2026-01-05T13:00:00.000Z` → `20260105T13Z`: short enough for an ID, still readable. */
function compactHour(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\d\d\d\d\.\d{3}Z$/, 'Z');
}

/**
 * One ID per org, range and mode: asking again while a run of it is going waits for that run instead of starting a
 * second one beside it. A repair has an ID of its own, so a plain verify never waits for a repair, nor the reverse.
 */
export function verifyWorkflowId(orgId: string, range: VerifiedRange, repair: boolean): string {
  return `${WORKFLOW_ID_PREFIX}${repair ? 'repair' : 'verify'}-${orgId}-${compactHour(range.from)}-${compactHour(range.to)}`;
}

/** The daily Schedule of an org; Temporal names each run it starts `<this ID>-<scheduled time>`. */
export function verifyScheduleId(orgId: string): string {
  return `${WORKFLOW_ID_PREFIX}verify-daily-${orgId}`;
}
