import { isIPv6 } from 'node:net';
import { ApplicationFailure } from '@temporalio/common';
import { EnvHttpProxyAgent, Pool, type Dispatcher } from 'undici';
import { z } from 'zod';
import { FailureType } from '../shared/failure-types';

/**
 * Forward proxies for outbound calls, as {@link proxySettingsOf} builds them from `HTTPS_PROXY`, `HTTP_PROXY` and
 * `NO_PROXY` (or their lower-case forms). An empty object: every call is direct.
 */
export interface ProxySettings {
  /** Proxy URL for https:// targets, credentials included; unset: https:// calls are direct. */
  readonly httpsProxy?: string;
  /**
   * Proxy URL for http:// targets, and for https:// ones too when `httpsProxy` is unset (undici's rule; curl would
   * send those direct). Unset: http:// calls are direct.
   */
  readonly httpProxy?: string;
  /** Targets reached directly: comma-separated host, `.domain` or `host:port` entries, or `*` for every target. */
  readonly noProxy?: string;
}

export interface HttpAgentOptions {
  /** Also the limit on connecting to a proxy and on the TLS handshake inside its tunnel. @default 10_000 */
  connectTimeoutMs?: number;
  /** Time to wait for the response headers: a response that never comes ends here and is retried. @default 30_000 */
  headersTimeoutMs?: number;
  /** Longest silence while the body streams. @default 30_000 */
  bodyTimeoutMs?: number;
  /** @default 30_000 */
  keepAliveTimeoutMs?: number;
  /**
   * Forward proxies; the worker reads them from its environment (worker/config.ts). Not read from `process.env`
   * here, so that a caller that does not ask for a proxy (tests and benchmarks on loopback stand-ins) never gets one.
   * @default {} (every call direct)
   */
  proxy?: ProxySettings;
}

/**
 * The one dispatcher of a process's outbound calls (poll, ship, the action catalogue, `datadog apply`): keep-alive
 * pools per target, or per proxy, shared by every org's activities. Proxied calls get the same timeouts and
 * keep-alive as direct ones, and http:// targets go to an HTTP proxy as plain absolute-URI requests (as curl sends
 * them; many proxies allow CONNECT to port 443 only), https:// targets through a CONNECT tunnel.
 */
export function createHttpAgent(options: HttpAgentOptions = {}): Dispatcher {
  const {
    connectTimeoutMs = 10_000,
    headersTimeoutMs = 30_000,
    bodyTimeoutMs = 30_000,
    keepAliveTimeoutMs = 30_000,
    proxy = {},
  } = options;
  const poolOptions = { headersTimeout: headersTimeoutMs, bodyTimeout: bodyTimeoutMs, keepAliveTimeout: keepAliveTimeoutMs };
  // undici builds two kinds of pool with a connector only and its own defaults (300 s timeouts, 4 s keep-alive): the
  // one that asks the proxy for a CONNECT tunnel, and the one that forwards http:// requests to it.
  const pool = (origin: string | URL, opts: object): Dispatcher => new Pool(origin, { ...poolOptions, ...opts });
  return new EnvHttpProxyAgent({
    ...poolOptions,
    connect: { timeout: connectTimeoutMs },
    proxyTls: { timeout: connectTimeoutMs },
    requestTls: { timeout: connectTimeoutMs },
    factory: pool,
    clientFactory: pool,
    proxyTunnel: false,
    // '' rather than undefined: EnvHttpProxyAgent would read process.env for a setting left undefined.
    httpsProxy: proxy.httpsProxy ?? '',
    httpProxy: proxy.httpProxy ?? '',
    noProxy: proxy.noProxy ?? '',
  });
}

/** The variables that hold proxy URLs, and so may hold a proxy's user name and password. */
export const PROXY_URL_VARIABLES: readonly string[] = ['https_proxy', 'HTTPS_PROXY', 'http_proxy', 'HTTP_PROXY'];

/** A proxy URL, or undefined when the value is none; a value without a scheme is http://, as curl reads it. */
function parseProxyUrl(value: string): URL | undefined {
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`);
  } catch {
    return undefined;
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '') return undefined;
  // undici decodes the user name and password when it builds Proxy-Authorization, and throws on a bad escape.
  if (decodedOrUndefined(url.username) === undefined || decodedOrUndefined(url.password) === undefined) return undefined;
  return url;
}

function decodedOrUndefined(component: string): string | undefined {
  try {
    return decodeURIComponent(component);
  } catch {
    return undefined;
  }
}

// Messages name what is expected and never the value: a proxy URL may hold a password.
const proxyUrlSchema = z
  .string()
  .trim()
  .transform((value, ctx) => {
    const url = parseProxyUrl(value);
    if (url === undefined) {
      ctx.addIssue({
        code: 'custom',
        message:
          'must be an http:// or https:// proxy URL such as http://proxy.example:3128, with a user name and password ' +
          'percent-encoded if given (http://user:password@proxy.example:3128)',
      });
      return z.NEVER;
    }
    return url.href;
  });

/** A normalized NO_PROXY entry: a host name or IPv4 address (`.` or `*.` first for a domain), or `[IPv6]`; `:port` optional. */
const NO_PROXY_ENTRY = /^(?:(?:\*?\.)?[a-z0-9_-]+(?:\.[a-z0-9_-]+)*|\[[0-9a-f:.]+\])(?::\d{1,5})?$/;

const noProxySchema = z.string().transform((value, ctx) => {
  const entries = value
    .toLowerCase()
    .split(/[\s,]+/)
    .filter((entry) => entry !== '');
  // curl's and undici's only wildcard is a lone `*`; undici recognises it only as the whole value.
  if (entries.includes('*')) return '*';
  const normalized: string[] = [];
  for (const [index, entry] of entries.entries()) {
    if (entry.includes('/')) {
      ctx.addIssue({
        code: 'custom',
        message: `entry ${index + 1} is an address range (CIDR), which is not supported: list the hosts or domains instead`,
      });
      return z.NEVER;
    }
    // undici reads `::1` as host `:` and port 1; brackets keep an IPv6 address whole.
    const host = isIPv6(entry) ? `[${entry}]` : entry;
    if (!NO_PROXY_ENTRY.test(host)) {
      ctx.addIssue({
        code: 'custom',
        message: `entry ${index + 1} is not a host name, domain (.example.com), IP address or host:port`,
      });
      return z.NEVER;
    }
    normalized.push(host);
  }
  return normalized.join(',');
});

/** The six proxy variables, each validated (blank values must be left out beforehand, as unset). */
export const proxyEnvSchema = z.object({
  https_proxy: proxyUrlSchema.optional(),
  HTTPS_PROXY: proxyUrlSchema.optional(),
  http_proxy: proxyUrlSchema.optional(),
  HTTP_PROXY: proxyUrlSchema.optional(),
  no_proxy: noProxySchema.optional(),
  NO_PROXY: noProxySchema.optional(),
});

/** When both forms of a variable are set, the lower-case one wins, as in curl and undici. */
export function proxySettingsOf(values: z.output<typeof proxyEnvSchema>): ProxySettings {
  return {
    httpsProxy: values.https_proxy ?? values.HTTPS_PROXY,
    httpProxy: values.http_proxy ?? values.HTTP_PROXY,
    noProxy: values.no_proxy ?? values.NO_PROXY,
  };
}

/** A proxy variable that cannot be used. The message names the variable, never its value. */
export class ProxyConfigError extends Error {
  override readonly name = 'ProxyConfigError';
}

/**
 * The proxy settings of an environment, for a process without the worker's configuration (the client's
 * `datadog apply`). Blank values count as unset.
 * @throws ProxyConfigError naming the first variable that is not valid.
 */
export function proxySettingsFromEnv(env: NodeJS.ProcessEnv): ProxySettings {
  const names = Object.keys(proxyEnvSchema.shape);
  const present = Object.fromEntries(names.flatMap((name) => (env[name]?.trim() ? [[name, env[name]]] : [])));
  const parsed = proxyEnvSchema.safeParse(present);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ProxyConfigError(`Invalid proxy configuration: ${String(issue.path[0])} ${issue.message}`);
  }
  return proxySettingsOf(parsed.data);
}

/**
 * Every form in which the credentials of these proxy URLs could reach a line of text: the password as written and
 * decoded, `user:password` as written and decoded, and the Basic token undici sends as Proxy-Authorization (a user
 * name alone is taken for a token, as in `http://TOKEN@proxy`). For scrubbers, so values that are not proxy URLs
 * are skipped rather than thrown on.
 */
export function proxyCredentials(proxyUrls: Iterable<string | undefined>): string[] {
  const forms = [...proxyUrls].flatMap((value) => {
    const url = value === undefined ? undefined : parseProxyUrl(value.trim());
    if (url === undefined || url.username === '') return [];
    const username = decodeURIComponent(url.username);
    if (url.password === '') return [url.username, username];
    const password = decodeURIComponent(url.password);
    return [
      url.password,
      password,
      `${url.username}:${url.password}`,
      `${username}:${password}`,
      Buffer.from(`${username}:${password}`).toString('base64'),
    ];
  });
  return [...new Set(forms)];
}

/**
 * What may be shown of the settings (in the worker's start-up line): the proxy each kind of target goes through, as
 * createHttpAgent routes them, without credentials.
 */
export function displayableProxySettings(settings: ProxySettings): { httpsProxy: string; httpProxy: string; noProxy: string } {
  const shown = (proxyUrl: string | undefined) => {
    if (proxyUrl === undefined) return 'none';
    const url = new URL(proxyUrl);
    return `${url.protocol}//${url.host}`;
  };
  return {
    httpsProxy: shown(settings.httpsProxy ?? settings.httpProxy),
    httpProxy: shown(settings.httpProxy),
    noProxy: settings.noProxy || 'none',
  };
}

/**
 * The proxy's refusal of a request, if that is what failed it: "the proxy answered 407". undici reports a refused
 * CONNECT as an abort and a 407 to a forwarded request as an invalid argument, which would mislead as error codes.
 */
export function proxyRefusalOf(err: unknown): string | undefined {
  const message = err instanceof Error ? err.message : '';
  const status = /^Proxy response \((\d{3})\) !== 200 when HTTP Tunneling$/.exec(message)?.[1]
    ?? (/^Proxy Authentication Required \(407\)$/.test(message) ? '407' : undefined);
  return status === undefined ? undefined : `the proxy answered ${status}`;
}

/**
 * A transport fault (reset, timeout, refused connection, a proxy's refusal) as a retryable failure. The message
 * names the service and the error code only: raw undici errors can carry URLs with query strings, and request
 * options carry keys.
 */
export function transportFailure(service: 'Atlassian' | 'Datadog', err: unknown): ApplicationFailure {
  const code = (err as { code?: unknown })?.code;
  const name = err instanceof Error ? err.name : 'Error';
  const label = proxyRefusalOf(err) ?? (typeof code === 'string' ? code : name);
  const type = service === 'Atlassian' ? FailureType.AtlassianTransportError : FailureType.DatadogTransportError;
  return ApplicationFailure.create({ type, message: `${service} request failed: ${label}` });
}

/** The part of a URL that is safe to show: origin and path, without query (cursors) or credentials. */
export function safeUrl(url: URL): string {
  return `${url.origin}${url.pathname}`;
}
