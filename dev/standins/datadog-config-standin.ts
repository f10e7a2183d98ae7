/**
 * STAND-IN for the four Datadog configuration APIs `atlassian-audit datadog apply` uses (reference/datadog-logs.md
 * §4; monitors: docs.datadoghq.com/api/latest/monitors): log pipelines (v1), Cloud SIEM detection rules (v2, listed
 * in pages), monitors (v1, listed in pages, integer ids) and dashboards (v1), each behind both DD-API-KEY and
 * DD-APPLICATION-KEY. Like Datadog it adds its own fields to what it stores (ids, authors, timestamps, versions,
 * widget ids, option defaults), so a client that compared whole objects would see a change on every run. Where
 * Datadog's documentation is silent the choice made here is written next to the code as "Choice:".
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { jsonReply, listenStandin, type HttpOutcome, type StandinHttpRequest, type StandinHttpServer } from './standin-http-server';

export type DatadogConfigObjectKind = 'pipeline' | 'rule' | 'monitor' | 'dashboard';

type JsonObject = Record<string, unknown>;

export interface DatadogConfigStandinOptions {
  /** The one key accepted in `DD-API-KEY`. */
  apiKey: string;
  /** The one key accepted in `DD-APPLICATION-KEY`. */
  applicationKey: string;
  /**
   * TCP port on 127.0.0.1.
   * @default 0 (a free port)
   */
  port?: number;
  /**
   * Clock of the created/modified timestamps.
   * @default Date.now
   */
  now?: () => number;
}

export interface DatadogConfigStandinRequest {
  readonly method: string;
  /** Path without the query string. */
  readonly path: string;
  readonly status: number;
}

/** Choice: Datadog documents a default page size of 10 for the rule list; the maximum of 100 is assumed. */
const RULES_DEFAULT_PAGE_SIZE = 10;
const RULES_MAX_PAGE_SIZE = 100;
/** Datadog documents 100 monitors per page by default and at most 1000. */
const MONITORS_DEFAULT_PAGE_SIZE = 100;
const MONITORS_MAX_PAGE_SIZE = 1000;

const pipelineSchema = z.looseObject({
  name: z.string().min(1),
  filter: z.looseObject({ query: z.string() }).optional(),
  processors: z.array(z.looseObject({ type: z.string() })).optional(),
  tags: z.array(z.string()).optional(),
});

const ruleFields = {
  name: z.string().min(1),
  isEnabled: z.boolean(),
  message: z.string(),
  queries: z.array(z.looseObject({ query: z.string() })).min(1),
  cases: z.array(z.looseObject({ status: z.enum(['info', 'low', 'medium', 'high', 'critical']) })).min(1),
  options: z.looseObject({}),
  tags: z.array(z.string()).optional(),
};
const ruleCreateSchema = z.looseObject({ ...ruleFields, type: z.string() });
// Choice: the update payload has no `type` (TSC SecurityMonitoringRuleUpdatePayload); one sent is refused, holding
// clients to that schema rather than guessing whether Datadog ignores it.
const ruleUpdateSchema = z
  .looseObject(z.object(ruleFields).partial().shape)
  .refine((body) => !('type' in body), { message: 'type cannot be updated' });

/**
 * A metric monitor's query ends with its comparison, `… by {org_id} > 1800`; Datadog refuses a critical threshold
 * that differs from that number.
 */
const QUERY_THRESHOLD = /\s(?:[<>]=?|==)\s*(-?\d+(?:\.\d+)?)$/;
const METRIC_MONITOR_TYPES = new Set(['metric alert', 'query alert']);

const monitorFields = {
  name: z.string().min(1),
  // Choice: the types apply's monitors use; Datadog has many more (log alert, composite, …).
  type: z.enum(['metric alert', 'query alert', 'service check']),
  query: z.string().min(1),
  message: z.string(),
  tags: z.array(z.string()).optional(),
  priority: z.number().int().min(1).max(5).nullish(),
  options: z
    .looseObject({
      thresholds: z.looseObject({ critical: z.number().optional(), warning: z.number().nullish() }).optional(),
    })
    .optional(),
};
// The edit endpoint takes any of the fields; the monitor they make with the stored ones is checked as a whole.
const monitorEditSchema = z.looseObject(z.object(monitorFields).partial().shape);
const monitorSchema = z.looseObject(monitorFields).superRefine((monitor, issues) => {
  if (!METRIC_MONITOR_TYPES.has(monitor.type)) return;
  const inQuery = QUERY_THRESHOLD.exec(monitor.query)?.[1];
  const critical = monitor.options?.thresholds?.critical;
  if (inQuery === undefined) {
    issues.addIssue({ code: 'custom', path: ['query'], message: "The value provided for parameter 'query' is invalid" });
  } else if (critical !== undefined && Number(inQuery) !== critical) {
    issues.addIssue({
      code: 'custom',
      path: ['options', 'thresholds', 'critical'],
      message: `Alert threshold (${critical}) does not match that used in the query (${inQuery})`,
    });
  }
});

const dashboardSchema = z.looseObject({
  title: z.string().min(1),
  description: z.string().nullish(),
  layout_type: z.enum(['ordered', 'free']),
  widgets: z.array(z.looseObject({ definition: z.looseObject({ type: z.string() }) })),
  // Datadog's spec: dashboard tags are team names only, `team:<name>`, at most 5.
  tags: z.array(z.string().startsWith('team:')).max(5).nullish(),
});

const PIPELINES = /^\/api\/v1\/logs\/config\/pipelines(?:\/([^/]+))?$/;
const RULES = /^\/api\/v2\/security_monitoring\/rules(?:\/([^/]+))?$/;
const MONITORS = /^\/api\/v1\/monitor(?:\/([^/]+))?$/;
const DASHBOARDS = /^\/api\/v1\/dashboard(?:\/([^/]+))?$/;

class RequestRefused extends Error {
  constructor(
    readonly status: number,
    message: string
  ) {
    super(message);
  }
}

export class DatadogConfigStandin {
  /** `http://127.0.0.1:<port>`: the API base URL (DD_API_BASE_URL). */
  readonly origin: string;
  readonly requests: DatadogConfigStandinRequest[] = [];

  private readonly stores: Record<DatadogConfigObjectKind, Map<string, JsonObject>> = {
    pipeline: new Map(),
    rule: new Map(),
    monitor: new Map(),
    dashboard: new Map(),
  };
  private readonly now: () => number;
  private nextWidgetId = 1_000_000_000;
  private nextMonitorId = 100_000_001;

  private constructor(
    private readonly options: DatadogConfigStandinOptions,
    private readonly server: StandinHttpServer
  ) {
    this.origin = server.origin;
    this.now = options.now ?? Date.now;
  }

  static start(options: DatadogConfigStandinOptions): Promise<DatadogConfigStandin> {
    return listenStandin(
      (server) => new DatadogConfigStandin(options, server),
      (standin, request) => standin.handle(request),
      { port: options.port }
    );
  }

  async close(): Promise<void> {
    await this.server.close();
  }

  /**
   * Puts an object in the account as if made elsewhere (by hand, or by Datadog: default rules, integration
   * pipelines). Server fields are filled in where `body` lacks them; those it sets (`isDefault`, `is_read_only`, `id`)
   * are kept.
   */
  seed(kind: DatadogConfigObjectKind, body: JsonObject): JsonObject {
    const stored = { ...this.stamp(kind, body, undefined), ...body };
    this.stores[kind].set(String(stored.id), stored);
    return structuredClone(stored);
  }

  /** What the account holds, in creation order, as Datadog would return it. */
  objects(kind: DatadogConfigObjectKind): JsonObject[] {
    return [...this.stores[kind].values()].map((stored) => structuredClone(stored));
  }

  /** Requests that change something (POST, PUT), whatever their answer. */
  writes(): DatadogConfigStandinRequest[] {
    return this.requests.filter((request) => request.method === 'POST' || request.method === 'PUT');
  }

  private async handle(request: StandinHttpRequest): Promise<HttpOutcome> {
    const outcome = this.answer(request);
    const status = outcome.kind === 'reply' ? outcome.status : 0;
    this.requests.push({ method: request.method, path: request.url.pathname, status });
    return outcome;
  }

  private answer(request: StandinHttpRequest): HttpOutcome {
    // Checked before routing, like Datadog: a bad key learns nothing about which paths exist.
    if (
      request.headers['dd-api-key'] !== this.options.apiKey ||
      request.headers['dd-application-key'] !== this.options.applicationKey
    ) {
      return jsonReply(403, { errors: ['Forbidden'] });
    }
    try {
      return this.route(request);
    } catch (error) {
      if (error instanceof RequestRefused) return jsonReply(error.status, { errors: [error.message] });
      throw error;
    }
  }

  private route(request: StandinHttpRequest): HttpOutcome {
    const { pathname } = request.url;
    const method = request.method;
    let match: RegExpExecArray | null;
    if ((match = PIPELINES.exec(pathname))) {
      const id = match[1];
      if (id === undefined && method === 'GET') return jsonReply(200, this.objects('pipeline'));
      if (id === undefined && method === 'POST') return jsonReply(200, this.create('pipeline', parseBody(request, pipelineSchema)));
      if (id !== undefined && method === 'PUT') return jsonReply(200, this.updatePipeline(id, parseBody(request, pipelineSchema)));
    } else if ((match = RULES.exec(pathname))) {
      const id = match[1];
      if (id === undefined && method === 'GET') return jsonReply(200, this.rulePage(request.url.searchParams));
      if (id === undefined && method === 'POST') return jsonReply(200, this.create('rule', parseBody(request, ruleCreateSchema)));
      if (id !== undefined && method === 'PUT') return jsonReply(200, this.updateRule(id, parseBody(request, ruleUpdateSchema)));
    } else if ((match = MONITORS.exec(pathname))) {
      const id = match[1];
      if (id === undefined && method === 'GET') return jsonReply(200, this.monitorPage(request.url.searchParams));
      if (id === undefined && method === 'POST') return jsonReply(200, this.create('monitor', parseBody(request, monitorSchema)));
      if (id !== undefined && method === 'PUT') return jsonReply(200, this.updateMonitor(id, parseBody(request, monitorEditSchema)));
    } else if ((match = DASHBOARDS.exec(pathname))) {
      const id = match[1];
      if (id === undefined && method === 'GET') return jsonReply(200, { dashboards: this.dashboardSummaries() });
      if (id === undefined && method === 'POST') return jsonReply(200, this.create('dashboard', parseBody(request, dashboardSchema)));
      if (id !== undefined && method === 'GET') return jsonReply(200, this.find('dashboard', id));
      if (id !== undefined && method === 'PUT') return jsonReply(200, this.updateDashboard(id, parseBody(request, dashboardSchema)));
    } else {
      throw new RequestRefused(404, 'Not found');
    }
    throw new RequestRefused(405, 'Method not allowed');
  }

  private create(kind: DatadogConfigObjectKind, body: JsonObject): JsonObject {
    const stored = this.stamp(kind, body, undefined);
    this.stores[kind].set(String(stored.id), stored);
    return structuredClone(stored);
  }

  private find(kind: DatadogConfigObjectKind, id: string): JsonObject {
    const stored = this.stores[kind].get(id);
    if (!stored) throw new RequestRefused(404, `${kind} ${id} not found`);
    return stored;
  }

  /** Replaces the whole pipeline, as Datadog documents. */
  private updatePipeline(id: string, body: JsonObject): JsonObject {
    const previous = this.find('pipeline', id);
    // Choice: Datadog's integration pipelines are read-only; the exact refusal is not documented.
    if (previous.is_read_only === true) throw new RequestRefused(400, 'this pipeline is read-only');
    return this.replace('pipeline', this.stamp('pipeline', body, previous));
  }

  /** Sets the fields given; the others keep their value (a rule update is not a replacement). */
  private updateRule(id: string, body: JsonObject): JsonObject {
    const previous = this.find('rule', id);
    return this.replace('rule', this.stamp('rule', { ...previous, ...body }, previous));
  }

  /**
   * Sets the fields given. Choice: an `options` object sent replaces the stored one (Datadog's defaults are filled in
   * again), as the edit endpoint's schema describes options as a whole.
   */
  private updateMonitor(id: string, body: JsonObject): JsonObject {
    const previous = this.find('monitor', id);
    const edited = validated(monitorSchema, { ...previous, ...body });
    return this.replace('monitor', this.stamp('monitor', edited, previous));
  }

  /** Replaces the whole dashboard. */
  private updateDashboard(id: string, body: JsonObject): JsonObject {
    return this.replace('dashboard', this.stamp('dashboard', body, this.find('dashboard', id)));
  }

  private replace(kind: DatadogConfigObjectKind, stored: JsonObject): JsonObject {
    this.stores[kind].set(String(stored.id), stored);
    return structuredClone(stored);
  }

  /** `body` as Datadog would store it: with the server's own fields, kept from `previous` on an update. */
  private stamp(kind: DatadogConfigObjectKind, body: JsonObject, previous: JsonObject | undefined): JsonObject {
    const now = this.now();
    switch (kind) {
      case 'pipeline':
        return {
          ...body,
          id: previous?.id ?? randomPipelineId(),
          type: 'pipeline',
          is_read_only: false,
          description: body.description ?? '',
          tags: body.tags ?? [],
        };
      case 'rule': {
        const options = isObject(body.options) ? body.options : {};
        return {
          ...body,
          id: previous?.id ?? randomDashedId(),
          createdAt: previous?.createdAt ?? now,
          creationAuthorId: previous?.creationAuthorId ?? 1,
          updateAuthorId: 1,
          version: typeof previous?.version === 'number' ? previous.version + 1 : 1,
          isDefault: false,
          isDeleted: false,
          isBeta: false,
          defaultTags: [],
          tags: body.tags ?? [],
          filters: body.filters ?? [],
          hasExtendedTitle: body.hasExtendedTitle ?? false,
          options: { decreaseCriticalityBasedOnEnv: false, ...options },
          cases: asObjects(body.cases).map((ruleCase) => ({ actions: [], ...ruleCase })),
          queries: asObjects(body.queries).map((query) => ({ correlatedByFields: [], ...query })),
        };
      }
      case 'monitor': {
        const options = isObject(body.options) ? body.options : {};
        return {
          ...body,
          id: previous?.id ?? this.nextMonitorId++,
          org_id: 1,
          created: previous?.created ?? new Date(now).toISOString(),
          modified: new Date(now).toISOString(),
          creator: previous?.creator ?? { email: 'standin@example.com', handle: 'standin@example.com', name: 'Stand-in' },
          deleted: null,
          multi: /\bby\s*[({]/.test(String(body.query)),
          overall_state: previous?.overall_state ?? 'No Data',
          overall_state_modified: previous?.overall_state_modified ?? null,
          restricted_roles: null,
          priority: body.priority ?? null,
          tags: body.tags ?? [],
          options: { notify_audit: false, include_tags: true, new_host_delay: 300, notify_no_data: false, silenced: {}, ...options },
        };
      }
      case 'dashboard': {
        const id = String(previous?.id ?? randomDashedId());
        return {
          ...body,
          id,
          url: `/dashboard/${id}/${slug(String(body.title))}`,
          created_at: previous?.created_at ?? new Date(now).toISOString(),
          modified_at: new Date(now).toISOString(),
          author_handle: previous?.author_handle ?? 'standin@example.com',
          author_name: previous?.author_name ?? 'Stand-in',
          is_read_only: false,
          notify_list: [],
          restricted_roles: [],
          template_variable_presets: [],
          description: body.description ?? null,
          tags: body.tags ?? null,
          // Choice: every save numbers the widgets afresh; Datadog's own numbering is not documented.
          widgets: asObjects(body.widgets).map((widget) => ({ ...widget, id: this.nextWidgetId++ })),
        };
      }
    }
  }

  private rulePage(params: URLSearchParams): JsonObject {
    const size = Number(params.get('page[size]') ?? RULES_DEFAULT_PAGE_SIZE);
    const number = Number(params.get('page[number]') ?? 0);
    if (!Number.isInteger(size) || size < 1 || size > RULES_MAX_PAGE_SIZE || !Number.isInteger(number) || number < 0) {
      throw new RequestRefused(400, `page[size] must be 1-${RULES_MAX_PAGE_SIZE} and page[number] ≥ 0`);
    }
    const rules = this.objects('rule');
    return {
      data: rules.slice(number * size, (number + 1) * size),
      meta: { page: { total_count: rules.length, total_filtered_count: rules.length } },
    };
  }

  /** Choice: without `page`, every monitor at once, as Datadog documents; with it, pages of `page_size`. */
  private monitorPage(params: URLSearchParams): JsonObject[] {
    const monitors = this.objects('monitor');
    if (!params.has('page')) return monitors;
    const size = Number(params.get('page_size') ?? MONITORS_DEFAULT_PAGE_SIZE);
    const number = Number(params.get('page'));
    if (!Number.isInteger(size) || size < 1 || size > MONITORS_MAX_PAGE_SIZE || !Number.isInteger(number) || number < 0) {
      throw new RequestRefused(400, `page_size must be 1-${MONITORS_MAX_PAGE_SIZE} and page ≥ 0`);
    }
    return monitors.slice(number * size, (number + 1) * size);
  }

  private dashboardSummaries(): JsonObject[] {
    return this.objects('dashboard').map((dashboard) => ({
      id: dashboard.id,
      title: dashboard.title,
      description: dashboard.description,
      layout_type: dashboard.layout_type,
      url: dashboard.url,
      is_read_only: dashboard.is_read_only,
      created_at: dashboard.created_at,
      modified_at: dashboard.modified_at,
      author_handle: dashboard.author_handle,
      deleted_at: null,
    }));
  }
}

function parseBody(request: StandinHttpRequest, schema: z.ZodType<JsonObject>): JsonObject {
  let json: unknown;
  try {
    json = JSON.parse(request.body.toString('utf8'));
  } catch {
    throw new RequestRefused(400, 'body is not JSON');
  }
  return validated(schema, json);
}

/** `json` as `schema` reads it, or a 400 naming the first problem. */
function validated(schema: z.ZodType<JsonObject>, json: unknown): JsonObject {
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new RequestRefused(400, `${issue.path.join('.') || 'body'}: ${issue.message}`);
  }
  return parsed.data;
}

function isObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function asObjects(value: unknown): JsonObject[] {
  return Array.isArray(value) ? value.filter(isObject) : [];
}

/** Like Datadog's pipeline ids: 22 URL-safe characters. */
function randomPipelineId(): string {
  return randomBytes(16).toString('base64url').slice(0, 22);
}

/** Like Datadog's rule and dashboard ids: `abc-def-ghi`. */
function randomDashedId(): string {
  const letters = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const chars = [...randomBytes(9)].map((byte) => letters[byte % letters.length]);
  return `${chars.slice(0, 3).join('')}-${chars.slice(3, 6).join('')}-${chars.slice(6).join('')}`;
}

function slug(title: string): string {
  return title.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
}
