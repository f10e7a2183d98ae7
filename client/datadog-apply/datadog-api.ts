/**
 * A small undici client for the four Datadog configuration APIs apply uses: log pipelines (v1), Cloud SIEM detection
 * rules (v2), monitors (v1) and dashboards (v1), authenticated with DD-API-KEY and DD-APPLICATION-KEY
 * (reference/datadog-logs.md §4; monitors: docs.datadoghq.com/api/latest/monitors).
 * It returns the objects as Datadog stores them; deciding what they mean is the plan's job.
 *
 * No retries: apply is idempotent, so after a failure the operator runs it again and it picks up where it stopped.
 */
import { request, type Dispatcher } from 'undici';
import { z } from 'zod';
import {
  createHttpAgent,
  proxyCredentials,
  proxyRefusalOf,
  proxySettingsFromEnv,
  ProxyConfigError,
  type ProxySettings,
} from '../../activities/http-client';
import { UsageError } from '../cli-input';
import { displayableBaseUrl, type DatadogApiConfig } from './config';
import type { JsonObject } from './definition-kind';
import {
  DatadogAccessDeniedError,
  DatadogApiError,
  DatadogUnexpectedResponseError,
  DatadogUnreachableError,
} from './datadog-api-errors';

export interface DatadogConfigApiOptions extends DatadogApiConfig {
  /**
   * Limit on waiting for the response headers, then again for the body, of each request.
   * @default 30_000
   */
  requestTimeoutMs?: number;
  /**
   * Detection rules, and monitors, asked per page. An account lists hundreds of Datadog's default rules beside its
   * own, and may hold thousands of monitors.
   * @default 100
   */
  listPageSize?: number;
  /**
   * Forward proxies of the requests, as the worker's are.
   * @default this process's HTTPS_PROXY, HTTP_PROXY and NO_PROXY (lower-case forms first), as curl reads them
   */
  proxy?: ProxySettings;
}

/** An object as Datadog stores it: at least an id, plus whatever fields it returned. */
export type StoredObject = JsonObject & { readonly id: string };

// Monitor ids are integers, every other id a string: all are carried as strings, which is how they go into paths.
const storedObjectSchema = z.looseObject({
  id: z.union([z.string().min(1), z.number().int().nonnegative().transform(String)]),
});
const pipelineListSchema = z.array(storedObjectSchema);
const rulePageSchema = z.object({
  data: z.array(storedObjectSchema),
  meta: z.looseObject({ page: z.looseObject({ total_count: z.number().int().nonnegative() }).optional() }).optional(),
});
const monitorListSchema = z.array(storedObjectSchema);
const dashboardListSchema = z.object({ dashboards: z.array(storedObjectSchema) });
/** v1 APIs answer `{errors: ["…"]}`, v2 APIs `{errors: [{title, detail}]}`. */
const errorBodySchema = z.object({
  errors: z.array(z.union([z.string(), z.looseObject({ title: z.string().optional(), detail: z.string().optional() })])),
});

/** One of the four APIs, with the application key permissions it needs (named when Datadog refuses a request). */
interface ConfigApi {
  readonly path: string;
  readonly permissions: readonly string[];
}
const PIPELINES: ConfigApi = { path: '/api/v1/logs/config/pipelines', permissions: ['logs_write_pipelines'] };
const RULES: ConfigApi = {
  path: '/api/v2/security_monitoring/rules',
  permissions: ['security_monitoring_rules_read', 'security_monitoring_rules_write'],
};
const MONITORS: ConfigApi = { path: '/api/v1/monitor', permissions: ['monitors_read', 'monitors_write'] };
const DASHBOARDS: ConfigApi = { path: '/api/v1/dashboard', permissions: ['dashboards_read', 'dashboards_write'] };

/** Everything apply needs of the application key, as Datadog names the permissions. */
export const REQUIRED_APPLICATION_KEY_PERMISSIONS: readonly string[] = [PIPELINES, RULES, MONITORS, DASHBOARDS].flatMap(
  (api) => api.permissions
);

/** One page of a paged list, and the total when the API gives one. */
interface ListPage {
  readonly objects: StoredObject[];
  readonly total?: number;
}

export class DatadogConfigApi {
  private readonly agent: Dispatcher;
  private readonly baseUrl: string;
  private readonly displayedBaseUrl: string;
  private readonly listPageSize: number;
  private readonly headers: Record<string, string>;
  private readonly secrets: readonly string[];

  constructor(options: DatadogConfigApiOptions) {
    const timeout = options.requestTimeoutMs ?? 30_000;
    const proxy = options.proxy ?? proxySettingsOfProcess();
    this.agent = createHttpAgent({ connectTimeoutMs: timeout, headersTimeoutMs: timeout, bodyTimeoutMs: timeout, proxy });
    this.baseUrl = options.baseUrl;
    this.displayedBaseUrl = displayableBaseUrl(options.baseUrl);
    this.listPageSize = options.listPageSize ?? 100;
    this.headers = {
      accept: 'application/json',
      'dd-api-key': options.apiKey,
      'dd-application-key': options.applicationKey,
    };
    this.secrets = [options.apiKey, options.applicationKey, ...proxyCredentials([proxy.httpsProxy, proxy.httpProxy])];
  }

  async listPipelines(): Promise<StoredObject[]> {
    return this.send('GET', PIPELINES, '', pipelineListSchema);
  }

  async createPipeline(body: JsonObject): Promise<StoredObject> {
    return this.send('POST', PIPELINES, '', storedObjectSchema, body);
  }

  /** Replaces the whole pipeline. */
  async updatePipeline(id: string, body: JsonObject): Promise<StoredObject> {
    return this.send('PUT', PIPELINES, `/${encodeURIComponent(id)}`, storedObjectSchema, body);
  }

  /** Every rule of the account, Datadog's default rules included. */
  async listRules(): Promise<StoredObject[]> {
    return this.listAllPages(async (pageNumber) => {
      const query = new URLSearchParams({ 'page[size]': String(this.listPageSize), 'page[number]': String(pageNumber) });
      const page = await this.send('GET', RULES, `?${query}`, rulePageSchema);
      return { objects: page.data, total: page.meta?.page?.total_count };
    });
  }

  async createRule(body: JsonObject): Promise<StoredObject> {
    return this.send('POST', RULES, '', storedObjectSchema, body);
  }

  /** Sets the fields given. The update payload has no `type` (a rule's type cannot change), so it is left out. */
  async updateRule(id: string, body: JsonObject): Promise<StoredObject> {
    const { type: _unchangeableType, ...updatable } = body;
    return this.send('PUT', RULES, `/${encodeURIComponent(id)}`, storedObjectSchema, updatable);
  }

  /** Every monitor of the account, whole (query, message, options, tags). */
  async listMonitors(): Promise<StoredObject[]> {
    return this.listAllPages(async (pageNumber) => {
      // Without `page` Datadog answers every monitor at once, however many: paged, each answer stays small.
      const query = new URLSearchParams({ page: String(pageNumber), page_size: String(this.listPageSize) });
      return { objects: await this.send('GET', MONITORS, `?${query}`, monitorListSchema) };
    });
  }

  async createMonitor(body: JsonObject): Promise<StoredObject> {
    return this.send('POST', MONITORS, '', storedObjectSchema, body);
  }

  /** Sets the fields given. */
  async updateMonitor(id: string, body: JsonObject): Promise<StoredObject> {
    return this.send('PUT', MONITORS, `/${encodeURIComponent(id)}`, storedObjectSchema, body);
  }

  /** Summaries (id, title, description, …) without widgets; getDashboard has the rest. */
  async listDashboards(): Promise<StoredObject[]> {
    return (await this.send('GET', DASHBOARDS, '', dashboardListSchema)).dashboards;
  }

  async getDashboard(id: string): Promise<StoredObject> {
    return this.send('GET', DASHBOARDS, `/${encodeURIComponent(id)}`, storedObjectSchema);
  }

  async createDashboard(body: JsonObject): Promise<StoredObject> {
    return this.send('POST', DASHBOARDS, '', storedObjectSchema, body);
  }

  /** Replaces the whole dashboard. */
  async updateDashboard(id: string, body: JsonObject): Promise<StoredObject> {
    return this.send('PUT', DASHBOARDS, `/${encodeURIComponent(id)}`, storedObjectSchema, body);
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  /** Pages from 0 on, until one comes back short or the total the API gave is reached. */
  private async listAllPages(readPage: (pageNumber: number) => Promise<ListPage>): Promise<StoredObject[]> {
    const objects: StoredObject[] = [];
    for (let pageNumber = 0; ; pageNumber++) {
      const page = await readPage(pageNumber);
      objects.push(...page.objects);
      if (page.objects.length < this.listPageSize || (page.total !== undefined && objects.length >= page.total)) {
        return objects;
      }
    }
  }

  /** `suffix` follows the API's path: `/<id>`, `?<query>` or nothing. */
  private async send<T>(
    method: 'GET' | 'POST' | 'PUT',
    api: ConfigApi,
    suffix: string,
    schema: z.ZodType<T>,
    body?: JsonObject
  ): Promise<T> {
    const label = `${method} ${api.path}${suffix.split('?')[0]}`;
    let status: number;
    let text: string;
    try {
      const response = await request(`${this.baseUrl}${api.path}${suffix}`, {
        method,
        dispatcher: this.agent,
        headers: body === undefined ? this.headers : { ...this.headers, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      status = response.statusCode;
      text = await response.body.text();
    } catch (error) {
      const reason = proxyRefusalOf(error) ?? (error as { code?: string }).code ?? (error as Error).message;
      throw new DatadogUnreachableError(`${label} on ${this.displayedBaseUrl} failed: ${this.scrub(reason)}`);
    }
    const answer = [String(status), this.errorDetailOf(text)].filter((part) => part !== '').join(': ');
    if (status === 401 || status === 403) {
      throw new DatadogAccessDeniedError(
        label,
        status,
        `Datadog refused ${label} (${answer}): check that DD_API_KEY and DD_APP_KEY are valid keys of one ` +
          `organization on ${this.displayedBaseUrl}, and that the application key has ${api.permissions.join(' and ')}`
      );
    }
    if (status < 200 || status > 299) {
      throw new DatadogApiError(label, status, `Datadog refused ${label} (${answer})`);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new DatadogUnexpectedResponseError(`Datadog answered ${label} with a body that is not JSON`);
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new DatadogUnexpectedResponseError(
        `Datadog answered ${label} with an unexpected body (${issue.path.join('.') || 'top level'}: ${issue.message})`
      );
    }
    return parsed.data;
  }

  /** What Datadog said in its `{errors: [...]}` body, on one short line, scrubbed of the keys; '' if nothing. */
  private errorDetailOf(text: string): string {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return '';
    }
    const parsed = errorBodySchema.safeParse(json);
    if (!parsed.success) return '';
    const details = parsed.data.errors.flatMap((error) => (typeof error === 'string' ? error : (error.detail ?? error.title ?? [])));
    if (details.length === 0) return '';
    const line = this.scrub(details.join('; ')).replace(/\s+/g, ' ');
    return line.length > 300 ? `${line.slice(0, 300)}…` : line;
  }

  private scrub(text: string): string {
    return this.secrets.reduce((scrubbed, secretValue) => scrubbed.split(secretValue).join('[redacted]'), text);
  }
}

/** A bad proxy variable is a setting the operator must fix, like a missing key: a UsageError before any request. */
function proxySettingsOfProcess(): ProxySettings {
  try {
    return proxySettingsFromEnv(process.env);
  } catch (error) {
    throw error instanceof ProxyConfigError ? new UsageError(error.message) : error;
  }
}
