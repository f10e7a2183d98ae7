/**
 * What Datadog holds of an org, asked through its Logs query APIs (reference datadog-logs.md, "Logs APIs used to
 * check what Datadog holds"): counts per hour from Logs Aggregate, the event IDs of one hour from Logs Search. Both
 * need the API key (the org's Datadog credential reference) and an application key, which is the worker's own
 * secret, read from its environment as `datadog apply` reads it (DD_APP_KEY, or DD_APPLICATION_KEY): the credential
 * policy lets no reference name it (activities/credentials.ts, WORKER_SECRET_VARIABLES), and it never leaves the
 * worker. The API is at `https://api.<DD_SITE>`, or DD_API_BASE_URL.
 *
 * Event time, not Datadog's time: a log shipped within Datadog's window is dated at its event's time, but one shipped
 * later was dated at ingest (`redated:true`, its event time in `atlassian.redated.original_timestamp`; see
 * redateOutsideWindow in ship.ts). Each question is asked of both kinds: the first by Datadog's time, the second by
 * that attribute (a measure in Datadog), over Datadog's time from the range's start until now.
 *
 * Datadog's rate limits: a 429 waits for `X-RateLimit-Reset` (seconds), and an answer with `X-RateLimit-Remaining: 0`
 * holds the next request until then; a wait longer than an activity should sleep is handed back as `rateLimited`.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { request, type Dispatcher } from 'undici';
import { z } from 'zod';
import type { CredentialRef } from '../shared/credential-ref';
import { CredentialOwner } from '../shared/failure-types';
import { HOUR_MS, type VerifiedRange } from '../shared/verify/verify-input';
import { hourOf, type DatadogHourCounts } from '../shared/verify/verify-report';
import { resolveCredential, type CredentialPolicy } from './credentials';
import { datadogTag } from './datadog-tags';
import { transportFailure } from './http-client';
import { ATLASSIAN_EVENT_LOGS_SOURCE } from './map-event';
import { rateLimitWaitMs } from './rate-limit-headers';
import { MAX_WAIT_IN_ACTIVITY_MS } from './verify-atlassian';
import { VerifyFailureType } from './verify-failures';

export interface DatadogQueryDependencies {
  dispatcher: Dispatcher;
  /** Where the application key, DD_SITE and DD_API_BASE_URL are read, and `env:` references resolved. */
  env: NodeJS.ProcessEnv;
  /** @default DEFAULT_CREDENTIAL_POLICY */
  credentialPolicy?: CredentialPolicy;
  now: () => number;
}

export type DatadogAnswer<T> = { kind: 'answered'; value: T } | { kind: 'rateLimited'; retryAfterMs: number };

const SEARCH = '/api/v2/logs/events/search';
const AGGREGATE = '/api/v2/logs/analytics/aggregate';
type QueryApi = typeof SEARCH | typeof AGGREGATE;

/** Logs per search page: the largest Datadog is reported to accept. */
const SEARCH_PAGE_LIMIT = 1000;

/** Hours per aggregate request: a week of hourly points, well within what Datadog returns for one timeseries. */
const HOURS_PER_AGGREGATE = 168;

/** Datadog's query limits are per hour at the longest: a reset further off than that is not believed. */
const MAX_DATADOG_WAIT_MS = 3_600_000;

/** Where re-dated logs keep their event time (ship.ts, redateOutsideWindow). */
const ORIGINAL_TIMESTAMP = '@atlassian.redated.original_timestamp';

const environmentSchema = z.object({
  applicationKey: z
    .string({ error: 'the worker has no Datadog application key: set DD_APP_KEY (or DD_APPLICATION_KEY) in its environment; verify reads logs with it' })
    .min(1),
  DD_SITE: z.string().regex(/^[a-z0-9.-]+$/, { error: 'DD_SITE must be a Datadog site such as datadoghq.com' }).default('datadoghq.com'),
  // Not echoed when invalid: a base URL may carry credentials of a proxy.
  DD_API_BASE_URL: z.url({ protocol: /^https?$/, error: 'DD_API_BASE_URL must be an http:// or https:// URL' }).optional(),
});

const seriesSchema = z.array(z.object({ time: z.string(), value: z.number() }));
const aggregateAnswerSchema = z.object({
  data: z.object({
    buckets: z.array(
      z.object({
        by: z.record(z.string(), z.unknown()).default({}),
        computes: z.record(z.string(), z.union([z.number(), seriesSchema, z.string()])),
      })
    ),
  }),
});
const searchAnswerSchema = z.object({
  data: z.array(
    z.object({
      attributes: z.looseObject({
        timestamp: z.string().optional(),
        attributes: z.looseObject({ atlassian: z.looseObject({ event_id: z.unknown() }).optional() }).optional(),
      }),
    })
  ),
  meta: z.looseObject({ page: z.looseObject({ after: z.string().optional() }).optional() }).optional(),
});
/** v2 APIs answer `{errors: ["…"]}` or `{errors: [{title, detail}]}`. */
const errorBodySchema = z.object({
  errors: z.array(z.union([z.string(), z.looseObject({ title: z.string().optional(), detail: z.string().optional() })])),
});

interface LogFilter {
  query: string;
  from: string;
  to: string;
  indexes: string[];
}

/** One verify activity's conversation with Datadog's Logs query APIs, keys resolved once. */
export class DatadogLogsQuery {
  /** Epoch ms before which no request goes: Datadog said its budget is spent until then. */
  private notBefore = 0;

  private constructor(
    private readonly deps: DatadogQueryDependencies,
    private readonly baseUrl: string,
    private readonly keys: { apiKey: string; applicationKey: string }
  ) {}

  static async connect(deps: DatadogQueryDependencies, credential: CredentialRef): Promise<DatadogLogsQuery> {
    const parsed = environmentSchema.safeParse({
      applicationKey: nonEmpty(deps.env.DD_APP_KEY) ?? nonEmpty(deps.env.DD_APPLICATION_KEY),
      DD_SITE: nonEmpty(deps.env.DD_SITE),
      DD_API_BASE_URL: nonEmpty(deps.env.DD_API_BASE_URL),
    });
    if (!parsed.success) {
      throw ApplicationFailure.create({ type: VerifyFailureType.DatadogQueryNotConfigured, message: parsed.error.issues[0]!.message, nonRetryable: true });
    }
    const apiKey = await resolveCredential(credential, CredentialOwner.Datadog, deps.env, deps.credentialPolicy);
    const { applicationKey, DD_SITE, DD_API_BASE_URL } = parsed.data;
    return new DatadogLogsQuery(deps, (DD_API_BASE_URL ?? `https://api.${DD_SITE}`).replace(/\/+$/, ''), { apiKey, applicationKey });
  }

  /** The org's logs per hour of event time in `range`, both kinds together. */
  async hourCounts(orgId: string, range: VerifiedRange, indexes: string[]): Promise<DatadogAnswer<DatadogHourCounts>> {
    const counts: DatadogHourCounts = {};
    const add = (hour: string, logs: number, distinctIds: number) => {
      const held = counts[hour] ?? { logs: 0, distinctIds: 0 };
      counts[hour] = { logs: held.logs + logs, distinctIds: held.distinctIds + distinctIds };
    };
    for (let from = range.from; from < range.to; from += HOURS_PER_AGGREGATE * HOUR_MS) {
      const part = { from, to: Math.min(range.to, from + HOURS_PER_AGGREGATE * HOUR_MS) };
      const [direct, redated] = filtersOf(orgId, part, indexes);
      const byTime = await this.post(AGGREGATE, {
        compute: [
          { aggregation: 'count', type: 'timeseries', interval: '1h' },
          { aggregation: 'cardinality', metric: '@atlassian.event_id', type: 'timeseries', interval: '1h' },
        ],
        filter: direct,
      }, aggregateAnswerSchema);
      if (byTime.kind === 'rateLimited') return byTime;
      for (const bucket of byTime.value.data.buckets) {
        const logs = seriesOf(bucket.computes['c0']);
        const distinct = new Map(seriesOf(bucket.computes['c1']).map((point) => [hourOf(Date.parse(point.time)), point.value]));
        for (const point of logs) add(hourOf(Date.parse(point.time)), point.value, distinct.get(hourOf(Date.parse(point.time))) ?? 0);
      }
      const byEventTime = await this.post(AGGREGATE, {
        compute: [{ aggregation: 'count' }, { aggregation: 'cardinality', metric: '@atlassian.event_id' }],
        filter: redated,
        group_by: [{ facet: ORIGINAL_TIMESTAMP, histogram: { interval: HOUR_MS, min: part.from, max: part.to - 1 } }],
      }, aggregateAnswerSchema);
      if (byEventTime.kind === 'rateLimited') return byEventTime;
      for (const bucket of byEventTime.value.data.buckets) {
        const start = Number(bucket.by[ORIGINAL_TIMESTAMP]);
        if (Number.isFinite(start)) add(hourOf(start), numberOf(bucket.computes['c0']), numberOf(bucket.computes['c1']));
      }
    }
    return { kind: 'answered', value: counts };
  }

  /** The event ID of every log of the org for the hour of event time starting at `hour`, repeats kept. */
  async idsOfHour(orgId: string, hour: number, indexes: string[]): Promise<DatadogAnswer<string[]>> {
    const range = { from: hour, to: hour + HOUR_MS };
    const ids: string[] = [];
    const [direct, redated] = filtersOf(orgId, range, indexes);
    // Datadog may count a log at the hour's very end into both hours; a log dated at its event's time settles it by
    // its timestamp. The re-dated ones are bounded by their event time in the query itself.
    for (const { filter, byTimestamp } of [{ filter: direct, byTimestamp: true }, { filter: redated, byTimestamp: false }]) {
      let cursor: string | undefined;
      do {
        const page = await this.post(SEARCH, { filter, page: { limit: SEARCH_PAGE_LIMIT, ...(cursor && { cursor }) }, sort: 'timestamp' }, searchAnswerSchema);
        if (page.kind === 'rateLimited') return page;
        for (const { attributes } of page.value.data) {
          const id = attributes.attributes?.atlassian?.event_id;
          const time = attributes.timestamp === undefined ? Number.NaN : Date.parse(attributes.timestamp);
          if (typeof id === 'string' && (!byTimestamp || (time >= range.from && time < range.to))) ids.push(id);
        }
        cursor = page.value.meta?.page?.after;
      } while (cursor !== undefined);
    }
    return { kind: 'answered', value: ids };
  }

  private async post<T>(api: QueryApi, body: object, schema: z.ZodType<T>): Promise<DatadogAnswer<T>> {
    for (;;) {
      const waitMs = this.notBefore - this.deps.now();
      if (waitMs > MAX_WAIT_IN_ACTIVITY_MS) return { kind: 'rateLimited', retryAfterMs: waitMs };
      if (waitMs > 0) await Context.current().sleep(waitMs);
      let response: Dispatcher.ResponseData;
      let text: string;
      try {
        response = await request(`${this.baseUrl}${api}`, {
          method: 'POST',
          dispatcher: this.deps.dispatcher,
          headers: {
            'content-type': 'application/json',
            accept: 'application/json',
            'dd-api-key': this.keys.apiKey,
            'dd-application-key': this.keys.applicationKey,
          },
          body: JSON.stringify(body),
          signal: Context.current().cancellationSignal,
        });
        text = await response.body.text();
      } catch (err) {
        throw transportFailure('Datadog', err);
      }
      const status = response.statusCode;
      if (status === 429 || response.headers['x-ratelimit-remaining'] === '0') {
        this.notBefore = this.deps.now() + datadogWaitMs(response.headers, this.deps.now());
      }
      if (status === 429) continue;
      return { kind: 'answered', value: this.answerOf(api, status, text, schema) };
    }
  }

  private answerOf<T>(api: QueryApi, status: number, text: string, schema: z.ZodType<T>): T {
    const label = `POST ${api}`;
    if (status === 401 || status === 403) {
      throw ApplicationFailure.create({
        type: VerifyFailureType.DatadogQueryAccessDenied,
        message:
          `Datadog refused ${label} (${status}): check that the org's Datadog API key and the worker's DD_APP_KEY are keys of ` +
          'one Datadog organization, and that the application key may read logs (logs_read_data, logs_read_index_data)',
        nonRetryable: true,
      });
    }
    if (status === 400) {
      throw ApplicationFailure.create({
        type: VerifyFailureType.DatadogQueryRejected,
        message: `Datadog refused ${label} as malformed (400${this.detailOf(text)})`,
        nonRetryable: true,
      });
    }
    if (status < 200 || status > 299) {
      throw ApplicationFailure.create({ type: VerifyFailureType.DatadogQueryUnavailable, message: `Datadog answered ${label} with ${status}` });
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw ApplicationFailure.create({ type: VerifyFailureType.DatadogQueryUnavailable, message: `Datadog answered ${label} with a body that is not JSON` });
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw ApplicationFailure.create({
        type: VerifyFailureType.DatadogQueryUnavailable,
        message: `Datadog answered ${label} with an unexpected body (${issue.path.join('.') || 'top level'}: ${issue.message})`,
      });
    }
    return parsed.data;
  }

  /** `: <what Datadog said>`, on one short line and without the keys; '' when it said nothing readable. */
  private detailOf(text: string): string {
    let parsed;
    try {
      parsed = errorBodySchema.safeParse(JSON.parse(text));
    } catch {
      return '';
    }
    if (!parsed.success) return '';
    const said = parsed.data.errors.flatMap((error) => (typeof error === 'string' ? error : (error.detail ?? error.title ?? []))).join('; ');
    const scrubbed = [this.keys.apiKey, this.keys.applicationKey].reduce((line, key) => line.split(key).join('[redacted]'), said).replace(/\s+/g, ' ');
    return scrubbed === '' ? '' : `: ${scrubbed.length > 300 ? `${scrubbed.slice(0, 300)}…` : scrubbed}`;
  }
}

/**
 * The two filters of the org's logs for a range of event time: logs dated at their event's time (Datadog's time is the
 * event time), and re-dated ones (Datadog's time is their shipping, after the range's start). Only logs that carry an
 * event ID count: nothing else of the org can be compared with Atlassian.
 */
function filtersOf(orgId: string, range: VerifiedRange, indexes: string[]): [LogFilter, LogFilter] {
  const orgTag = datadogTag('org_id', orgId);
  if (orgTag === undefined) {
    throw ApplicationFailure.create({ type: VerifyFailureType.DatadogQueryRejected, message: 'the org ID makes no Datadog tag', nonRetryable: true });
  }
  const base = `source:${ATLASSIAN_EVENT_LOGS_SOURCE} ${orgTag} @atlassian.event_id:*`;
  return [
    { query: `${base} -redated:true`, from: String(range.from), to: String(range.to), indexes },
    { query: `${base} redated:true ${ORIGINAL_TIMESTAMP}:[${range.from} TO ${range.to - 1}]`, from: String(range.from), to: 'now', indexes },
  ];
}

/** Datadog's `X-RateLimit-Reset` is seconds until its period ends, as a `Retry-After` in seconds is read. */
function datadogWaitMs(headers: Record<string, string | string[] | undefined>, now: number): number {
  const reset = headers['x-ratelimit-reset'] ?? headers['retry-after'];
  return rateLimitWaitMs({ 'retry-after': reset }, now, { maxWaitMs: MAX_DATADOG_WAIT_MS });
}

function seriesOf(value: number | string | z.output<typeof seriesSchema> | undefined): z.output<typeof seriesSchema> {
  return Array.isArray(value) ? value : [];
}

function numberOf(value: number | string | z.output<typeof seriesSchema> | undefined): number {
  const number = typeof value === 'number' ? value : Number(value);
  return Number.isFinite(number) ? number : 0;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}
