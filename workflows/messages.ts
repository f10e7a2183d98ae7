/** Signals, queries and the Update through which operators steer an organization's workflow. */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { BackfillRequest } from './backfill-ranges';
import type { OrgAuditStatus } from './org-audit-state';

export interface PauseInput {
  reason?: string;
}

export interface RotateCredentialsInput {
  /** New reference for the Atlassian key (`env:NAME` or `file:/path`); omitted = same reference, re-read. */
  atlassian?: string;
  datadog?: string;
}

export interface StopInput {
  reason?: string;
}

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
export const statusQuery = defineQuery<OrgAuditStatus>('status');
/** Like the `backfill` signal, but validated: the caller learns "accepted as range N" or why not. */
export const requestBackfillUpdate = defineUpdate<BackfillAccepted, [BackfillRequest]>('requestBackfill');
