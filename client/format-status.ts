import type { OrgAuditStatus } from '../workflows/org-audit-state';
import type { OrgListing } from './org-control';

/** `status` for a person: the facts an operator checks first, one per line. */
export function formatStatus(status: OrgAuditStatus): string {
  const lines = [
    `org:          ${status.orgId}`,
    `phase:        ${status.phase}`,
    `watermark:    ${status.tail.watermark ?? 'none yet'} (lag ${status.tail.lagSeconds ?? '?'} s)`,
    `tail:         since ${status.tail.since}, ${status.tail.events} events in ${status.tail.pages} pages, next poll ${status.tail.nextPollAt}`,
    `shipped:      ${status.stats.eventsShipped} events, ${status.stats.pages} pages, ${status.stats.requests} requests, ${status.stats.rateLimited} × 429`,
    `credentials:  atlassian ${status.credentials.atlassian.ref} (v${status.credentials.atlassian.version}), datadog ${status.credentials.datadog.ref} (v${status.credentials.datadog.version})`,
  ];
  if (status.config.paceGroup !== undefined) lines.push(`pace group:   ${status.config.paceGroup} (its budget is shared with the group's other orgs)`);
  if (status.paused) lines.push(`paused:       since ${new Date(status.paused.at).toISOString()}: ${status.paused.reason}`);
  if (status.awaitingCredentials) lines.push(`awaiting:     ${status.awaitingCredentials.owner} credentials: ${status.awaitingCredentials.message}`);
  if (status.rateLimitedUntil) lines.push(`rate-limited: until ${status.rateLimitedUntil}`);
  if (status.awaitingEntitlement) lines.push(`entitlement:  since ${new Date(status.awaitingEntitlement.since).toISOString()}: ${status.awaitingEntitlement.message}`);
  if (status.retryAt) lines.push(`next try:     ${status.retryAt} (or at once on resume)`);
  if (status.stalled) lines.push(`stalled:      since ${new Date(status.stalled.since).toISOString()}: ${status.stalled.reason}`);
  if (status.pageLimit < status.config.pageSize) lines.push(`page size:    ${status.pageLimit} (shrunk from ${status.config.pageSize}: refused by Atlassian, or too large to ship at once)`);
  if (status.stats.deadLettered > 0) {
    lines.push(`dead letters: ${status.stats.deadLettered} in all; kept now: ${status.deadLetters.map((d) => d.eventId).join(', ') || 'none'} (resend-dead-letters --org ${status.orgId})`);
  }
  if (status.stats.pagesLost > 0) lines.push(`pages lost:   ${status.stats.pagesLost} read again (their worker was gone before they were shipped)`);
  if (status.stats.cursorRecoveries > 0) lines.push(`recoveries:   ${status.stats.cursorRecoveries} stream restarts from the watermark`);
  if (status.stats.lastRejectedMessage) {
    lines.push(`refused msg:  ${new Date(status.stats.lastRejectedMessage.at).toISOString()}: ${status.stats.lastRejectedMessage.message} (${status.stats.messagesRejected} in all)`);
  }
  for (const range of status.backfills) {
    lines.push(`backfill #${range.id}:  ${range.from} → ${range.to} ${range.state}, ${range.events} events in ${range.pages} pages`);
  }
  if (status.stats.lastError) lines.push(`last error:   ${new Date(status.stats.lastError.at).toISOString()}: ${status.stats.lastError.message}`);
  return lines.join('\n');
}

export function formatOrgList(orgs: OrgListing[]): string {
  if (orgs.length === 0) return 'no running organizations';
  const rows = orgs.map((o) => [o.orgId, o.phase, o.status?.tail.watermark ?? '-', o.status?.tail.lagSeconds?.toString() ?? '-']);
  const header = ['ORG', 'PHASE', 'WATERMARK', 'LAG_S'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [header, ...rows].map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}
