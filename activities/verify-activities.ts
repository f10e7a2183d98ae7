/**
 * The activities of `verifyRangeWorkflow` (workflows/verify-range-workflow.ts). Each reads what it needs where it
 * runs and returns only compact data: counts per hour, the IDs of one hour, how much a repair shipped. Events and
 * logs never pass through history; keys are resolved here from references, never carried.
 */
import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError } from '@temporalio/client';
import { z } from 'zod';
import { isCredentialRef, type CredentialRef } from '../shared/credential-ref';
import { workflowIdForOrg } from '../shared/org-workflow';
import { statusQuery } from '../workflows/messages';
import { HOUR_MS } from '../shared/verify/verify-input';
import { compareIds, type DatadogHourCounts, type HourComparison, type HourCounts } from '../shared/verify/verify-report';
import type { OrgVerifySettings } from '../shared/verify/verify-settings';
import type { DatadogLog } from './datadog-log';
import { joinDatadogTags } from './datadog-tags';
import { withHeartbeats } from './heartbeat-ticker';
import { mapEvents, type MapDependencies } from './map';
import type { PollDependencies } from './poll';
import { shipLogs, type ShipDependencies } from './ship';
import { countStream, readRange, type AtlassianPacing, type StreamRead, type StreamReadOutcome } from './verify-atlassian';
import { DatadogLogsQuery, type DatadogAnswer, type DatadogQueryDependencies } from './verify-datadog-api';

export interface VerifyActivityDependencies {
  poll: PollDependencies;
  datadog: DatadogQueryDependencies;
  map: MapDependencies;
  ship: ShipDependencies;
}

/** One count activity reads Atlassian this long at most, then hands its progress back, so the UI shows it. */
const COUNT_SLICE_MS = 60_000;

/** A wait the workflow sleeps on a timer: the service's budget is spent for longer than an activity should sleep. */
export interface Waiting {
  kind: 'waiting';
  service: 'atlassian' | 'datadog';
  retryAfterMs: number;
  pacing: AtlassianPacing;
  requests: number;
}

const credentialRefSchema = z.object({ ref: z.string().refine(isCredentialRef), version: z.number().int() });
/** The part of the collector's status a verify uses; a state from an older version may lack the page limit. */
const orgStatusSchema = z.object({
  credentials: z.object({ atlassian: credentialRefSchema, datadog: credentialRefSchema }),
  config: z.object({ maxRequestsPerMinute: z.number().int().min(1) }),
  pageLimit: z.number().int().min(1).max(500).default(200),
});

/**
 * The org's keys and Atlassian budget as its collector's `status` query answers them (a stopped run answers too, by
 * replaying its history); null when the org has no collector or it does not answer.
 */
export async function verifyOrgSettings(input: { orgId: string }): Promise<OrgVerifySettings | null> {
  const context = Context.current();
  try {
    const status = orgStatusSchema.parse(await context.client.workflow.getHandle(workflowIdForOrg(input.orgId)).query(statusQuery));
    return { atlassian: status.credentials.atlassian, datadog: status.credentials.datadog, maxRequestsPerMinute: status.config.maxRequestsPerMinute, pageLimit: status.pageLimit };
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) {
      context.log.warn("The org's collector did not answer its status query: the verify uses the default keys and budget", {
        orgId: input.orgId,
        error: err instanceof Error ? err.message.split('\n')[0] : String(err),
      });
    }
    return null;
  }
}

/** One slice of a count: a stream read from where the last slice stopped (`cursor` null for the first). */
export type CountAtlassianInput = Omit<StreamRead, 'stopAfter'>;

export interface CountAtlassianOutcome extends StreamReadOutcome {
  /** Events of this slice per hour; the workflow adds the slices up. */
  counts: HourCounts;
  undated: number;
}

/** Counts Atlassian's events of the range by hour, a slice of at most a minute of reading at a time. */
export async function countAtlassian(deps: VerifyActivityDependencies, input: CountAtlassianInput): Promise<CountAtlassianOutcome> {
  const { counts, undated, outcome } = await countStream(deps.poll, { ...input, stopAfter: deps.poll.now() + COUNT_SLICE_MS });
  return { ...outcome, counts, undated };
}

export interface CountDatadogInput {
  orgId: string;
  credential: CredentialRef;
  from: number;
  to: number;
  indexes: string[];
}

export async function countDatadog(deps: VerifyActivityDependencies, input: CountDatadogInput): Promise<DatadogAnswer<DatadogHourCounts>> {
  const datadog = await DatadogLogsQuery.connect(deps.datadog, input.credential);
  return datadog.hourCounts(input.orgId, { from: input.from, to: input.to }, input.indexes);
}

export interface CompareHourInput {
  orgId: string;
  atlassianCredential: CredentialRef;
  datadogCredential: CredentialRef;
  /** The hour's start, ISO. */
  hour: string;
  indexes: string[];
  pacing: AtlassianPacing;
  /** Missing and extra IDs listed at most (the counts are whole). */
  listUpTo: number;
}

export type CompareHourOutcome = { kind: 'compared'; comparison: HourComparison; pacing: AtlassianPacing; requests: number } | Waiting;

/**
 * Compares one hour ID by ID: Datadog's first, since its budget is the one more likely spent, so that a wait for it
 * costs no Atlassian request; then the hour read again from Atlassian.
 */
export async function compareHour(deps: VerifyActivityDependencies, input: CompareHourInput): Promise<CompareHourOutcome> {
  const from = Date.parse(input.hour);
  const datadog = await DatadogLogsQuery.connect(deps.datadog, input.datadogCredential);
  const held = await datadog.idsOfHour(input.orgId, from, input.indexes);
  if (held.kind === 'rateLimited') return { kind: 'waiting', service: 'datadog', retryAfterMs: held.retryAfterMs, pacing: input.pacing, requests: 0 };
  const { elements, outcome } = await readRange(deps.poll, { orgId: input.orgId, credential: input.atlassianCredential, from, to: from + HOUR_MS, pacing: input.pacing });
  if (outcome.kind !== 'end') return waitingFor(deps, outcome);
  const comparison = compareIds(input.hour, elements.map((element) => element.id), held.value, input.listUpTo);
  return { kind: 'compared', comparison, pacing: outcome.pacing, requests: outcome.requests };
}

export interface RepairHourInput {
  orgId: string;
  atlassianCredential: CredentialRef;
  datadogCredential: CredentialRef;
  /** The hour's start, ISO. */
  hour: string;
  /** The hour's missing events, as its comparison listed them. */
  eventIds: string[];
  pacing: AtlassianPacing;
}

export type RepairHourOutcome =
  | { kind: 'repaired'; shipped: number; redated: number; deadLettered: number; notFound: number; pacing: AtlassianPacing; requests: number }
  | Waiting;

/**
 * Re-ships exactly the listed events of one hour: read again from Atlassian by time range, mapped as the collector
 * maps them (origin `backfill`: a read by range), marked repaired, and shipped by the collector's ship code, which
 * dates at ingest what lies outside Datadog's 18-hour window.
 *
 * shipLogs resumes a retried attempt from the progress it heartbeated, by position in its list of logs: the list is
 * in the input's order, so every attempt ships the same list, and until shipping starts this activity heartbeats
 * what the last attempt left, so that an attempt failing while it reads does not make the next one ship from the start.
 */
export async function repairHour(deps: VerifyActivityDependencies, input: RepairHourInput): Promise<RepairHourOutcome> {
  const context = Context.current();
  const from = Date.parse(input.hour);
  const prepared = await withHeartbeats(
    async () => {
      const { elements, outcome } = await readRange(deps.poll, { orgId: input.orgId, credential: input.atlassianCredential, from, to: from + HOUR_MS, pacing: input.pacing });
      if (outcome.kind !== 'end') return { outcome, logs: null };
      const byId = new Map(elements.map((element) => [element.id, element]));
      const found = input.eventIds.flatMap((id) => byId.get(id) ?? []);
      const logs = await mapEvents(deps.map, { orgId: input.orgId, origin: 'backfill', events: found, atlassianCredential: input.atlassianCredential });
      return { outcome, logs: logs.map(markRepaired) };
    },
    () => context.info.heartbeatDetails
  );
  const { outcome, logs } = prepared;
  if (logs === null) return waitingFor(deps, outcome);
  const shipped = logs.length === 0 ? null : await shipLogs(deps.ship, { orgId: input.orgId, credential: input.datadogCredential, logs });
  return {
    kind: 'repaired',
    shipped: shipped?.accepted ?? 0,
    redated: shipped?.redated ?? 0,
    deadLettered: shipped?.deadLettered.length ?? 0,
    notFound: input.eventIds.length - logs.length,
    pacing: outcome.pacing,
    requests: outcome.requests,
  };
}

/** The tag `repaired:true` and `atlassian.repaired: true`: a repaired log is found, and told apart, in Datadog. */
function markRepaired(log: DatadogLog): DatadogLog {
  return { ...log, ddtags: joinDatadogTags([...log.ddtags.split(','), 'repaired:true']), atlassian: { ...log.atlassian, repaired: true } };
}

function waitingFor(deps: VerifyActivityDependencies, outcome: StreamReadOutcome): Waiting {
  return {
    kind: 'waiting',
    service: 'atlassian',
    retryAfterMs: Math.max(0, outcome.pacing.nextRequestAt - deps.poll.now()),
    pacing: outcome.pacing,
    requests: outcome.requests,
  };
}

export function createVerifyActivities(deps: VerifyActivityDependencies) {
  return {
    verifyOrgSettings,
    verifyCountAtlassian: (input: CountAtlassianInput) => withHeartbeats(() => countAtlassian(deps, input)),
    verifyCountDatadog: (input: CountDatadogInput) => withHeartbeats(() => countDatadog(deps, input)),
    verifyCompareHour: (input: CompareHourInput) => withHeartbeats(() => compareHour(deps, input)),
    verifyRepairHour: (input: RepairHourInput) => repairHour(deps, input),
  };
}
