/**
 * An organization's collection as plain state and its transitions, in the manner of Temporal's
 * `safe-message-handlers` sample: no Temporal call in here, so every transition has a unit test without a server.
 * The workflow function (org-audit-workflow.ts) wires messages, activities and publishing around it.
 *
 * Message handlers never throw: a payload is parsed with its schema, and a refused one is recorded in status
 * (`stats.lastRejectedMessage`). Only the backfill Update's validator throws, to answer its caller.
 */
import type { MapPageResult } from '../activities/map';
import type { ShipLogsResult } from '../activities/ship';
import type { PollInput, PollOutcome } from '../activities/poll';
import type { ResendDeadLettersResult } from '../activities/dead-letters';
import { credentialFailureTypes, credentialOwnerIn, FailureType, pageLostFailureTypes } from '../shared/failure-types';
import { AuditPhase } from '../shared/phase';
import { SHORTEST_TIMER_MS, tailPollDelay } from '../shared/request-pacing';
import { InvalidBackfillRangeError, iso, parseInstant, rangeErrorMessage, subtractRanges, validateBackfillRequest } from './backfill-ranges';
import type { BackfillAccepted } from './messages';
import {
  backfillRequestSchema,
  describeIssues,
  pauseInputSchema,
  resendDeadLettersInputSchema,
  rotateCredentialsInputSchema,
  seekInputSchema,
  stopInputSchema,
} from './messages';
import type { BackfillRange, OrgAuditConfigWithDefaults, OrgAuditInput, OrgAuditResult, OrgAuditState, OrgAuditStatus, StreamPosition } from './org-audit-state';
import {
  MAX_DEAD_LETTERS_KEPT,
  MAX_FINISHED_BACKFILLS_KEPT,
  pendingBackfills,
  rememberKeys,
  settlingBackfills,
  withDefaults,
} from './org-audit-state';
import { statusOf } from './org-audit-status';
import type { z } from 'zod';

/** How long to wait before retrying a page that failed in a way no activity retry fixes. */
export const FAILURE_RETRY_MS = 5 * 60_000;
/** How long to wait before polling again after a poll's own retries ran out on a transient fault (an outage). */
export const OUTAGE_RETRY_MS = 60_000;
/** An org whose plan lacks the audit log is asked again this often (a plan upgrade needs no operator action here). */
export const ENTITLEMENT_RETRY_MS = 60 * 60_000;
/** Pages lost with their worker this many times in a row hold the org `OUTAGE_RETRY_MS`: not a loop of re-reads. */
const PAGES_LOST_BEFORE_HOLDING = 3;
/** A cursor that keeps not advancing is retried later and later, up to this. */
const MAX_STUCK_RETRY_MS = 60 * 60_000;
/** Most pages one poll reads; the poll also stops at its byte limit, when the stream ends, or when a pause is due. */
const MAX_PAGES_PER_POLL = 50;
/** Longest one poll keeps reading pages, so a stop or a pause waits no longer. */
const MAX_POLL_BATCH_MS = 10_000;

export type Job = { kind: 'tail' } | { kind: 'backfill'; range: BackfillRange };

/** What a poll brought that is new: the keys to deliver, and the stored ones the map must skip (delivered before). */
export interface FreshEvents {
  keys: string[];
  skipKeys: string[];
}

/** What the loop does next. */
export type Step =
  | { kind: 'stop' }
  | { kind: 'paused' }
  | { kind: 'awaitCredentials'; owner: 'atlassian' | 'datadog'; version: number }
  | { kind: 'wait'; ms: number; summary: string }
  | { kind: 'resendDeadLetters'; eventIds?: string[] }
  | { kind: 'poll'; job: Job };

/** What the workflow learned of a failed activity. */
export interface ActivityFailureInfo {
  type?: string;
  message: string;
  details?: readonly unknown[];
  /** The activity's retries ran out on a fault each attempt could have outlived (5xx, timeouts, resets). */
  retriesExhausted?: boolean;
}

export class OrgAudit {
  readonly config: OrgAuditConfigWithDefaults;
  readonly state: OrgAuditState;
  stopReason: string | null = null;
  /** Set by any message that should cut a wait short so the loop re-evaluates. */
  wakeRequested = false;

  constructor(input: OrgAuditInput, now: number) {
    const { config, state } = withDefaults(input, now);
    this.config = config;
    this.state = state;
  }

  // --- messages -------------------------------------------------------------------------------------------------

  pause(raw: unknown, now: number): void {
    // A pause with an odd payload still pauses: the operator's intent is clear, only the reason is lost.
    const input = this.parse('pause', pauseInputSchema, raw, now);
    this.state.paused = { reason: input?.reason || 'paused by operator', at: now };
  }

  /** Also retries at once what waits after a failure: an operator who acts has likely fixed something. */
  resume(): void {
    this.state.paused = null;
    this.state.retryAt = null;
    this.wake();
  }

  stop(raw: unknown, now: number): void {
    const input = this.parse('stop', stopInputSchema, raw, now);
    // A stop with an odd payload still stops: the operator's intent is clear, only the reason is lost.
    this.stopReason = input?.reason || 'stopped by operator';
  }

  rotate(raw: unknown, now: number): void {
    const rotation = this.parse('rotateCredentials', rotateCredentialsInputSchema, raw, now);
    if (rotation === undefined && raw !== undefined && raw !== null) return;
    for (const owner of ['atlassian', 'datadog'] as const) {
      const ref = rotation?.[owner];
      // Without a new reference, only the credential that failed is re-read.
      if (ref === undefined && this.state.awaitingCredentials?.owner !== owner) continue;
      const current = this.state.credentials[owner];
      this.state.credentials[owner] = { ref: ref ?? current.ref, version: current.version + 1 };
    }
    this.state.retryAt = null;
    this.wake();
  }

  /** The backfill signal: a refused range is recorded, never thrown. */
  backfill(raw: unknown, now: number): void {
    try {
      this.queueBackfill(raw, now);
    } catch (err) {
      if (!(err instanceof InvalidBackfillRangeError)) throw err;
      this.reject('backfill', rangeErrorMessage(err), now);
    }
  }

  /** The backfill Update's validator: throws InvalidBackfillRangeError so the caller learns why. */
  checkBackfill(raw: unknown, now: number): void {
    this.validRange(raw, now);
  }

  /** Queues the parts of the range not queued yet. */
  queueBackfill(raw: unknown, now: number): BackfillAccepted {
    const range = this.validRange(raw, now);
    const added = subtractRanges(range, pendingBackfills(this.state)).map(
      (piece): BackfillRange => ({
        id: this.state.nextBackfillId++,
        from: piece.from,
        to: piece.to,
        cursor: null,
        pages: 0,
        events: 0,
        watermark: null,
        recoveringFrom: null,
        stuckPolls: 0,
        requestedAt: now,
        completedAt: null,
        settleUntil: null,
        nextPollAt: now,
      })
    );
    this.state.backfills = [...this.state.backfills, ...added].sort((a, b) => a.from - b.from);
    this.wake();
    return { rangeIds: added.map((r) => r.id), ranges: added.map((r) => ({ id: r.id, from: iso(r.from), to: iso(r.to) })) };
  }

  /** Restarts the tail's stream at an event time; what was delivered already is still dropped as a repeat. */
  seek(raw: unknown, now: number): void {
    const input = this.parse('seek', seekInputSchema, raw, now);
    if (!input) return;
    let from: number;
    try {
      from = parseInstant(input.from);
    } catch (err) {
      this.reject('seek', `from ${(err as Error).message}`, now);
      return;
    }
    if (from > now) {
      this.reject('seek', `from is in the future (${iso(from)})`, now);
      return;
    }
    this.restartStream(this.state.tail, from, null, now);
    this.state.tail.nextPollAt = now;
    this.wake();
  }

  requestResend(raw: unknown, now: number): void {
    const input = this.parse('resendDeadLetters', resendDeadLettersInputSchema, raw, now);
    if (input === undefined && raw !== undefined && raw !== null) return;
    this.state.resendRequested = { ...(input?.eventIds && { eventIds: input.eventIds }) };
    this.wake();
  }

  // --- what the loop does ---------------------------------------------------------------------------------------

  /** True when a wait should end early so the loop re-evaluates. */
  interrupted(): boolean {
    return this.wakeRequested || this.stopReason !== null || this.state.paused !== null;
  }

  nextStep(now: number): Step {
    this.wakeRequested = false;
    const { state } = this;
    if (this.stopReason !== null) return { kind: 'stop' };
    if (state.paused) return { kind: 'paused' };
    if (state.awaitingCredentials) {
      const { owner, version } = state.awaitingCredentials;
      if (state.credentials[owner].version <= version) return { kind: 'awaitCredentials', owner, version };
      state.awaitingCredentials = null;
    }
    if (state.rateLimitedUntil !== null) {
      if (state.rateLimitedUntil > now) {
        return { kind: 'wait', ms: state.rateLimitedUntil - now, summary: `rate-limited by Atlassian until ${iso(state.rateLimitedUntil)}` };
      }
      state.rateLimitedUntil = null;
    }
    if (state.retryAt !== null) {
      const why = state.awaitingEntitlement?.message ?? state.stalled?.reason ?? 'failure';
      if (state.retryAt > now) return { kind: 'wait', ms: state.retryAt - now, summary: `retry after: ${why.slice(0, 120)}` };
      state.retryAt = null;
    }
    if (state.resendRequested) return { kind: 'resendDeadLetters', ...state.resendRequested };
    const job = this.nextJob(now);
    if (!job) {
      const next = this.nextPollAt();
      return { kind: 'wait', ms: next - now, summary: `next poll at ${iso(next)}` };
    }
    // A shorter pause goes to the poll activity, which sleeps it exactly (`notBefore`).
    const pacingMs = state.nextRequestAt - now;
    if (pacingMs >= SHORTEST_TIMER_MS) return { kind: 'wait', ms: pacingMs, summary: `pacing: ${this.config.maxRequestsPerMinute} requests/minute` };
    return { kind: 'poll', job };
  }

  /** The poll activity's input; the activity sleeps until `notBefore` itself (a timer cannot wait under a second). */
  pollInput(job: Job, now: number): PollInput {
    const stream = this.streamOf(job);
    const batchEnd = now + MAX_POLL_BATCH_MS;
    const from = job.kind === 'tail' ? (stream.recoveringFrom ?? this.config.since) : job.range.from;
    return {
      orgId: this.config.orgId,
      credential: this.state.credentials.atlassian,
      cursor: stream.cursor,
      from,
      to: job.kind === 'tail' ? undefined : job.range.to,
      limit: this.state.pageLimit,
      notBefore: Math.max(now, this.state.nextRequestAt),
      maxRequestsPerMinute: this.config.maxRequestsPerMinute,
      // A pace group's queue paces polls, not requests: one request each.
      maxPages: this.config.paceGroup === undefined ? MAX_PAGES_PER_POLL : 1,
      stopAfter: job.kind === 'tail' ? batchEnd : Math.min(batchEnd, this.state.tail.nextPollAt),
      dropProcessedBefore: stream.recoveringFrom !== null ? (stream.watermark ?? undefined) : undefined,
      keepTimeRange: job.kind === 'tail' ? undefined : { from: job.range.from, to: job.range.to },
    };
  }

  /**
   * Takes a poll's outcome and returns the events to ship: the stored ones not shipped recently (the poll kept only
   * those in the range and, while a stream re-reads after losing its cursor, not processed before its watermark).
   * Null after a 429.
   */
  afterPoll(outcome: PollOutcome, now: number): FreshEvents | null {
    const { state } = this;
    state.stats.requests += outcome.requests;
    state.nextRequestAt = outcome.nextRequestAt;
    if (outcome.kind === 'rateLimited') {
      this.holdForRateLimit(outcome.retryAfterMs, now);
      return null;
    }
    if (outcome.pageLimit < state.pageLimit) {
      state.pageLimit = outcome.pageLimit;
      state.stats.lastError = {
        at: now,
        message: `pages shrunk to ${outcome.pageLimit} event${outcome.pageLimit === 1 ? '' : 's'} (Atlassian refused a larger page, or it was too large to ship in one intake request)`,
      };
    }
    const recent = new Set(state.recentKeys);
    const fresh: FreshEvents = { keys: [], skipKeys: [] };
    for (const key of outcome.stored?.keys ?? []) (recent.has(key) ? fresh.skipKeys : fresh.keys).push(key);
    state.stats.duplicatesDropped += outcome.repeatsDropped + fresh.skipKeys.length;
    return fresh;
  }

  /** The page is delivered (or there was nothing new): only now does the stream's position move on. */
  afterShip(job: Job, outcome: Extract<PollOutcome, { kind: 'page' }>, fresh: FreshEvents, mapped: MapPageResult | null, shipped: ShipLogsResult | null, now: number): void {
    const { state } = this;
    const stream = this.streamOf(job);
    if (shipped) {
      state.stats.redated += shipped.redated;
      state.stats.lastShipAt = now;
      this.recordDeadLetters(shipped.deadLettered, now);
    }
    state.stats.eventsShipped += fresh.keys.length;
    state.stats.malformedEvents += mapped?.malformed ?? 0;
    state.recentKeys = rememberKeys(state.recentKeys, fresh.keys, this.config.recentIdsLimit);

    // Of the stored events, which may include repeats; a repeat was delivered, so it never lies past the watermark.
    const processed = outcome.stored?.lastProcessedAt ?? null;
    // A re-read is over once it serves what was processed after the watermark, or reaches the stream's end.
    if (stream.recoveringFrom !== null && (outcome.reachedEnd || (processed !== null && processed > (stream.watermark ?? 0)))) {
      stream.recoveringFrom = null;
    }
    if (processed !== null) stream.watermark = Math.max(stream.watermark ?? 0, processed);
    // Nothing new on a page that came back with the cursor it was asked with: the stream did not advance.
    const stuck = outcome.eventsRead > 0 && fresh.keys.length === 0 && (outcome.cursorStuck || (outcome.nextCursor !== null && outcome.nextCursor === stream.cursor));
    stream.cursor = outcome.nextCursor ?? stream.cursor;
    stream.pages += outcome.pages;
    stream.events += fresh.keys.length;
    state.stats.pages += outcome.pages;
    if (outcome.rateLimitedForMs !== undefined) this.holdForRateLimit(outcome.rateLimitedForMs, now);

    state.stats.pagesLostInARow = 0;
    if (stuck) {
      this.cursorStuck(job, now);
    } else {
      stream.stuckPolls = 0;
      state.stalled = null;
      state.awaitingEntitlement = null;
    }
    if (job.kind === 'tail') {
      const tail = state.tail;
      tail.caughtUpAt = outcome.reachedEnd ? now : null;
      tail.emptyPolls = outcome.eventsRead === 0 ? tail.emptyPolls + 1 : 0;
      tail.nextPollAt = outcome.reachedEnd ? now + tailPollDelay(this.config.pollIntervalMs, this.config.maxPollIntervalMs, tail.emptyPolls) : now;
    } else if (outcome.reachedEnd) {
      const range = job.range;
      if (range.completedAt === null) {
        range.completedAt = now;
        range.settleUntil = now + this.config.backfillSettleMs;
      }
      range.nextPollAt = now + this.config.maxPollIntervalMs;
      this.pruneFinishedBackfills(now);
    }
  }

  /**
   * A poll, map or ship failed in a way its retries do not fix. A credential failure holds the cursor until
   * `rotate`; a refused cursor restarts the stream from its watermark; a page lost with its worker is read again at
   * once; anything else is retried later, shown as stalled.
   */
  afterFailure(job: Job | 'resend', failure: ActivityFailureInfo, now: number): void {
    const { state } = this;
    state.stats.lastError = { at: now, message: failure.message };
    // A resend that fails is not repeated on its own: it must never keep the tail from polling.
    if (job === 'resend') state.resendRequested = null;
    if (failure.type && credentialFailureTypes.has(failure.type)) {
      const owner = credentialOwnerIn(failure.details) ?? (failure.type === FailureType.DatadogAuthFailed ? 'datadog' : 'atlassian');
      state.awaitingCredentials = { owner, version: state.credentials[owner].version, message: failure.message };
      return;
    }
    if (failure.type === FailureType.AtlassianCursorRefused && job !== 'resend') {
      const stream = this.streamOf(job);
      this.restartStream(stream, this.recoveryStart(job), `Atlassian refused the cursor; re-reading from ${iso(this.recoveryStart(job))}`, now);
      return;
    }
    if (failure.type && pageLostFailureTypes.has(failure.type)) {
      // Nothing moved: the next poll reads the same page again from the stream's cursor, on whichever worker takes it.
      state.stats.pagesLost++;
      if (++state.stats.pagesLostInARow < PAGES_LOST_BEFORE_HOLDING) return;
      this.stall(`${state.stats.pagesLostInARow} polls in a row lost their page with their worker: ${failure.message}`, now);
      state.retryAt = now + OUTAGE_RETRY_MS;
      return;
    }
    if (failure.type === FailureType.AtlassianEntitlementMissing) {
      state.awaitingEntitlement = { since: state.awaitingEntitlement?.since ?? now, message: failure.message };
      state.retryAt = now + ENTITLEMENT_RETRY_MS;
      return;
    }
    this.stall(failure.message, now);
    state.retryAt = now + (failure.retriesExhausted ? OUTAGE_RETRY_MS : FAILURE_RETRY_MS);
  }

  afterResend(result: ResendDeadLettersResult, now: number): void {
    const { state } = this;
    const resent = new Set(result.resent);
    state.deadLetters = state.deadLetters.filter((letter) => !resent.has(letter.eventId));
    state.resendRequested = null;
    const parts = [`${result.resent.length} re-sent`];
    if (result.refused.length > 0) parts.push(`${result.refused.length} refused again`);
    if (result.missing.length > 0) parts.push(`${result.missing.length} not on the worker that ran the resend`);
    state.stats.lastError = result.refused.length + result.missing.length > 0 ? { at: now, message: `dead letters: ${parts.join(', ')}` } : state.stats.lastError;
  }

  /** An activity has run long without finishing (an outage its retries wait out): say so. */
  stall(reason: string, now: number): void {
    this.state.stalled = { since: this.state.stalled?.since ?? now, reason };
  }

  phase(now: number): AuditPhase {
    const { state } = this;
    if (this.stopReason !== null) return AuditPhase.Stopped;
    if (state.paused) return AuditPhase.Paused;
    if (state.awaitingCredentials) return AuditPhase.AwaitingCredentials;
    if (state.rateLimitedUntil !== null && state.rateLimitedUntil > now) return AuditPhase.RateLimited;
    if (state.awaitingEntitlement) return AuditPhase.AwaitingEntitlement;
    if (state.stalled) return AuditPhase.Stalled;
    if (pendingBackfills(state).length > 0) return AuditPhase.Backfilling;
    // Idle while the tail is caught up, even during the poll itself: the phase must not flap on every poll.
    return state.tail.caughtUpAt !== null ? AuditPhase.Idle : AuditPhase.Running;
  }

  status(now: number): OrgAuditStatus {
    return statusOf(this.config, this.state, this.phase(now), now);
  }

  position(): Required<OrgAuditInput> {
    return { config: this.config, state: this.state };
  }

  result(): OrgAuditResult {
    return { stoppedBecause: this.stopReason ?? 'stopped', config: this.config, state: this.state };
  }

  // --- internals ------------------------------------------------------------------------------------------------

  private wake(): void {
    this.wakeRequested = true;
  }

  /** Parses a message payload; a refused one is recorded and undefined returned. */
  private parse<S extends z.ZodType>(name: string, schema: S, raw: unknown, now: number): z.output<S> | undefined {
    const parsed = schema.safeParse(raw ?? undefined);
    if (parsed.success) return parsed.data;
    this.reject(name, describeIssues(parsed.error), now);
    return undefined;
  }

  private reject(name: string, problem: string, now: number): void {
    this.state.stats.messagesRejected++;
    this.state.stats.lastRejectedMessage = { at: now, message: `${name} ignored: ${problem}` };
  }

  private validRange(raw: unknown, now: number) {
    const parsed = backfillRequestSchema.safeParse(raw);
    if (!parsed.success) throw new InvalidBackfillRangeError(`request refused: ${describeIssues(parsed.error)}`);
    return validateBackfillRequest(parsed.data, { now, tailFrom: this.config.since });
  }

  private streamOf(job: Job): StreamPosition {
    return job.kind === 'tail' ? this.state.tail : job.range;
  }

  /** The tail first, whenever it is due; then the oldest range not read to its end; then a settling range due. */
  private nextJob(now: number): Job | null {
    if (this.state.tail.nextPollAt <= now) return { kind: 'tail' };
    const range = pendingBackfills(this.state)[0] ?? settlingBackfills(this.state, now).find((r) => r.nextPollAt <= now);
    return range ? { kind: 'backfill', range } : null;
  }

  private nextPollAt(): number {
    const settling = settlingBackfills(this.state, this.state.tail.nextPollAt).map((r) => r.nextPollAt);
    return Math.min(this.state.tail.nextPollAt, ...settling);
  }

  private recoveryStart(job: Job): number {
    if (job.kind === 'backfill') return job.range.from;
    const watermark = this.state.tail.watermark ?? this.config.since;
    return Math.max(this.config.since, watermark - this.config.cursorRecoveryOverlapMs);
  }

  /** Drops the stream's cursor and re-reads from `from`; `problem` (null for an operator's seek) goes to status. */
  private restartStream(stream: StreamPosition, from: number, problem: string | null, now: number): void {
    stream.cursor = null;
    stream.recoveringFrom = from;
    this.state.stats.cursorRecoveries++;
    if (problem !== null) this.state.stats.lastError = { at: now, message: problem };
  }

  /** The first stuck poll restarts the stream from its watermark; after that it is retried later and later. */
  private cursorStuck(job: Job, now: number): void {
    const stream = this.streamOf(job);
    stream.stuckPolls++;
    if (stream.stuckPolls === 1) {
      this.restartStream(stream, this.recoveryStart(job), 'Atlassian returned the same cursor with nothing new; re-reading from the watermark', now);
      return;
    }
    this.stall(`Atlassian's cursor does not advance (${stream.stuckPolls} polls in a row)`, now);
    this.state.retryAt = now + Math.min(MAX_STUCK_RETRY_MS, FAILURE_RETRY_MS * 2 ** (stream.stuckPolls - 2));
  }

  private holdForRateLimit(retryAfterMs: number, now: number): void {
    this.state.stats.rateLimited++;
    this.state.rateLimitedUntil = now + retryAfterMs;
  }

  private recordDeadLetters(letters: ShipLogsResult['deadLettered'], now: number): void {
    if (letters.length === 0) return;
    this.state.stats.deadLettered += letters.length;
    const records = letters.map((letter) => ({ ...letter, at: now }));
    this.state.deadLetters = [...this.state.deadLetters, ...records].slice(-MAX_DEAD_LETTERS_KEPT);
  }

  private pruneFinishedBackfills(now: number): void {
    const closed = this.state.backfills.filter((r) => r.completedAt !== null && (r.settleUntil ?? 0) <= now);
    if (closed.length <= MAX_FINISHED_BACKFILLS_KEPT) return;
    const drop = new Set(closed.slice(0, closed.length - MAX_FINISHED_BACKFILLS_KEPT).map((r) => r.id));
    this.state.backfills = this.state.backfills.filter((r) => !drop.has(r.id));
  }
}
