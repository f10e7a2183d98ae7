/**
 * The liveness group: trouble that is not a failed request but an input nobody here wrote or a state an org can get
 * into (odd signals, pages too large for history, a log Datadog refuses, a cursor Atlassian stops accepting or that
 * does not advance, a terminated run, short pages in a backfill and a late event, repeats, a Datadog outage). Each
 * case is driven as an operator would (the client's `start`, signals, `status`) and asks: did the org stop
 * progressing, did it say why, was anything lost or delivered twice, and how long until it delivered again. A
 * healthy org on the same workers is given events during every trouble, to show whether the trouble held it too.
 * test/workflow/liveness.test.ts runs the same cases as assertions; here they are measured.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { OrgNotRunningError, runEnding, runningOrg, type StartOrgOptions } from '../../client/org-control';
import { AuditPhase } from '../../shared/phase';
import { workflowIdForOrg } from '../../shared/org-workflow';
import { AtlassianEndpoint, usersContext, type StandinEventInput } from '../standins/atlassian-standin';
import { requestBackfillUpdate, resendDeadLettersSignal, resumeSignal } from '../../workflows/messages';
import type { OrgAuditStatus } from '../../workflows/org-audit-state';
import { bytes, seconds } from '../bench/number-format';
import { addPastEvents, pastRange } from './past-events';
import { addRecentEvents, FAULT_PAGE_SIZE } from './recent-events';
import { STALL_TIMEOUT_MS, waitForProgress, type Bench } from './reliability-bench';
import type { Settings } from './settings';
import { isStuck, printLivenessTable, type LivenessRow } from './table';

/**
 * The stall threshold the group's orgs are started with (`stallAfterMs`). An org that goes longer without
 * delivering any of its waiting events counts as stuck: by the collector's own measure it is not advancing.
 */
export const LIVENESS_STALL_AFTER_MS = 10_000;
/** How long status may take to say what is going on before the case counts as unreported. */
const REPORT_WITHIN_MS = 30_000;
/** How long the operator leaves an org paused or terminated before acting: longer than the stall threshold. */
const OPERATOR_DELAY_MS = 12_000;
const OTHER_ORG_EVENTS = 5;
/** Polled every second (every 2 s when quiet) with a budget no case runs out of: what a case measures is not pacing. */
const LIVENESS_START = {
  pageSize: FAULT_PAGE_SIZE,
  pollIntervalMs: 1_000,
  maxPollIntervalMs: 2_000,
  maxRequestsPerMinute: 600,
  stallAfterMs: LIVENESS_STALL_AFTER_MS,
} satisfies Partial<StartOrgOptions>;
/** About 135 bytes a user as the stand-in serves it (usersContext): events of about 200 KB. */
const LARGE_CONTEXT_USERS = 1_500;

interface Seen {
  said: string;
  at: number;
  status: OrgAuditStatus | undefined;
}

/** Asks `check` every 250 ms until it says something; null if it said nothing within REPORT_WITHIN_MS. */
async function firstSaid(check: () => Promise<{ said: string; status?: OrgAuditStatus } | null>): Promise<Seen | null> {
  const deadline = Date.now() + REPORT_WITHIN_MS;
  while (Date.now() < deadline) {
    // A query can fail while a run continues as new or a worker is busy: asked again, like an operator would.
    const answer = await check().catch(() => null);
    if (answer !== null) return { said: answer.said, at: Date.now(), status: answer.status };
    await sleep(250);
  }
  return null;
}

/** An org of a case: the events it was given and when, so that its waits and losses can be read off. */
class WatchedOrg {
  readonly orgId: string;
  private readonly addedAt = new Map<string, number>();

  constructor(
    private readonly bench: Bench,
    private seed: number
  ) {
    this.orgId = bench.newOrg();
  }

  /** Each batch with a seed of its own, since an org cannot hold an event ID twice. */
  addRecent(count: number, context?: StandinEventInput['context']): string[] {
    return this.track(addRecentEvents(this.bench, this.orgId, count, this.seed++, context));
  }

  track(ids: string[]): string[] {
    const at = Date.now();
    for (const id of ids) this.addedAt.set(id, at);
    return ids;
  }

  get expected(): string[] {
    return [...this.addedAt.keys()];
  }

  start(options: Partial<StartOrgOptions> = {}) {
    return this.bench.startCollecting({ orgId: this.orgId, ...LIVENESS_START, ...options });
  }

  deliveredAll(ids: readonly string[] = this.expected): boolean {
    return ids.every((id) => this.bench.wasDelivered(this.orgId, id));
  }

  /** Until the event's own log reached Datadog (a dead letter's stub does not count); null if it never did. */
  waitedFor(eventId: string): number | null {
    const delivered = this.bench.deliveriesOf(this.orgId).find((d) => d.eventId === eventId);
    return delivered ? delivered.at - this.addedAt.get(eventId)! : null;
  }

  /** The org's `status` until `describe` finds what it looks for in it. */
  statusSays(describe: (status: OrgAuditStatus) => string | null): Promise<Seen | null> {
    return firstSaid(async () => {
      const status = await this.bench.status(this.orgId);
      const said = describe(status);
      return said === null ? null : { said, status };
    });
  }

  /**
   * The longest stretch in which some event was waiting (added, not yet delivered) and Datadog received none of
   * the waiting ones; up to now for events still waiting. `parked` events are left out (a dead letter waits for
   * the operator by design).
   */
  longestWait(parked: ReadonlySet<string>): number {
    const firstDelivery = new Map<string, number>();
    for (const d of this.bench.deliveriesOf(this.orgId)) if (!firstDelivery.has(d.eventId)) firstDelivery.set(d.eventId, d.at);
    const points: Array<{ at: number; added: boolean }> = [];
    for (const [id, at] of this.addedAt) {
      if (parked.has(id)) continue;
      points.push({ at, added: true });
      const delivered = firstDelivery.get(id);
      if (delivered !== undefined) points.push({ at: Math.max(at, delivered), added: false });
    }
    // At one moment, additions first: a delivery ends a wait that has begun.
    points.sort((a, b) => a.at - b.at || Number(b.added) - Number(a.added));
    let waiting = 0;
    let since = 0;
    let longest = 0;
    for (const point of points) {
      if (point.added) {
        if (waiting++ === 0) since = point.at;
        continue;
      }
      longest = Math.max(longest, point.at - since);
      since = point.at;
      waiting--;
    }
    return waiting > 0 ? Math.max(longest, Date.now() - since) : longest;
  }

  /**
   * Waits for the org's events (bench.outcome: what has not arrived after STALL_TIMEOUT_MS without progress is
   * lost) and reads the row. The report's delay counts from `troubleAt`; the recovery is the next event after
   * `recoveryFrom`.
   */
  async row(
    name: string,
    seen: {
      report: Seen | null;
      troubleAt: number;
      recoveryFrom: { at: number; label: string } | null;
      otherOrg: Promise<LivenessRow['otherOrg']>;
      notes: string[];
      parked?: readonly string[];
    }
  ): Promise<LivenessRow> {
    const outcome = await this.bench.outcome(this.orgId, this.expected);
    return {
      case: name,
      longestWaitMs: this.longestWait(new Set(seen.parked)),
      report: seen.report && { said: seen.report.said, afterMs: seen.report.at - seen.troubleAt },
      expected: outcome.expected,
      lost: outcome.lost,
      duplicated: outcome.duplicated,
      recovery: seen.recoveryFrom && { ms: this.bench.recoveryAfter(this.orgId, seen.recoveryFrom.at), from: seen.recoveryFrom.label },
      otherOrg: await seen.otherOrg,
      notes: seen.notes,
    };
  }
}

/** The healthy org beside every case, on the same task queue and worker processes. */
export class OtherOrg {
  private constructor(
    private readonly bench: Bench,
    private readonly org: WatchedOrg
  ) {}

  static async start(bench: Bench): Promise<OtherOrg> {
    const org = new WatchedOrg(bench, 9_001);
    await org.start();
    return new OtherOrg(bench, org);
  }

  /** Gives it events now: how many arrived, and after how long the last did (within STALL_TIMEOUT_MS). */
  async deliversDuring(): Promise<LivenessRow['otherOrg']> {
    const ids = this.org.addRecent(OTHER_ORG_EVENTS);
    const deadline = Date.now() + STALL_TIMEOUT_MS;
    while (!this.org.deliveredAll(ids) && Date.now() < deadline) await sleep(50);
    const waits = ids.map((id) => this.org.waitedFor(id));
    const delivered = waits.filter((ms) => ms !== null);
    return { expected: ids.length, delivered: delivered.length, ms: delivered.length === ids.length ? Math.max(...delivered) : null };
  }

  /** Its outcome over the whole group, then stopped. */
  async stop(): Promise<{ expected: number; lost: number; duplicated: number }> {
    const { expected, lost, duplicated } = await this.bench.outcome(this.org.orgId, this.org.expected);
    await this.bench.stopCollecting(this.org.orgId);
    return { expected, lost, duplicated };
  }
}

/** The cases, in the order they run: one at a time, since some knobs (page cap, Datadog outage) hold every org. */
export function livenessCases(bench: Bench, other: OtherOrg, settings: Settings): Array<{ label: string; run: () => Promise<LivenessRow> }> {
  return [
    { label: 'liveness: pause and stop with odd payloads', run: () => oddSignals(bench, other) },
    { label: 'liveness: pages too large for Temporal payloads', run: () => oversizedPages(bench, other) },
    { label: 'liveness: a log Datadog refuses (400)', run: () => refusedLog(bench, other) },
    { label: 'liveness: a cursor Atlassian stops accepting', run: () => expiredCursor(bench, other) },
    { label: 'liveness: a cursor that does not advance', run: () => stuckCursor(bench, other) },
    { label: 'liveness: a terminated run, then start', run: () => terminatedRun(bench, other) },
    { label: 'liveness: short pages in a backfill, then a late event', run: () => shortBackfillPages(bench, other) },
    { label: 'liveness: repeats within and across pages', run: () => repeats(bench, other) },
    { label: `liveness: a Datadog outage of ${settings.livenessOutageSeconds} s`, run: () => datadogOutage(bench, other, settings) },
  ];
}

async function oddSignals(bench: Bench, other: OtherOrg): Promise<LivenessRow> {
  const org = new WatchedOrg(bench, 101);
  org.addRecent(10);
  await org.start();
  await waitForProgress(bench, org.orgId, () => org.deliveredAll());
  // What the Temporal CLI or the UI can send: a payload the client would never build.
  const raw = bench.client.workflow.getHandle(workflowIdForOrg(org.orgId));
  const pausedAt = Date.now();
  await raw.signal<[unknown]>('pause', { reason: 42 });
  const report = await org.statusSays((s) => (s.phase === AuditPhase.Paused && s.stats.lastRejectedMessage !== null ? 'paused + refused msg' : null));
  const requestsBefore = bench.atlassian.requestCount(org.orgId, AtlassianEndpoint.eventsStream);
  org.addRecent(10);
  const otherOrg = other.deliversDuring();
  await sleep(OPERATOR_DELAY_MS);
  const requestsWhilePaused = bench.atlassian.requestCount(org.orgId, AtlassianEndpoint.eventsStream) - requestsBefore;
  const resumedAt = Date.now();
  await raw.signal(resumeSignal);
  const row = await org.row('pause {reason: 42}, resume, stop {reason: [..]}', {
    report,
    troubleAt: pausedAt,
    recoveryFrom: { at: resumedAt, label: 'resume' },
    otherOrg,
    notes: [
      `status: phase ${report?.status?.phase ?? '?'} (reason "${report?.status?.paused?.reason ?? '?'}"), ` +
        `refused msg "${report?.status?.stats.lastRejectedMessage?.message ?? '?'}"`,
      `${requestsWhilePaused} events-stream requests in the ${seconds(OPERATOR_DELAY_MS)} it stayed paused, 10 events waiting`,
    ],
  });
  const result = await bench.stopCollecting(org.orgId, { reason: ['not', 'text'] });
  row.notes.push(
    result === null
      ? 'stop {reason: ["not", "text"]}: the run did not end within 30 s and was terminated'
      : `stop {reason: ["not", "text"]}: the run ended "${result.stoppedBecause}"; ${result.state.stats.messagesRejected} payloads refused in all, ` +
          `last "${result.state.stats.lastRejectedMessage?.message ?? '?'}"`
  );
  return row;
}

async function oversizedPages(bench: Bench, other: OtherOrg): Promise<LivenessRow> {
  const org = new WatchedOrg(bench, 201);
  const pageSize = 500;
  org.addRecent(24, usersContext(LARGE_CONTEXT_USERS));
  const eventBytes = Buffer.byteLength(JSON.stringify(bench.atlassian.events(org.orgId)[0]));
  const startedAt = Date.now();
  await org.start({ pageSize });
  const report = await org.statusSays((s) => (s.pageLimit < pageSize ? `pageLimit ${s.pageLimit}` : null));
  const otherOrg = other.deliversDuring();
  const firstPageAt = bench.atlassian.requests.find((r) => r.orgId === org.orgId && r.endpoint === AtlassianEndpoint.eventsStream)?.at ?? startedAt;
  const row = await org.row(`${org.expected.length} events of ${bytes(eventBytes)}, page size ${pageSize}`, {
    report,
    troubleAt: firstPageAt,
    recoveryFrom: { at: firstPageAt, label: 'the first page' },
    otherOrg,
    notes: [`status: pageLimit ${report?.status?.pageLimit ?? '?'} of ${pageSize}, last error "${report?.status?.stats.lastError?.message ?? '?'}"`],
  });
  await bench.stopCollecting(org.orgId);
  return row;
}

async function refusedLog(bench: Bench, other: OtherOrg): Promise<LivenessRow> {
  const org = new WatchedOrg(bench, 301);
  const ids = org.addRecent(15);
  const refused = ids[6]!;
  bench.datadog.setMalformedLogs([refused]);
  try {
    const requestsBefore = bench.datadog.requests.length;
    const startedAt = Date.now();
    const handle = await org.start();
    const report = await org.statusSays((s) => (s.deadLetters.some((d) => d.eventId === refused) ? 'deadLetters' : null));
    const otherOrg = other.deliversDuring();
    const refusedAt = bench.datadog.requests.slice(requestsBefore).find((r) => r.status === 400)?.at ?? startedAt;
    const rest = ids.filter((id) => id !== refused);
    await waitForProgress(bench, org.orgId, () => org.deliveredAll(rest));
    const stub = bench.datadog.received.find((log) => {
      const atlassian = log['atlassian'] as { event_id?: string; dead_letter?: unknown };
      return atlassian?.event_id === refused && atlassian.dead_letter !== undefined;
    });
    // The operator fixes what made the log malformed, then re-sends it.
    bench.datadog.setMalformedLogs(undefined);
    const resentAt = Date.now();
    await handle.signal(resendDeadLettersSignal, {});
    const cleared = await org.statusSays((s) => (s.deadLetters.length === 0 ? 'cleared' : null));
    const letter = report?.status?.deadLetters.find((d) => d.eventId === refused);
    const row = await org.row('one log refused with 400, then resend-dead-letters', {
      report,
      troubleAt: refusedAt,
      recoveryFrom: { at: resentAt, label: 'resend' },
      otherOrg,
      parked: [refused],
      notes: [
        `status: deadLetters [${letter ? `${letter.status} "${letter.reason}"` : '?'}], deadLettered ${report?.status?.stats.deadLettered ?? '?'}; ` +
          `stub in Datadog: ${stub ? JSON.stringify((stub['atlassian'] as { dead_letter: unknown }).dead_letter) : 'none'}`,
        `after resend-dead-letters: deadLetters ${cleared ? `empty after ${seconds(cleared.at - resentAt)}` : 'NOT empty within 30 s'}`,
      ],
    });
    const waited = org.waitedFor(refused);
    row.notes.push(`the refused log itself waited ${waited === null ? 'for ever' : seconds(waited)}, parked until the resend (left out of the longest wait)`);
    await bench.stopCollecting(org.orgId);
    return row;
  } finally {
    bench.datadog.setMalformedLogs(undefined);
  }
}

async function expiredCursor(bench: Bench, other: OtherOrg): Promise<LivenessRow> {
  const org = new WatchedOrg(bench, 401);
  org.addRecent(30);
  await org.start();
  await waitForProgress(bench, org.orgId, () => org.deliveredAll());
  const requestsBefore = bench.atlassian.requests.length;
  bench.atlassian.expireCursors(org.orgId);
  const expiredAt = Date.now();
  org.addRecent(30);
  const report = await org.statusSays((s) => (s.stats.cursorRecoveries > 0 ? `cursorRecoveries ${s.stats.cursorRecoveries}` : null));
  const otherOrg = other.deliversDuring();
  const refusedAt = bench.atlassian.requests.slice(requestsBefore).find((r) => r.orgId === org.orgId && r.status === 400)?.at ?? expiredAt;
  const row = await org.row('expireCursors (400 ADMIN-400-1)', {
    report,
    troubleAt: refusedAt,
    recoveryFrom: { at: refusedAt, label: 'the 400' },
    otherOrg,
    notes: [`status: last error "${report?.status?.stats.lastError?.message ?? '?'}"`],
  });
  row.notes.push(`afterwards: phase ${(await bench.status(org.orgId)).phase}`);
  await bench.stopCollecting(org.orgId);
  return row;
}

async function stuckCursor(bench: Bench, other: OtherOrg): Promise<LivenessRow> {
  const org = new WatchedOrg(bench, 501);
  org.addRecent(10);
  await org.start();
  await waitForProgress(bench, org.orgId, () => org.deliveredAll());
  const requestsBefore = bench.atlassian.requestCount(org.orgId, AtlassianEndpoint.eventsStream);
  bench.atlassian.injectFault(org.orgId, { kind: 'stuckCursor' }, 2);
  const injectedAt = Date.now();
  org.addRecent(10);
  const report = await org.statusSays((s) => (s.stats.cursorRecoveries > 0 ? `cursorRecoveries ${s.stats.cursorRecoveries}` : null));
  const otherOrg = other.deliversDuring();
  // Events after the restart: the stream reads on from where it restarted, not from the stuck cursor.
  const restartSeenAt = Date.now();
  org.addRecent(10);
  const row = await org.row('stuckCursor ×2', {
    report,
    troubleAt: injectedAt,
    recoveryFrom: { at: restartSeenAt, label: 'the restart' },
    otherOrg,
    notes: [`status: last error "${report?.status?.stats.lastError?.message ?? '?'}"`],
  });
  const requests = bench.atlassian.requestCount(org.orgId, AtlassianEndpoint.eventsStream) - requestsBefore;
  const status = await bench.status(org.orgId);
  row.notes.push(`${requests} events-stream requests from the fault to the end of the case (${seconds(Date.now() - injectedAt)}); afterwards phase ${status.phase}`);
  await bench.stopCollecting(org.orgId);
  return row;
}

async function terminatedRun(bench: Bench, other: OtherOrg): Promise<LivenessRow> {
  const org = new WatchedOrg(bench, 601);
  // A page a second, so that the termination lands while pages flow.
  const pace = { maxRequestsPerMinute: 60 };
  org.addRecent(100);
  const handle = await org.start(pace);
  await waitForProgress(bench, org.orgId, () => bench.distinctDelivered(org.orgId) >= 30);
  const terminatedAt = Date.now();
  await handle.terminate('reliability: terminated mid-stream');
  const deliveredWhenTerminated = bench.distinctDelivered(org.orgId);
  // What `atlassian-audit status` answers for an org whose run ended.
  const report = await firstSaid(async () => {
    try {
      await runningOrg(bench.client, org.orgId);
      return null;
    } catch (err) {
      return err instanceof OrgNotRunningError ? { said: 'status: not running' } : null;
    }
  });
  org.addRecent(10);
  const otherOrg = other.deliversDuring();
  await sleep(OPERATOR_DELAY_MS);
  const deliveredAtStart = bench.distinctDelivered(org.orgId);
  const startedAt = Date.now();
  const started = await bench.startAsOperator({ orgId: org.orgId, ...LIVENESS_START, ...pace });
  const resumed = await bench.status(org.orgId);
  const row = await org.row('terminated mid-stream, then start', {
    report,
    troubleAt: terminatedAt,
    recoveryFrom: { at: startedAt, label: 'start' },
    otherOrg,
    notes: [
      `start: ${started.resumedFrom ? `resumed from its ${runEnding(started.resumedFrom)} run` : 'started afresh'}, at ${resumed.stats.eventsShipped} events shipped; ` +
        `Datadog had ${deliveredWhenTerminated} of them at the termination, ${deliveredAtStart} at the start`,
    ],
  });
  await bench.stopCollecting(org.orgId);
  return row;
}

async function shortBackfillPages(bench: Bench, other: OtherOrg): Promise<LivenessRow> {
  const org = new WatchedOrg(bench, 701);
  const range = pastRange();
  const shortPage = 25;
  const pageSize = 100;
  org.track(addPastEvents(bench, org.orgId, 120, range, 702));
  bench.atlassian.setMaxStreamPageSize(shortPage);
  try {
    const handle = await org.start({ since: range.to, pageSize });
    const requestedAt = Date.now();
    await handle.executeUpdate(requestBackfillUpdate, { args: [range] });
    const report = await org.statusSays((s) => (s.backfills[0]?.state === 'settling' ? 'range settling' : null));
    const otherOrg = other.deliversDuring();
    await waitForProgress(bench, org.orgId, () => org.deliveredAll());
    // Processed now, its own time inside the range already read to its end: only the settling range delivers it.
    const lateAt = Date.now();
    org.track(addPastEvents(bench, org.orgId, 1, range, 703));
    const settled = report?.status?.backfills[0];
    const row = await org.row(`backfill served ${shortPage} a page (${pageSize} asked), a late event`, {
      report,
      troubleAt: requestedAt,
      recoveryFrom: { at: lateAt, label: 'the late event' },
      otherOrg,
      notes: [`status: range ${settled ? `${settled.state} after ${settled.events} events in ${settled.pages} pages, until ${settled.settleUntil}` : '?'}`],
    });
    await bench.stopCollecting(org.orgId);
    return row;
  } finally {
    bench.atlassian.setMaxStreamPageSize(undefined);
  }
}

async function repeats(bench: Bench, other: OtherOrg): Promise<LivenessRow> {
  const org = new WatchedOrg(bench, 801);
  org.addRecent(30);
  bench.atlassian.injectFault(org.orgId, { kind: 'duplicateEvent' });
  bench.atlassian.injectFault(org.orgId, { kind: 'overlappingCursor' });
  bench.atlassian.injectFault(org.orgId, { kind: 'unidentifiedElements', count: 2 });
  const startedAt = Date.now();
  await org.start();
  const report = await org.statusSays((s) => (s.stats.duplicatesDropped >= 2 ? `duplicatesDropped ${s.stats.duplicatesDropped}` : null));
  const otherOrg = other.deliversDuring();
  const row = await org.row('duplicateEvent, overlappingCursor, 2 unidentified', {
    report,
    troubleAt: startedAt,
    recoveryFrom: null,
    otherOrg,
    notes: [],
  });
  const status = await bench.status(org.orgId);
  const malformedLogs = new Set(bench.deliveriesOf(org.orgId).filter((d) => d.eventId.startsWith('malformed:')).map((d) => d.eventId)).size;
  row.notes.push(
    `status: duplicatesDropped ${status.stats.duplicatesDropped}, malformedEvents ${status.stats.malformedEvents}; ` +
      `${malformedLogs} distinct logs with atlassian.parse_error for the 2 identical unidentified elements`
  );
  await bench.stopCollecting(org.orgId);
  return row;
}

async function datadogOutage(bench: Bench, other: OtherOrg, settings: Settings): Promise<LivenessRow> {
  const org = new WatchedOrg(bench, 901);
  await org.start();
  await org.statusSays((s) => (s.phase === AuditPhase.Idle ? 'idle' : null));
  const requestsBefore = bench.datadog.requests.length;
  const outage = { kind: 'status', status: 503 } as const;
  const startedAt = Date.now();
  const endsAt = startedAt + settings.livenessOutageSeconds * 1_000;
  bench.datadog.startOutage(outage, endsAt);
  try {
    org.addRecent(10);
    const report = await org.statusSays((s) => (s.phase === AuditPhase.Stalled ? 'phase stalled' : null));
    const otherOrg = other.deliversDuring();
    const refusedAt = bench.datadog.requests.slice(requestsBefore).find((r) => r.status === 503)?.at ?? startedAt;
    const row = await org.row(`Datadog 503 for ${settings.livenessOutageSeconds} s (stallAfterMs ${seconds(LIVENESS_STALL_AFTER_MS)})`, {
      report,
      troubleAt: refusedAt,
      recoveryFrom: { at: endsAt, label: 'its end' },
      otherOrg,
      notes: [`status: stalled "${report?.status?.stalled?.reason ?? '?'}"; the other org's events waited for the same outage`],
    });
    const after = await org.statusSays((s) => (s.stalled === null ? `phase ${s.phase}` : null));
    row.notes.push(`after the catch-up: ${after ? `${after.said}, stalled cleared` : 'still stalled 30 s later'}`);
    await bench.stopCollecting(org.orgId);
    return row;
  } finally {
    // An outage that ends in the past is over.
    bench.datadog.startOutage(outage, 0);
  }
}

/** What no liveness case may show: an org stuck without saying why, one that never delivered again, a held neighbour. */
export function livenessFindings(rows: readonly LivenessRow[]): string[] {
  return rows.flatMap((r) => [
    ...(isStuck(r, LIVENESS_STALL_AFTER_MS) && r.report === null ? [`${r.case}: waited ${seconds(r.longestWaitMs)} without status saying why`] : []),
    ...(r.recovery !== null && r.recovery.ms === null ? [`${r.case}: delivered nothing after ${r.recovery.from}`] : []),
    ...(r.otherOrg.delivered < r.otherOrg.expected ? [`${r.case}: the other org delivered ${r.otherOrg.delivered}/${r.otherOrg.expected}`] : []),
  ]);
}

export function printLiveness(rows: readonly LivenessRow[], otherOrg: { expected: number; lost: number; duplicated: number }): void {
  printLivenessTable(rows, LIVENESS_STALL_AFTER_MS);
  console.log('');
  for (const row of rows) console.log(`${row.case}:\n${row.notes.map((note) => `  ${note}\n`).join('')}`.trimEnd());
  console.log(`other org, beside every case: ${otherOrg.expected} events, ${otherOrg.lost} lost, ${otherOrg.duplicated} duplicated`);
  const findings = livenessFindings(rows);
  console.log(
    findings.length === 0
      ? `liveness: every org that waited over ${seconds(LIVENESS_STALL_AFTER_MS)} said why within ${seconds(REPORT_WITHIN_MS)}, every one delivered again, the other org always delivered`
      : `liveness findings:\n${findings.map((f) => `  ${f}`).join('\n')}`
  );
}
