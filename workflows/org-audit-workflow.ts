/**
 * One long-lived workflow per Atlassian organization: poll the next page of `events-stream` (several small ones
 * when the budget allows), map it, ship it to Datadog, and only then advance the cursor. Handlers only record
 * intent; the main loop acts between polls, so no page is ever left half done by a pause, a rotation or a stop.
 */
import {
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  condition,
  continueAsNew,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { PollPageOutcome } from '../activities/poll';
import type { PolledEvent } from '../activities/polled-event';
import { credentialFailureTypes } from '../shared/failure-types';
import { isCredentialRef } from '../shared/credential-ref';
import { AuditPhase } from '../shared/phase';
import { orgIdSearchAttribute, phaseSearchAttribute } from '../shared/search-attributes';
import type { BackfillRequest } from './backfill-ranges';
import { iso, subtractRanges, validateBackfillRequest } from './backfill-ranges';
import { renderCurrentDetails } from './current-details';
import { earliestNextRequest, respectBudget, SHORTEST_TIMER_MS, tailPollDelay } from '../shared/request-pacing';
import type { BackfillAccepted, RotateCredentialsInput } from './messages';
import {
  backfillSignal,
  pauseSignal,
  requestBackfillUpdate,
  resumeSignal,
  rotateCredentialsSignal,
  statusQuery,
  stopSignal,
} from './messages';
import type { BackfillRange, OrgAuditInput, OrgAuditState, StreamPosition } from './org-audit-state';
import { statusOf } from './org-audit-status';
import { MAX_FINISHED_BACKFILLS_KEPT, pendingBackfills, rememberIds, tailLagMs, withDefaults } from './org-audit-state';
import { recordPagesDelivered, recordPhaseAndLag, recordRateLimited } from './workflow-metrics';

// Poll and ship heartbeat every 5 s while they run: a short heartbeat timeout finds a dead worker quickly.
const { pollEventsPage } = proxyActivities<Activities>({
  startToCloseTimeout: '90 seconds',
  heartbeatTimeout: '20 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});
const mapOptions = {
  startToCloseTimeout: '20 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' },
} as const;
/** Runs started before `BATCHED_POLLS` map in a scheduled activity; a replay of them must do the same. */
const { mapEvents: mapEventsScheduled } = proxyActivities<Activities>(mapOptions);
/**
 * Mapping is pure and fast (~50 µs an event): a local activity spares it two task hand-offs through the server, and
 * the page's events do not enter history a second time as its input.
 */
const { mapEvents } = proxyLocalActivities<Activities>(mapOptions);
const { shipLogs } = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '20 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

/**
 * Pages pass through history several times (poll result, map input and result, ship input). Temporal suggests
 * continue-as-new at 4 MiB, but a history that large no longer fits one 4 MB gRPC message when a worker or the
 * UI fetches it: continue well before.
 */
const HISTORY_BYTES_BEFORE_CONTINUE_AS_NEW = 2_000_000;

/** How long to wait before retrying a page that failed in a way no activity retry fixes. */
const FAILURE_RETRY_MS = 5 * 60_000;

/**
 * Patch ID of the batched poll: pauses under a timer's reach are slept in the poll activity, which reads several
 * pages when they are small, and mapping is a local activity. Histories written before it replay the old way.
 */
const BATCHED_POLLS = 'batched-polls';

/** Most pages one poll reads; the poll also stops at its byte limit, when the stream ends, or when a pause is due. */
const MAX_PAGES_PER_POLL = 50;

/** Longest one poll keeps reading pages, so a stop or a pause waits no longer; a backfill poll also ends when the tail is due. */
const MAX_POLL_BATCH_MS = 10_000;

export interface OrgAuditResult {
  stoppedBecause: string;
  /** Config and state of the last run, so that a later `start` resumes exactly where this one stopped. */
  config: OrgAuditInput['config'];
  state: OrgAuditState;
}

type Job = { kind: 'tail' } | { kind: 'backfill'; range: BackfillRange };

export async function orgAuditWorkflow(input: OrgAuditInput): Promise<OrgAuditResult> {
  const { config, state } = withDefaults(input, Date.now());
  let stopReason: string | null = null;
  /** Set by any message that should cut a wait short so the loop re-evaluates. */
  let wakeRequested = false;
  let publishedPhase: AuditPhase | undefined = workflowInfo().typedSearchAttributes.get(phaseSearchAttribute) as
    | AuditPhase
    | undefined;

  const interrupted = () => wakeRequested || stopReason !== null || state.paused !== null;

  const queueBackfill = (request: BackfillRequest): BackfillAccepted => {
    const now = Date.now();
    const range = validateBackfillRequest(request, { now, tailFrom: config.since });
    const pieces = subtractRanges(range, pendingBackfills(state));
    const added = pieces.map((piece) => {
      const queued: BackfillRange = {
        id: state.nextBackfillId++,
        from: piece.from,
        to: piece.to,
        cursor: null,
        pages: 0,
        events: 0,
        requestedAt: now,
        completedAt: null,
      };
      return queued;
    });
    state.backfills = [...state.backfills, ...added].sort((a, b) => a.from - b.from);
    wakeRequested = true;
    return { rangeIds: added.map((r) => r.id), ranges: added.map((r) => ({ id: r.id, from: iso(r.from), to: iso(r.to) })) };
  };

  // Handlers accept what any client may send (the Temporal CLI can signal with no input at all): a handler that
  // throws would fail the workflow task over and over.
  setHandler(pauseSignal, (input) => {
    state.paused = { reason: input?.reason?.trim() || 'paused by operator', at: Date.now() };
  });
  setHandler(resumeSignal, () => {
    state.paused = null;
    wakeRequested = true;
  });
  setHandler(stopSignal, (input) => {
    stopReason = input?.reason?.trim() || 'stopped by operator';
  });
  setHandler(rotateCredentialsSignal, (rotation) => {
    const refused = rotateCredentials(state, rotation ?? {});
    if (refused.length > 0) {
      state.stats.lastError = { at: Date.now(), message: `rotation ignored for ${refused.join(', ')}: not an env:NAME or file:/path reference` };
    }
    wakeRequested = true;
  });
  setHandler(backfillSignal, (request) => {
    try {
      queueBackfill(request);
    } catch (err) {
      state.stats.lastError = { at: Date.now(), message: `backfill signal ignored: ${(err as Error).message}` };
    }
  });
  setHandler(requestBackfillUpdate, queueBackfill, {
    validator: (request) => {
      validateBackfillRequest(request, { now: Date.now(), tailFrom: config.since });
    },
  });
  setHandler(statusQuery, () => statusOf(config, state, phaseOf(), Date.now()));

  function phaseOf(): AuditPhase {
    if (stopReason !== null) return AuditPhase.Stopped;
    if (state.paused) return AuditPhase.Paused;
    if (state.awaitingCredentials) return AuditPhase.AwaitingCredentials;
    if (state.rateLimitedUntil !== null && state.rateLimitedUntil > Date.now()) return AuditPhase.RateLimited;
    if (pendingBackfills(state).length > 0) return AuditPhase.Backfilling;
    // Idle while the tail is caught up, even during the poll itself: the phase must not flap on every poll.
    return state.tail.caughtUpAt !== null ? AuditPhase.Idle : AuditPhase.Running;
  }

  function publish(): void {
    const phase = phaseOf();
    if (phase !== publishedPhase) {
      // Each upsert is a history event: only when the phase really changes.
      upsertSearchAttributes([
        { key: orgIdSearchAttribute, value: config.orgId },
        { key: phaseSearchAttribute, value: phase },
      ]);
      publishedPhase = phase;
    }
    setCurrentDetails(renderCurrentDetails(config, state, phase, Date.now()));
    recordPhaseAndLag(config.orgId, phase, tailLagMs(state.tail, Date.now()));
  }

  /** Waits until `ms` passes or a message needs the loop; true when the wait ran its full course. */
  async function waitFor(ms: number, summary: string): Promise<boolean> {
    wakeRequested = false;
    if (ms <= 0) return true;
    return !(await condition(interrupted, ms, { summary }));
  }

  for (;;) {
    publish();
    if (stopReason !== null) break;
    if (shouldContinueAsNew(config.continueAsNewAfterHistoryLength)) {
      await condition(allHandlersFinished);
      return continueAsNew<typeof orgAuditWorkflow>({ config, state: { ...state, run: state.run + 1 } });
    }
    if (state.paused) {
      // Messages still grow the history of a paused run, so it may need to continue-as-new while it waits.
      await condition(() => state.paused === null || stopReason !== null || shouldContinueAsNew(config.continueAsNewAfterHistoryLength));
      continue;
    }
    if (state.awaitingCredentials) {
      const { owner, version } = state.awaitingCredentials;
      await condition(() => state.credentials[owner].version > version || stopReason !== null || state.paused !== null);
      if (state.credentials[owner].version > version) state.awaitingCredentials = null;
      continue;
    }

    const now = Date.now();
    if (state.rateLimitedUntil !== null) {
      if (state.rateLimitedUntil > now) {
        await waitFor(state.rateLimitedUntil - now, `rate-limited by Atlassian until ${iso(state.rateLimitedUntil)}`);
        continue;
      }
      state.rateLimitedUntil = null;
    }
    const job = nextJob(state, now);
    if (!job) {
      await waitFor(state.tail.nextPollAt - now, `next tail poll at ${iso(state.tail.nextPollAt)}`);
      continue;
    }
    const pacingMs = state.nextRequestAt - now;
    if (pacingMs >= (patched(BATCHED_POLLS) ? SHORTEST_TIMER_MS : 1)) {
      await waitFor(pacingMs, `pacing: ${config.maxRequestsPerMinute} requests/minute`);
      continue;
    }
    try {
      await workOnePage(job);
    } catch (err) {
      if (!(err instanceof ActivityFailure)) throw err;
      if (holdForCredentials(err)) continue;
      // Transient faults are retried inside the activity; what reaches here no retry fixes (e.g. a 400). Stay
      // alive, say why in status and the UI, and try again later or as soon as an operator acts.
      state.stats.lastError = { at: Date.now(), message: failureMessage(err) };
      log.error('Page failed; retrying later', { orgId: config.orgId, job: job.kind, error: failureMessage(err) });
      await waitFor(FAILURE_RETRY_MS, `retry after failure: ${failureMessage(err).slice(0, 120)}`);
    }
  }

  publish();
  return { stoppedBecause: stopReason ?? 'stopped', config, state };

  async function workOnePage(job: Job): Promise<void> {
    const stream: StreamPosition = job.kind === 'tail' ? state.tail : job.range;
    const label = job.kind === 'tail' ? 'tail' : `backfill #${job.range.id}`;
    const batched = patched(BATCHED_POLLS);
    const sendAt = Math.max(Date.now(), state.nextRequestAt);
    state.nextRequestAt = earliestNextRequest(sendAt, config.maxRequestsPerMinute);
    const batchEnd = Date.now() + MAX_POLL_BATCH_MS;

    const outcome: PollPageOutcome = await pollEventsPage.executeWithOptions(
      { summary: `poll ${label} from page ${stream.pages + 1}` },
      [
        {
          orgId: config.orgId,
          credential: state.credentials.atlassian,
          cursor: stream.cursor,
          from: job.kind === 'tail' ? config.since : job.range.from,
          to: job.kind === 'tail' ? undefined : job.range.to,
          limit: config.pageSize,
          ...(batched && {
            notBefore: sendAt,
            maxRequestsPerMinute: config.maxRequestsPerMinute,
            maxPages: MAX_PAGES_PER_POLL,
            stopAfter: job.kind === 'tail' ? batchEnd : Math.min(batchEnd, state.tail.nextPollAt),
          }),
        },
      ]
    );

    state.stats.requests += outcome.kind === 'page' ? (outcome.requests ?? 1) : 1;
    // A batched poll paced its own requests and says when the next may go; otherwise the last answer's headers decide.
    const nextByBudget = respectBudget(state.nextRequestAt, outcome.budget, Date.now());
    if (outcome.kind === 'rateLimited') {
      state.nextRequestAt = nextByBudget;
      holdForRateLimit(outcome.retryAfterMs);
      return;
    }
    state.nextRequestAt = outcome.nextRequestAt ?? nextByBudget;

    const inRange = job.kind === 'tail' ? outcome.events : outcome.events.filter((e) => withinRange(e, job.range));
    const recent = new Set(state.recentIds);
    const fresh = inRange.filter((e) => !recent.has(e.id));
    state.stats.duplicatesDropped += inRange.length - fresh.length;

    if (fresh.length > 0) {
      const map = batched ? mapEvents : mapEventsScheduled;
      const logs = await map.executeWithOptions({ summary: `map ${fresh.length} events (${label})` }, [
        { orgId: config.orgId, origin: job.kind, events: fresh, atlassianCredential: state.credentials.atlassian },
      ]);
      const shipped = await shipLogs.executeWithOptions({ summary: `ship ${logs.length} logs (${label})` }, [
        { orgId: config.orgId, credential: state.credentials.datadog, logs },
      ]);
      state.stats.redated += shipped.redated;
      state.stats.eventsShipped += fresh.length;
      state.stats.malformedEvents += fresh.filter((e) => e.kind === 'malformed').length;
      state.stats.lastShipAt = Date.now();
      state.recentIds = rememberIds(state.recentIds, fresh.map((e) => e.id), config.recentIdsLimit);
    }

    // Only now, with the page delivered, does the position move on.
    const pages = outcome.pages ?? 1;
    stream.cursor = outcome.nextCursor ?? stream.cursor;
    stream.pages += pages;
    stream.events += fresh.length;
    state.stats.pages += pages;
    recordPagesDelivered(config.orgId, job.kind, pages, fresh.length);
    if (outcome.rateLimitedForMs !== undefined) holdForRateLimit(outcome.rateLimitedForMs);
    const reachedEnd = outcome.reachedEnd ?? outcome.events.length < config.pageSize;
    if (job.kind === 'tail') {
      if (outcome.lastProcessedAt) state.tail.watermark = Date.parse(outcome.lastProcessedAt);
      state.tail.caughtUpAt = reachedEnd ? Date.now() : null;
      state.tail.emptyPolls = outcome.events.length === 0 ? state.tail.emptyPolls + 1 : 0;
      const delay = tailPollDelay(config.pollIntervalMs, config.maxPollIntervalMs, state.tail.emptyPolls);
      state.tail.nextPollAt = reachedEnd ? Date.now() + delay : Date.now();
    } else if (reachedEnd) {
      job.range.completedAt = Date.now();
      pruneFinishedBackfills(state);
    }
  }

  function holdForRateLimit(retryAfterMs: number): void {
    state.stats.rateLimited++;
    recordRateLimited(config.orgId);
    state.rateLimitedUntil = Date.now() + retryAfterMs;
  }

  /** A credential failure holds the cursor and waits for `rotate`; any other failure is not ours to absorb. */
  function holdForCredentials(err: ActivityFailure): boolean {
    const cause = err.cause;
    if (!(cause instanceof ApplicationFailure) || !cause.type || !credentialFailureTypes.has(cause.type)) return false;
    const failedOwner = credentialOwnerOf(cause);
    state.awaitingCredentials = { owner: failedOwner, version: state.credentials[failedOwner].version, message: cause.message };
    state.stats.lastError = { at: Date.now(), message: cause.message };
    log.warn('Holding the cursor until credentials are rotated', { orgId: config.orgId, owner: failedOwner, reason: cause.message });
    return true;
  }
}

/** The tail first, whenever it is due; otherwise the oldest queued backfill range. */
function nextJob(state: OrgAuditState, now: number): Job | null {
  if (state.tail.nextPollAt <= now) return { kind: 'tail' };
  const range = pendingBackfills(state)[0];
  return range ? { kind: 'backfill', range } : null;
}

function withinRange(polled: PolledEvent, range: BackfillRange): boolean {
  // Malformed elements have no trustworthy time: keep them rather than risk losing one.
  if (polled.kind !== 'event') return true;
  const time = Date.parse(polled.event.attributes.time);
  return !(time >= range.to || time < range.from);
}

/** Applies a rotation; returns the owners whose new reference was refused as malformed. */
function rotateCredentials(state: OrgAuditState, rotation: RotateCredentialsInput): string[] {
  const refused: string[] = [];
  for (const owner of ['atlassian', 'datadog'] as const) {
    const ref = rotation[owner];
    if (ref !== undefined && (typeof ref !== 'string' || !isCredentialRef(ref))) {
      refused.push(owner);
      continue;
    }
    if (ref === undefined && !(state.awaitingCredentials?.owner === owner)) continue;
    const current = state.credentials[owner];
    state.credentials[owner] = { ref: ref ?? current.ref, version: current.version + 1 };
  }
  return refused;
}

function pruneFinishedBackfills(state: OrgAuditState): void {
  const finished = state.backfills.filter((r) => r.completedAt !== null);
  if (finished.length <= MAX_FINISHED_BACKFILLS_KEPT) return;
  const drop = new Set(finished.slice(0, finished.length - MAX_FINISHED_BACKFILLS_KEPT).map((r) => r.id));
  state.backfills = state.backfills.filter((r) => !drop.has(r.id));
}

function shouldContinueAsNew(testThreshold: number | undefined): boolean {
  const info = workflowInfo();
  return (
    info.continueAsNewSuggested ||
    info.historySize >= HISTORY_BYTES_BEFORE_CONTINUE_AS_NEW ||
    (testThreshold !== undefined && info.historyLength >= testThreshold)
  );
}

function credentialOwnerOf(failure: ApplicationFailure): 'atlassian' | 'datadog' {
  if (failure.type?.startsWith('Datadog')) return 'datadog';
  if (failure.type?.startsWith('Atlassian')) return 'atlassian';
  const owner = (failure.details?.[0] as { owner?: unknown } | undefined)?.owner;
  return owner === 'datadog' ? 'datadog' : 'atlassian';
}

function failureMessage(err: ActivityFailure): string {
  return err.cause?.message ?? err.message;
}
