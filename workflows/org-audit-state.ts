/**
 * The state an organization's workflow keeps and carries across continue-as-new. Plain JSON only: no Map, Set,
 * Date or class instances, which the payload converter would flatten.
 */
import type { CredentialRef } from '../shared/credential-ref';
import type { AuditPhase } from '../shared/phase';

export interface OrgAuditConfig {
  orgId: string;
  /** Credential references the org starts with; `rotateCredentials` replaces them in the state. */
  initialCredentials: { atlassian: string; datadog: string };
  /** Event time (epoch ms) from which the tail delivers every event; backfill covers earlier times. */
  since: number;
  /** Wait between tail polls once the stream is caught up. */
  pollIntervalMs: number;
  /** Ceiling of the tail's interval when the organization stays quiet (the interval doubles after idle polls). */
  maxPollIntervalMs: number;
  /** Requests per minute this org may send to Atlassian, tail and backfill together. */
  maxRequestsPerMinute: number;
  /** Events per `events-stream` page. */
  pageSize: number;
  /**
   * The pace group whose budget this org shares with the other orgs read with the same Atlassian user's key
   * (shared/pace-groups.ts): its polls, one request each, go through that group's task queue. @default none
   */
  paceGroup?: string;
  /** How many recently shipped events are remembered (by dedupe key) to drop repeats. */
  recentIdsLimit: number;
  /**
   * A stream restarted without its cursor (Atlassian refused it, or it stopped advancing) re-reads from its
   * watermark minus this much, and drops what it already delivered. @default 24 h
   */
  cursorRecoveryOverlapMs?: number;
  /**
   * A backfill range that reached the stream's end keeps polling its cursor this long for events Atlassian
   * processes late (their own time inside the range, their processing after it was read). @default 24 h
   */
  backfillSettleMs?: number;
  /** An activity running this long without a delivered page shows the org as stalled. @default 2 min */
  stallAfterMs?: number;
  /** Test hook: continue-as-new once history reaches this many events (Temporal's own suggestion applies too). */
  continueAsNewAfterHistoryLength?: number;
}

export interface StreamPosition {
  /** `meta.next` of the last page shipped; null before the first page and after a cursor recovery. */
  cursor: string | null;
  pages: number;
  events: number;
  /** `processedAt` of the last event shipped (epoch ms). */
  watermark: number | null;
  /**
   * Set while a stream re-reads after losing its cursor: the event time its first request starts from. Events
   * processed before the watermark were delivered already and are dropped until the stream passes it.
   */
  recoveringFrom: number | null;
  /** Polls in a row that returned the cursor they were given with nothing new. */
  stuckPolls: number;
}

export interface TailState extends StreamPosition {
  /** When the last tail poll reached the end of the stream (epoch ms); null while catching up. */
  caughtUpAt: number | null;
  /** Tail polls in a row that found nothing: a quiet org is polled less often. */
  emptyPolls: number;
  nextPollAt: number;
}

export interface BackfillRange extends StreamPosition {
  id: number;
  from: number;
  to: number;
  requestedAt: number;
  /** When the range's stream first came back empty; the range then settles until `settleUntil`. */
  completedAt: number | null;
  /** Until then the finished range is polled now and then for late-processed events. */
  settleUntil: number | null;
  nextPollAt: number;
}

/** A log the Datadog intake kept refusing: a stub went in its place, the original waits on a worker's disk. */
export interface DeadLetterRecord {
  eventId: string;
  status: number;
  reason: string;
  at: number;
}

export interface OrgAuditStats {
  eventsShipped: number;
  pages: number;
  requests: number;
  rateLimited: number;
  duplicatesDropped: number;
  malformedEvents: number;
  redated: number;
  lastShipAt: number | null;
  lastError: { at: number; message: string } | null;
  deadLettered: number;
  cursorRecoveries: number;
  /** Polls read again because the worker holding their page was gone before map or ship ran there. */
  pagesLost: number;
  /** Of those, in a row since the last delivered poll: a few in a row hold the org a minute (see `afterFailure`). */
  pagesLostInARow: number;
  /** Signals and Updates whose payload was refused (never fatal: recorded here and in `lastRejectedMessage`). */
  messagesRejected: number;
  lastRejectedMessage: { at: number; message: string } | null;
}

export interface OrgAuditState {
  tail: TailState;
  /** Queued and finished ranges, oldest first; finished ones are kept (bounded) so `status` can show them. */
  backfills: BackfillRange[];
  nextBackfillId: number;
  paused: { reason: string; at: number } | null;
  credentials: { atlassian: CredentialRef; datadog: CredentialRef };
  /** Which credential failed, and at which version; cleared when a newer version arrives. */
  awaitingCredentials: { owner: 'atlassian' | 'datadog'; version: number; message: string } | null;
  rateLimitedUntil: number | null;
  /** When the org's next Atlassian request may go; the poll activity decides it (shared/request-pacing.ts). */
  nextRequestAt: number;
  /** Events per page: the configured size, or smaller after Atlassian refused a size or a page was too large to ship at once. */
  pageLimit: number;
  /** Why the org is not advancing though nothing holds it (a failure retried later, an activity retrying long). */
  stalled: { since: number; reason: string } | null;
  /** Atlassian refused the org's audit log for its plan: held, asked again now and then. */
  awaitingEntitlement: { since: number; message: string } | null;
  /** After a failure no retry fixes: no poll before this (epoch ms); an operator's `resume` or `rotate` clears it. */
  retryAt: number | null;
  /** The newest dead letters (bounded); `stats.deadLettered` counts all. */
  deadLetters: DeadLetterRecord[];
  /** An operator asked to re-send dead letters (all, or these IDs). */
  resendRequested: { eventIds?: string[] } | null;
  /** Dedupe keys of recently shipped events, newest last (the poll activity's `eventKey` of each ID). */
  recentKeys: string[];
  stats: OrgAuditStats;
  /** How many runs this org's workflow has had (continue-as-new increments it). */
  run: number;
}

export interface OrgAuditInput {
  config: OrgAuditConfig;
  /** Present when continuing as new, or when restarting an org from a stopped run's final state. */
  state?: OrgAuditState;
}

export interface OrgAuditResult {
  stoppedBecause: string;
  /** Config and state of the last run, so that a later `start` resumes exactly where this one stopped. */
  config: OrgAuditConfig;
  state: OrgAuditState;
}

export interface OrgAuditStatus {
  orgId: string;
  phase: AuditPhase;
  paused: OrgAuditState['paused'];
  awaitingCredentials: OrgAuditState['awaitingCredentials'];
  credentials: OrgAuditState['credentials'];
  rateLimitedUntil: string | null;
  stalled: OrgAuditState['stalled'];
  awaitingEntitlement: OrgAuditState['awaitingEntitlement'];
  /** ISO time of the next attempt after a failure, when one is scheduled. */
  retryAt: string | null;
  pageLimit: number;
  deadLetters: OrgAuditState['deadLetters'];
  tail: {
    since: string;
    watermark: string | null;
    lagSeconds: number | null;
    nextPollAt: string;
    pages: number;
    events: number;
  };
  backfills: Array<{
    id: number;
    from: string;
    to: string;
    pages: number;
    events: number;
    /** `settling`: read to the end, still polled for late-processed events until `settleUntil`. */
    state: 'queued' | 'running' | 'settling' | 'done';
    settleUntil: string | null;
  }>;
  stats: OrgAuditStats;
  run: number;
  config: OrgAuditConfig;
}

export const MAX_FINISHED_BACKFILLS_KEPT = 20;
export const MAX_DEAD_LETTERS_KEPT = 100;

export const CONFIG_DEFAULTS = {
  cursorRecoveryOverlapMs: 24 * 3_600_000,
  backfillSettleMs: 24 * 3_600_000,
  stallAfterMs: 2 * 60_000,
} as const satisfies Partial<OrgAuditConfig>;

export function newStream(): StreamPosition {
  return { cursor: null, pages: 0, events: 0, watermark: null, recoveringFrom: null, stuckPolls: 0 };
}

export function initialState(config: OrgAuditConfig, now: number): OrgAuditState {
  const credentials = {
    atlassian: { ref: config.initialCredentials.atlassian, version: 1 },
    datadog: { ref: config.initialCredentials.datadog, version: 1 },
  };
  return {
    tail: { ...newStream(), caughtUpAt: null, emptyPolls: 0, nextPollAt: now },
    backfills: [],
    nextBackfillId: 1,
    paused: null,
    credentials,
    awaitingCredentials: null,
    rateLimitedUntil: null,
    nextRequestAt: now,
    pageLimit: config.pageSize,
    stalled: null,
    awaitingEntitlement: null,
    retryAt: null,
    deadLetters: [],
    resendRequested: null,
    recentKeys: [],
    stats: {
      eventsShipped: 0,
      pages: 0,
      requests: 0,
      rateLimited: 0,
      duplicatesDropped: 0,
      malformedEvents: 0,
      redated: 0,
      lastShipAt: null,
      lastError: null,
      deadLettered: 0,
      cursorRecoveries: 0,
      pagesLost: 0,
      pagesLostInARow: 0,
      messagesRejected: 0,
      lastRejectedMessage: null,
    },
    run: 1,
  };
}

/**
 * The input with every field present. A field added to config or state in a later version gets its default here,
 * so a state carried over from an older run (continue-as-new, or `start` after `stop`) keeps working.
 */
/** The config with every defaulted setting present. */
export type OrgAuditConfigWithDefaults = OrgAuditConfig & Required<Pick<OrgAuditConfig, keyof typeof CONFIG_DEFAULTS>>;

export function withDefaults(input: OrgAuditInput, now: number): { config: OrgAuditConfigWithDefaults; state: OrgAuditState } {
  const config: OrgAuditConfigWithDefaults = {
    ...CONFIG_DEFAULTS,
    ...input.config,
    maxPollIntervalMs: input.config.maxPollIntervalMs ?? input.config.pollIntervalMs,
  };
  const fresh = initialState(config, now);
  if (!input.state) return { config, state: fresh };
  // Before 0.3 the state kept event IDs (`recentIds`), whose keys a workflow cannot compute (no hash in its sandbox):
  // an org drained from 0.2 starts with none, so an event Atlassian serves again just after the upgrade may repeat.
  const { recentIds: _ids, ...old } = input.state as OrgAuditState & { recentIds?: unknown };
  return {
    config,
    state: {
      ...fresh,
      ...old,
      tail: { ...fresh.tail, ...old.tail },
      backfills: old.backfills.map((range) => ({ ...newStream(), ...range, settleUntil: range.settleUntil ?? null, nextPollAt: range.nextPollAt ?? now })),
      stats: { ...fresh.stats, ...old.stats },
      // A smaller --page-size on a resumed start takes effect; a size shrunk to fit one intake request stays shrunk.
      pageLimit: Math.min(old.pageLimit ?? config.pageSize, config.pageSize),
    },
  };
}

/** Appends keys and keeps only the newest `limit`. */
export function rememberKeys(recent: string[], keys: readonly string[], limit: number): string[] {
  const next = recent.concat(keys);
  return next.length > limit ? next.slice(next.length - limit) : next;
}

/** Ranges not yet read to the end of their stream. */
export function pendingBackfills(state: OrgAuditState): BackfillRange[] {
  return state.backfills.filter((range) => range.completedAt === null);
}

/** Ranges read to the end and still polled for late-processed events. */
export function settlingBackfills(state: OrgAuditState, now: number): BackfillRange[] {
  return state.backfills.filter((range) => range.completedAt !== null && range.settleUntil !== null && range.settleUntil > now);
}

/** Lag of the tail: how far behind now the last point known to be fully delivered is. */
export function tailLagMs(tail: TailState, now: number): number | null {
  const reached = Math.max(tail.caughtUpAt ?? 0, tail.watermark ?? 0);
  return reached === 0 ? null : Math.max(0, now - reached);
}
