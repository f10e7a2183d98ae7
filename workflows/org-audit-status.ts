import type { AuditPhase } from '../shared/phase';
import { iso } from './backfill-ranges';
import type { OrgAuditConfig, OrgAuditState, OrgAuditStatus } from './org-audit-state';
import { tailLagMs } from './org-audit-state';

/** What the `status` query answers: the state in operator terms (ISO times, lag in seconds, range progress). */
export function statusOf(config: OrgAuditConfig, state: OrgAuditState, phase: AuditPhase, now: number): OrgAuditStatus {
  const lagMs = tailLagMs(state.tail, now);
  return {
    orgId: config.orgId,
    phase,
    paused: state.paused,
    awaitingCredentials: state.awaitingCredentials,
    credentials: state.credentials,
    rateLimitedUntil: state.rateLimitedUntil !== null && state.rateLimitedUntil > now ? iso(state.rateLimitedUntil) : null,
    stalled: state.stalled,
    awaitingEntitlement: state.awaitingEntitlement,
    retryAt: state.retryAt !== null && state.retryAt > now ? iso(state.retryAt) : null,
    pageLimit: state.pageLimit,
    deadLetters: state.deadLetters,
    tail: {
      since: iso(config.since),
      watermark: state.tail.watermark !== null ? iso(state.tail.watermark) : null,
      lagSeconds: lagMs === null ? null : Math.round(lagMs / 1000),
      nextPollAt: iso(state.tail.nextPollAt),
      pages: state.tail.pages,
      events: state.tail.events,
    },
    backfills: state.backfills.map((r) => ({
      id: r.id,
      from: iso(r.from),
      to: iso(r.to),
      pages: r.pages,
      events: r.events,
      state: r.completedAt === null ? (r.pages > 0 ? 'running' : 'queued') : (r.settleUntil ?? 0) > now ? 'settling' : 'done',
      settleUntil: r.settleUntil !== null ? iso(r.settleUntil) : null,
    })),
    stats: state.stats,
    run: state.run,
    config,
  };
}
