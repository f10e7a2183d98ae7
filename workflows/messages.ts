/**
 * Signals, queries and Updates through which operators steer an organization's workflow, with the schemas their
 * payloads are read through. Any client may send anything (the Temporal CLI signals with arbitrary JSON): handlers
 * parse with these schemas and record what they refuse in status, so no payload can fail a workflow task.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { z } from 'zod';
import { isCredentialRef } from '../shared/credential-ref';
import type { OrgAuditInput, OrgAuditStatus } from './org-audit-state';

const text = z.string().trim().max(500);
const instant = z.union([z.string().max(40), z.number().finite()]);
const credentialRef = z.string().max(4096).refine(isCredentialRef, { error: 'not an env:NAME or file:/path reference' });

export const pauseInputSchema = z.object({ reason: text.optional() }).optional();
export type PauseInput = z.input<typeof pauseInputSchema>;

export const stopInputSchema = z.object({ reason: text.optional() }).optional();
export type StopInput = z.input<typeof stopInputSchema>;

export const rotateCredentialsInputSchema = z
  .object({
    /** New reference for the Atlassian key; omitted = the same reference, re-read. */
    atlassian: credentialRef.optional(),
    datadog: credentialRef.optional(),
  })
  .optional();
export type RotateCredentialsInput = z.input<typeof rotateCredentialsInputSchema>;

/** Event-time bounds, ISO-8601 with an offset or epoch ms: `from` inclusive, `to` exclusive. */
export const backfillRequestSchema = z.object({ from: instant, to: instant });
export type BackfillRequest = z.input<typeof backfillRequestSchema>;

/** Restart the tail's stream at this event time; what was already delivered is not delivered again. */
export const seekInputSchema = z.object({ from: instant });
export type SeekInput = z.input<typeof seekInputSchema>;

/** Re-send dead letters kept on the workers (all of the org's, or these event IDs). */
export const resendDeadLettersInputSchema = z.object({ eventIds: z.array(z.string().min(1).max(200)).max(1000).optional() }).optional();
export type ResendDeadLettersInput = z.input<typeof resendDeadLettersInputSchema>;

export interface BackfillAccepted {
  /** IDs of the ranges queued for this request (a request overlapping queued work may add several or none). */
  rangeIds: number[];
  ranges: Array<{ id: number; from: string; to: string }>;
}

export const pauseSignal = defineSignal<[PauseInput?]>('pause');
export const resumeSignal = defineSignal<[]>('resume');
export const backfillSignal = defineSignal<[BackfillRequest]>('backfill');
export const rotateCredentialsSignal = defineSignal<[RotateCredentialsInput?]>('rotateCredentials');
export const stopSignal = defineSignal<[StopInput?]>('stop');
export const seekSignal = defineSignal<[SeekInput]>('seek');
export const resendDeadLettersSignal = defineSignal<[ResendDeadLettersInput?]>('resendDeadLetters');
export const statusQuery = defineQuery<OrgAuditStatus>('status');
/** The whole config and state: what `start` resumes from after a run ended without `stop` (terminated, failed). */
export const positionQuery = defineQuery<Required<OrgAuditInput>>('position');
/** Like the `backfill` signal, but validated: the caller learns "accepted as range N" or why not. */
export const requestBackfillUpdate = defineUpdate<BackfillAccepted, [BackfillRequest]>('requestBackfill');

/** One line naming what was wrong with a payload: the first issue, its path, never the value. */
export function describeIssues(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid input';
  return `${issue.path.length > 0 ? issue.path.join('.') : 'input'}: ${issue.message}`;
}
