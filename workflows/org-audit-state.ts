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
  /** How many recently shipped event IDs are remembered to drop repeats. */
  recentIdsLimit: number;
  /** Test hook: continue-as-new once history reaches this many events (Temporal's own suggestion applies too). */
  continueAsNewAfterHistoryLength?: number;
}

export interface StreamPosition {
  /** `meta.next` of the last page shipped; null before the first page. */
  cursor: string | null;
  pages: number;
  events: number;
}

export interface TailState extends StreamPosition {
  /** `processedAt` of the last event shipped (epoch ms). */
  watermark: number | null;
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
  completedAt: number | null;
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
  nextRequestAt: number;
  /** IDs of recently shipped events, newest last. */
  recentIds: string[];
  stats: OrgAuditStats;
  /** How many runs this org's workflow has had (continue-as-new increments it). */
  run: number;
}

export interface OrgAuditInput {
  config: OrgAuditConfig;
  /** Present when continuing as new, or when restarting an org from a stopped run's final state. */
  state?: OrgAuditState;
}

export interface OrgAuditStatus {
  orgId: string;
  phase: AuditPhase;
  paused: OrgAuditState['paused'];
  awaitingCredentials: OrgAuditState['awaitingCredentials'];
  credentials: OrgAuditState['credentials'];
  rateLimitedUntil: string | null;
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
    state: 'queued' | 'running' | 'done';
  }>;
  stats: OrgAuditStats;
  run: number;
  config: OrgAuditConfig;
}

export const MAX_FINISHED_BACKFILLS_KEPT = 20;

export function initialState(config: OrgAuditConfig, now: number): OrgAuditState {
  const credentials = {
    atlassian: { ref: config.initialCredentials.atlassian, version: 1 },
    datadog: { ref: config.initialCredentials.datadog, version: 1 },
  };
  return {
    tail: { cursor: null, pages: 0, events: 0, watermark: null, caughtUpAt: null, emptyPolls: 0, nextPollAt: now },
    backfills: [],
    nextBackfillId: 1,
    paused: null,
    credentials,
    awaitingCredentials: null,
    rateLimitedUntil: null,
    nextRequestAt: now,
    recentIds: [],
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
    },
    run: 1,
  };
}

/**
 * The input with every field present. A field added to config or state in a later version must get its default
 * here, so runs that started (or continued as new) under the older version keep working after an upgrade.
 */
export function withDefaults(input: OrgAuditInput, now: number): { config: OrgAuditConfig; state: OrgAuditState } {
  const config: OrgAuditConfig = { ...input.config, maxPollIntervalMs: input.config.maxPollIntervalMs ?? input.config.pollIntervalMs };
  if (!input.state) return { config, state: initialState(config, now) };
  const state = input.state;
  return { config, state: { ...state, tail: { ...state.tail, emptyPolls: state.tail.emptyPolls ?? 0 } } };
}

/** Appends IDs and keeps only the newest `limit`. */
export function rememberIds(recent: string[], ids: readonly string[], limit: number): string[] {
  const next = recent.concat(ids);
  return next.length > limit ? next.slice(next.length - limit) : next;
}

export function pendingBackfills(state: OrgAuditState): BackfillRange[] {
  return state.backfills.filter((range) => range.completedAt === null);
}

/** Lag of the tail: how far behind now the last point known to be fully delivered is. */
export function tailLagMs(tail: TailState, now: number): number | null {
  const reached = Math.max(tail.caughtUpAt ?? 0, tail.watermark ?? 0);
  return reached === 0 ? null : Math.max(0, now - reached);
}
