import type { AuditPhase } from '../shared/phase';
import { iso } from './backfill-ranges';
import type { OrgAuditConfig, OrgAuditState } from './org-audit-state';
import { pendingBackfills, tailLagMs } from './org-audit-state';

/** The markdown the Temporal UI shows as the workflow's current details (no history event, refreshed every loop). */
export function renderCurrentDetails(config: OrgAuditConfig, state: OrgAuditState, phase: AuditPhase, now: number): string {
  const lagMs = tailLagMs(state.tail, now);
  const lines = [
    `**Org** \`${config.orgId}\` · **phase** \`${phase}\``,
    // The UI's markdown needs a blank line before a list.
    '',
    `- Watermark (processed at): ${state.tail.watermark !== null ? iso(state.tail.watermark) : 'none yet'}`,
    `- Lag: ${lagMs === null ? 'unknown' : `${Math.round(lagMs / 1000)} s`} · next tail poll ${iso(state.tail.nextPollAt)}`,
    `- Shipped: ${state.stats.eventsShipped} events in ${state.stats.pages} pages · last ship ${
      state.stats.lastShipAt !== null ? iso(state.stats.lastShipAt) : 'never'
    }`,
    `- Requests: ${state.stats.requests} · 429s: ${state.stats.rateLimited}`,
  ];
  if (state.paused) lines.push(`- Paused since ${iso(state.paused.at)}: ${state.paused.reason}`);
  if (state.awaitingCredentials) {
    lines.push(`- Awaiting ${state.awaitingCredentials.owner} credentials: ${state.awaitingCredentials.message}`);
  }
  if (state.rateLimitedUntil !== null && state.rateLimitedUntil > now) lines.push(`- Rate-limited until ${iso(state.rateLimitedUntil)}`);
  if (state.awaitingEntitlement) lines.push(`- Awaiting the audit log entitlement since ${iso(state.awaitingEntitlement.since)}: ${state.awaitingEntitlement.message}`);
  if (state.stalled) lines.push(`- Stalled since ${iso(state.stalled.since)}: ${state.stalled.reason}`);
  if (state.stats.deadLettered > 0) lines.push(`- Dead letters: ${state.stats.deadLettered} (kept: ${state.deadLetters.length})`);
  if (state.stats.pagesLost > 0) lines.push(`- Pages read again after their worker was gone: ${state.stats.pagesLost}`);
  if (state.stats.lastRejectedMessage) lines.push(`- Refused message: ${state.stats.lastRejectedMessage.message}`);
  const queued = pendingBackfills(state);
  if (queued.length > 0) {
    lines.push(`- Backfill ranges queued: ${queued.length}`);
    for (const range of queued) {
      lines.push(`  - #${range.id} ${iso(range.from)} → ${iso(range.to)}: ${range.pages} pages, ${range.events} events`);
    }
  }
  if (state.stats.lastError) lines.push(`- Last error (${iso(state.stats.lastError.at)}): ${state.stats.lastError.message}`);
  return lines.join('\n');
}
