/**
 * Outbound calls through a forward proxy (HTTPS_PROXY / HTTP_PROXY / NO_PROXY): the worker's real activities (poll,
 * map with its action catalogue, ship, wired by createActivities as the worker wires them) and `datadog apply`,
 * against the stand-ins, through a proxy written here. It forwards absolute-URI requests and opens CONNECT tunnels,
 * only ever to 127.0.0.1, and asks for Basic credentials. The https:// targets are TLS terminators in front of the
 * stand-ins, with a certificate openssl makes for 127.0.0.1 and localhost; the client trusts it as NODE_EXTRA_CA_CERTS
 * would (see `trustTestCertificate`), so certificates are checked as in production.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { ApplicationFailure, type LogLevel, type LogMetadata, type Logger } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { Command } from 'commander';
import type { Dispatcher } from 'undici';
import { createActivities } from '../../activities';
import type { DatadogLog } from '../../activities/datadog-log';
import { PageStore } from '../../activities/page-store';
import {
  createHttpAgent,
  displayableProxySettings,
  proxySettingsFromEnv,
  ProxyConfigError,
  type HttpAgentOptions,
} from '../../activities/http-client';
import { UsageError } from '../../client/cli-input';
import { registerDatadogCommands } from '../../client/datadog-apply-command';
import { DatadogUnreachableError } from '../../client/datadog-apply/datadog-api-errors';
import { AtlassianStandin } from '../../dev/standins/atlassian-standin';
import { DatadogConfigStandin } from '../../dev/standins/datadog-config-standin';
import { DatadogStandin } from '../../dev/standins/datadog-standin';
import { FailureType } from '../../shared/failure-types';
import { ConfigError, loadWorkerConfig } from '../../worker/config';
import { createJsonLogger, secretValuesIn } from '../../worker/telemetry';

const ATLASSIAN_KEY = 'proxy-test-atlassian-key-51c2';
const DATADOG_KEY = 'proxy-test-datadog-key-9d07';
const DD_APP_KEY = 'proxy-test-application-key-e4a8';
const PROXY_USER = 'audit-bot';
/** Characters a URL must percent-encode, so the test shows they are decoded before they reach the proxy. */
const PROXY_PASSWORD = 'p@ss:w0rd/with%chars';
const BASIC_CREDENTIALS = `Basic ${Buffer.from(`${PROXY_USER}:${PROXY_PASSWORD}`).toString('base64')}`;
const PROJECT_ROOT = path.resolve(__dirname, '../..');

interface ProxyHit {
  kind: 'forward' | 'connect';
  /** The absolute URI of a forwarded request, or the `host:port` of a tunnel. */
  target: string;
  proxyAuthorization: string | undefined;
}

/**
 * A forward proxy as Squid or a corporate gateway behaves for this client: requests with an absolute URI are
 * forwarded, CONNECT opens a tunnel, and either is refused with 407 without the expected Proxy-Authorization.
 * It reaches 127.0.0.1 only. `silent` makes it accept requests and never answer, like a wedged proxy.
 */
class ForwardProxy {
  readonly hits: ProxyHit[] = [];
  /** Client connections accepted: fewer than requests shows keep-alive to the proxy. */
  connections = 0;
  silent = false;
  /** Local ports of the proxy's own connections to targets, to tell a tunnelled connection from a direct one. */
  readonly upstreamPorts = new Set<number>();
  private readonly sockets = new Set<net.Socket>();

  private constructor(
    private readonly server: http.Server,
    private readonly requiredAuthorization: string
  ) {
    server.on('connection', (socket) => {
      this.connections++;
      this.track(socket);
    });
    server.on('request', (req, res) => this.forward(req, res));
    server.on('connect', (req, socket, head) => this.tunnel(req, socket as net.Socket, head));
  }

  static async start(options: { requiredAuthorization: string; tls?: tls.SecureContextOptions }): Promise<ForwardProxy> {
    const server = options.tls ? https.createServer(options.tls) : http.createServer();
    const proxy = new ForwardProxy(server, options.requiredAuthorization);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  /** The proxy's URL as an operator writes it, user and password percent-encoded. */
  url(user = PROXY_USER, password = PROXY_PASSWORD, scheme = 'http', host = '127.0.0.1'): string {
    return `${scheme}://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${host}:${this.port}`;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private forward(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.hits.push({ kind: 'forward', target: req.url ?? '', proxyAuthorization: req.headers['proxy-authorization'] });
    if (this.silent) return;
    if (req.headers['proxy-authorization'] !== this.requiredAuthorization) {
      res.writeHead(407, { 'proxy-authenticate': 'Basic realm="test proxy"' }).end();
      return;
    }
    const target = URL.canParse(req.url ?? '') ? new URL(req.url!) : undefined;
    if (target?.protocol !== 'http:' || target.hostname !== '127.0.0.1') {
      res.writeHead(502).end();
      return;
    }
    // Hop-by-hop headers stop here, as at any proxy: the target never sees the proxy's credentials.
    const { 'proxy-authorization': _credentials, 'proxy-connection': _connection, ...headers } = req.headers;
    const upstream = http.request(
      { host: '127.0.0.1', port: target.port, method: req.method, path: `${target.pathname}${target.search}`, headers, agent: false },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      }
    );
    upstream.on('socket', (socket) => this.track(socket));
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  }

  private tunnel(req: http.IncomingMessage, client: net.Socket, head: Buffer): void {
    this.hits.push({ kind: 'connect', target: req.url ?? '', proxyAuthorization: req.headers['proxy-authorization'] });
    client.on('error', () => client.destroy());
    if (this.silent) return;
    if (req.headers['proxy-authorization'] !== this.requiredAuthorization) {
      client.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="test proxy"\r\n\r\n');
      return;
    }
    const [host, port] = (req.url ?? '').split(':');
    if (host !== '127.0.0.1' || !port) {
      client.end('HTTP/1.1 502 Bad Gateway\r\n\r\n');
      return;
    }
    const upstream = net.connect(Number(port), '127.0.0.1', () => {
      this.upstreamPorts.add(upstream.localPort!);
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    this.track(upstream);
    upstream.on('error', () => client.destroy());
  }

  private track(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
  }
}

/** https:// in front of a stand-in: TLS ends here and the bytes go on to the stand-in's plain HTTP port. */
class TlsFront {
  /** Remote ports of the connections accepted, to check where each came from. */
  readonly clientPorts: number[] = [];
  private readonly sockets = new Set<net.Socket>();

  private constructor(private readonly server: tls.Server) {}

  static async start(targetOrigin: string, credentials: tls.SecureContextOptions): Promise<TlsFront> {
    const target = new URL(targetOrigin);
    const server = tls.createServer(credentials);
    const front = new TlsFront(server);
    server.on('connection', (socket: net.Socket) => {
      front.clientPorts.push(socket.remotePort!);
      front.track(socket);
    });
    server.on('secureConnection', (socket) => {
      const upstream = net.connect(Number(target.port), '127.0.0.1');
      front.track(upstream);
      socket.pipe(upstream).pipe(socket);
      socket.on('error', () => upstream.destroy());
      upstream.on('error', () => socket.destroy());
    });
    server.on('tlsClientError', () => undefined);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return front;
  }

  get origin(): string {
    return `https://127.0.0.1:${(this.server.address() as net.AddressInfo).port}`;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private track(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
  }
}

/**
 * Adds the test's certificate to what TLS connections trust, which NODE_EXTRA_CA_CERTS does for a whole process but
 * only at its start. undici opens every TLS connection (direct, to an https:// proxy, inside a tunnel) with
 * `tls.connect`; the certificate is still verified, host name included.
 */
function trustTestCertificate(certificate: Buffer): jest.SpyInstance {
  const connect = tls.connect;
  return jest
    .spyOn(tls, 'connect')
    .mockImplementation(((options: tls.ConnectionOptions) => connect({ ...options, ca: certificate })) as typeof tls.connect);
}

/** JSON.stringify leaves an error's message and stack out (they are not enumerable). */
const withErrorText = (_key: string, value: unknown) =>
  value instanceof Error ? { ...value, message: value.message, stack: value.stack } : value;

/** Every line the activities log, unscrubbed: nothing may need scrubbing in the first place. */
class CapturingLogger implements Logger {
  readonly lines: string[] = [];
  log(level: LogLevel, message: string, meta?: LogMetadata): void {
    this.lines.push(`${level} ${message} ${JSON.stringify(meta ?? {}, withErrorText)}`);
  }
  trace(message: string, meta?: LogMetadata): void {
    this.log('TRACE', message, meta);
  }
  debug(message: string, meta?: LogMetadata): void {
    this.log('DEBUG', message, meta);
  }
  info(message: string, meta?: LogMetadata): void {
    this.log('INFO', message, meta);
  }
  warn(message: string, meta?: LogMetadata): void {
    this.log('WARN', message, meta);
  }
  error(message: string, meta?: LogMetadata): void {
    this.log('ERROR', message, meta);
  }
}

let tempDir: string;
let certificate: Buffer;
let atlassian: AtlassianStandin;
let datadog: DatadogStandin;
let datadogConfig: DatadogConfigStandin;
let atlassianTls: TlsFront;
let datadogTls: TlsFront;
let datadogConfigTls: TlsFront;
let proxy: ForwardProxy;
const dispatchers: Dispatcher[] = [];

beforeAll(async () => {
  tempDir = await mkdtemp(path.join(os.tmpdir(), 'http-proxy-test-'));
  const keyFile = path.join(tempDir, 'key.pem');
  const certFile = path.join(tempDir, 'cert.pem');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', certFile,
      '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'],
    { stdio: 'ignore' }
  );
  certificate = readFileSync(certFile);
  const credentials = { key: readFileSync(keyFile), cert: certificate };
  atlassian = await AtlassianStandin.start();
  datadog = await DatadogStandin.start({ apiKeys: [DATADOG_KEY] });
  datadogConfig = await DatadogConfigStandin.start({ apiKey: DATADOG_KEY, applicationKey: DD_APP_KEY });
  atlassianTls = await TlsFront.start(atlassian.url, credentials);
  datadogTls = await TlsFront.start(datadog.origin, credentials);
  datadogConfigTls = await TlsFront.start(datadogConfig.origin, credentials);
  proxy = await ForwardProxy.start({ requiredAuthorization: BASIC_CREDENTIALS });
});

beforeEach(() => {
  trustTestCertificate(certificate);
  proxy.hits.length = 0;
  proxy.silent = false;
});

afterEach(async () => {
  jest.restoreAllMocks();
  await Promise.all(dispatchers.splice(0).map((dispatcher) => dispatcher.destroy()));
});

afterAll(async () => {
  await proxy.close();
  await Promise.all([atlassianTls, datadogTls, datadogConfigTls].map((front) => front.close()));
  await Promise.all([atlassian.close(), datadog.close(), datadogConfig.close()]);
  await rm(tempDir, { recursive: true, force: true });
});

function agent(options: HttpAgentOptions): Dispatcher {
  const dispatcher = createHttpAgent({ headersTimeoutMs: 5_000, bodyTimeoutMs: 5_000, ...options });
  dispatchers.push(dispatcher);
  return dispatcher;
}

const ONE_LOG: DatadogLog = {
  ddsource: 'atlassian-event-logs',
  service: 'atlassian-event-logs',
  ddtags: 'org_id:any-org',
  status: 'info',
  timestamp: Date.now(),
  message: 'one log',
  atlassian: { event_id: 'event-1', org_id: 'any-org' },
} as DatadogLog;

const HTTP_ENDPOINTS = () => ({ atlassianBaseUrl: atlassian.url, datadogIntakeUrl: datadog.url });
const HTTPS_ENDPOINTS = () => ({ atlassianBaseUrl: atlassianTls.origin, datadogIntakeUrl: `${datadogTls.origin}/api/v2/logs` });

let orgCount = 0;

/**
 * One page of a fresh org through the activities the worker registers, as its workflow runs them: poll, map (which
 * fetches the org's action catalogue), ship. Returns the event IDs Datadog received for the org.
 */
async function deliverOnePage(
  dispatcher: Dispatcher,
  endpoints: { atlassianBaseUrl: string; datadogIntakeUrl: string },
  logger?: Logger
): Promise<{ orgId: string; polled: string[]; delivered: string[] }> {
  const orgId = `proxied-org-${++orgCount}`;
  atlassian.addOrg(orgId, { apiKeys: [ATLASSIAN_KEY] });
  atlassian.addEvents(orgId, [0, 1].map((i) => ({ action: 'group_created', time: Date.now() - 1_000 + i })));
  const pageStore = new PageStore({ taskQueue: 'test-pages' });
  const activities = createActivities({
    ...endpoints,
    dispatcher,
    env: { ATLASSIAN_API_KEY: ATLASSIAN_KEY, DD_API_KEY: DATADOG_KEY },
    deadLetterDir: path.join(tempDir, 'dead-letters'),
    pageStore,
  });
  const run = <A extends unknown[], R>(activity: (...args: A) => Promise<R>, ...args: A): Promise<R> =>
    new MockActivityEnvironment(undefined, { logger }).run(activity, ...args) as Promise<R>;
  const atlassianCredential = { ref: 'env:ATLASSIAN_API_KEY', version: 1 };
  const outcome = await run(activities.pollEventsPage, { orgId, credential: atlassianCredential, cursor: null, from: 0, limit: 10 });
  if (outcome.kind !== 'page' || outcome.stored === null) throw new Error(`expected a stored page, got ${JSON.stringify(outcome)}`);
  const page = { ref: outcome.stored.ref, taskQueue: outcome.stored.taskQueue };
  const polled = pageStore.events(orgId, page.ref).map((event) => event.id);
  await run(activities.mapEvents, { orgId, origin: 'tail', page, skipKeys: [], atlassianCredential });
  await run(activities.shipLogs, { orgId, credential: { ref: 'env:DD_API_KEY', version: 1 }, page });
  const delivered = datadog.received
    .filter((log) => (log['atlassian'] as { org_id?: string } | undefined)?.org_id === orgId)
    .map((log) => (log['atlassian'] as { event_id: string }).event_id);
  return { orgId, polled, delivered };
}

/** The distinct targets of the proxy's hits, in order of first use. */
const targetsOf = (hits: readonly ProxyHit[]) => [...new Set(hits.map((hit) => hit.target))];

async function failureOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a failure');
    },
    (err: unknown) => err
  );
}

/** Everything an error could show: message, stack, own fields, and its causes. */
function everythingIn(err: unknown): string {
  const parts: string[] = [];
  for (let current = err; current !== undefined && parts.length < 20; current = (current as { cause?: unknown }).cause) {
    parts.push(String(current), (current as Error).stack ?? '', JSON.stringify(current) ?? '');
  }
  return parts.join('\n');
}

/** Each form in which a proxy's credentials could leak: as written in the URL, decoded, and as the Basic token. */
const credentialForms = (user: string, password: string) => [
  password,
  encodeURIComponent(password),
  `${user}:${password}`,
  Buffer.from(`${user}:${password}`).toString('base64'),
];

describe('proxy settings from the environment (worker/config.ts)', () => {
  it('none set: every call direct', () => {
    expect(loadWorkerConfig({}).proxy).toEqual({ httpsProxy: undefined, httpProxy: undefined, noProxy: undefined });
  });

  it('reads the variables as curl does: lower-case form first, no scheme means http://, blank means unset', () => {
    const { proxy: settings } = loadWorkerConfig({
      https_proxy: 'http://lower.example:3128',
      HTTPS_PROXY: 'http://upper.example:3128',
      HTTP_PROXY: 'proxy.example:8080',
      no_proxy: '  ',
      NO_PROXY: ' .Example.com, localhost:8080 ::1\t*.corp.internal 10.1.2.3 ',
    });
    expect(settings).toEqual({
      httpsProxy: 'http://lower.example:3128/',
      httpProxy: 'http://proxy.example:8080/',
      noProxy: '.example.com,localhost:8080,[::1],*.corp.internal,10.1.2.3',
    });
    expect(loadWorkerConfig({ NO_PROXY: 'localhost, *' }).proxy.noProxy).toBe('*');
  });

  it.each([
    ['HTTPS_PROXY', 'socks5://alice:hunter2-secret@proxy.example:1080', 'must be an http:// or https:// proxy URL'],
    ['https_proxy', 'http://alice:hunter2-secret%zz@proxy.example:3128', 'percent-encoded'],
    ['HTTP_PROXY', 'http://', 'must be an http:// or https:// proxy URL'],
    ['NO_PROXY', 'localhost,10.0.0.0/8', 'entry 2 is an address range (CIDR), which is not supported'],
    ['no_proxy', 'localhost bad_host!', 'entry 2 is not a host name, domain (.example.com), IP address or host:port'],
  ])('%s=%s stops the worker with one line naming the variable, never its value', (variable, value, expected) => {
    const err = (() => {
      try {
        loadWorkerConfig({ [variable]: value });
      } catch (error) {
        return error;
      }
      throw new Error('expected a ConfigError');
    })();
    expect(err).toBeInstanceOf(ConfigError);
    const message = (err as Error).message;
    expect(message).toContain(`Invalid configuration: ${variable} `);
    expect(message).toContain(expected);
    expect(message).not.toContain('hunter2');
    expect(message).not.toContain('alice');
    expect(message).not.toContain('10.0.0.0');
    expect(message.split('\n')).toHaveLength(1);
  });

  it('the client reads the same variables, with its own error', () => {
    expect(proxySettingsFromEnv({ HTTPS_PROXY: 'proxy.example:3128', no_proxy: 'localhost' })).toEqual({
      httpsProxy: 'http://proxy.example:3128/',
      httpProxy: undefined,
      noProxy: 'localhost',
    });
    expect(() => proxySettingsFromEnv({ HTTPS_PROXY: 'ftp://alice:hunter2-secret@proxy.example' })).toThrow(ProxyConfigError);
    expect(() => proxySettingsFromEnv({ HTTPS_PROXY: 'ftp://alice:hunter2-secret@proxy.example' })).toThrow(
      /^Invalid proxy configuration: HTTPS_PROXY must be an http:\/\/ or https:\/\/ proxy URL(?!.*hunter2)/
    );
  });
});

describe('delivery through a forward proxy', () => {
  it('https:// targets: a poll, the action catalogue and a ship go through CONNECT tunnels, with the credentials', async () => {
    const dispatcher = agent({ proxy: { httpsProxy: proxy.url() } });
    const frontPorts = () => [...atlassianTls.clientPorts, ...datadogTls.clientPorts];
    const portsBefore = frontPorts().length;
    const { polled, delivered } = await deliverOnePage(dispatcher, HTTPS_ENDPOINTS());
    expect(polled).toHaveLength(2);
    expect(delivered).toEqual(polled);
    expect(targetsOf(proxy.hits)).toEqual([`127.0.0.1:${atlassianTls.port}`, `127.0.0.1:${datadogTls.port}`]);
    for (const hit of proxy.hits) expect(hit).toMatchObject({ kind: 'connect', proxyAuthorization: BASIC_CREDENTIALS });
    // Every connection the https:// targets saw came out of a tunnel: none of the three calls went direct.
    const newPorts = frontPorts().slice(portsBefore);
    expect(newPorts.length).toBeGreaterThan(0);
    for (const port of newPorts) expect(proxy.upstreamPorts.has(port)).toBe(true);
    // TLS ran inside the tunnels, and the certificate was checked.
    expect(jest.mocked(tls.connect).mock.calls.length).toBeGreaterThanOrEqual(2);
  });

  it('http:// targets: each request goes to the proxy with its absolute URI; HTTP_PROXY alone serves https:// too', async () => {
    const dispatcher = agent({ proxy: { httpProxy: proxy.url() } });
    const { orgId, polled, delivered } = await deliverOnePage(dispatcher, HTTP_ENDPOINTS());
    expect(delivered).toEqual(polled);
    const withoutQuery = proxy.hits.map((hit) => ({ ...hit, target: hit.target.replace(/\?.*$/, '') }));
    expect(targetsOf(withoutQuery)).toEqual([
      `${atlassian.url}/admin/v1/orgs/${orgId}/events-stream`,
      `${atlassian.url}/admin/v1/orgs/${orgId}/event-actions`,
      datadog.url,
    ]);
    for (const hit of proxy.hits) expect(hit).toMatchObject({ kind: 'forward', proxyAuthorization: BASIC_CREDENTIALS });

    // undici's rule, where curl would go direct: without HTTPS_PROXY, https:// targets tunnel through HTTP_PROXY.
    proxy.hits.length = 0;
    const tunnelled = await deliverOnePage(dispatcher, HTTPS_ENDPOINTS());
    expect(tunnelled.delivered).toEqual(tunnelled.polled);
    expect(targetsOf(proxy.hits)).toEqual([`127.0.0.1:${atlassianTls.port}`, `127.0.0.1:${datadogTls.port}`]);
  });

  it('an https:// proxy URL: TLS to the proxy, then the tunnel', async () => {
    const key = readFileSync(path.join(tempDir, 'key.pem'));
    const tlsProxy = await ForwardProxy.start({ requiredAuthorization: BASIC_CREDENTIALS, tls: { key, cert: certificate } });
    try {
      // By name, as a real proxy is (a TLS server name may not be an IP address); localhost is this loopback.
      const dispatcher = agent({ proxy: { httpsProxy: tlsProxy.url(PROXY_USER, PROXY_PASSWORD, 'https', 'localhost') } });
      const { polled, delivered } = await deliverOnePage(dispatcher, HTTPS_ENDPOINTS());
      expect(delivered).toEqual(polled);
      expect(targetsOf(tlsProxy.hits)).toEqual([`127.0.0.1:${atlassianTls.port}`, `127.0.0.1:${datadogTls.port}`]);
    } finally {
      await tlsProxy.close();
    }
  });

  it('keeps connections alive through the proxy: a second page reuses the tunnels, and the connections to it', async () => {
    const tunnelled = agent({ proxy: { httpsProxy: proxy.url() } });
    await deliverOnePage(tunnelled, HTTPS_ENDPOINTS());
    const tunnels = proxy.hits.length;
    await deliverOnePage(tunnelled, HTTPS_ENDPOINTS());
    expect(proxy.hits).toHaveLength(tunnels);

    const forwarded = agent({ proxy: { httpProxy: proxy.url() } });
    await deliverOnePage(forwarded, HTTP_ENDPOINTS());
    const connections = proxy.connections;
    const requests = proxy.hits.length;
    await deliverOnePage(forwarded, HTTP_ENDPOINTS());
    expect(proxy.hits.length).toBeGreaterThan(requests);
    expect(proxy.connections).toBe(connections);
  });

  it('a proxy that never answers ends in the headers timeout, tunnel and forwarded request alike', async () => {
    proxy.silent = true;
    const atlassianCredential = { ref: 'env:ATLASSIAN_API_KEY', version: 1 };
    for (const [proxySettings, baseUrl] of [
      [{ httpsProxy: proxy.url() }, atlassianTls.origin],
      [{ httpProxy: proxy.url() }, atlassian.url],
    ] as const) {
      const activities = createActivities({
        atlassianBaseUrl: baseUrl,
        datadogIntakeUrl: datadog.url,
        dispatcher: agent({ headersTimeoutMs: 500, proxy: proxySettings }),
        env: { ATLASSIAN_API_KEY: ATLASSIAN_KEY },
        pageStore: new PageStore({ taskQueue: 'test-pages' }),
      });
      const started = Date.now();
      const err = await failureOf(
        new MockActivityEnvironment(undefined, { logger: new CapturingLogger() }).run(activities.pollEventsPage, {
          orgId: 'any-org',
          credential: atlassianCredential,
          cursor: null,
          from: 0,
          limit: 10,
        })
      );
      // undici's own pools to a proxy wait 300 s for headers; the project's 500 ms reach them too.
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(err).toBeInstanceOf(ApplicationFailure);
      expect(err).toMatchObject({ type: FailureType.AtlassianTransportError, message: 'Atlassian request failed: UND_ERR_HEADERS_TIMEOUT' });
    }
  }, 15_000);
});

describe('NO_PROXY', () => {
  it('a listed host:port is reached directly, the others through the proxy (settings read by the worker config)', async () => {
    const { proxy: settings } = loadWorkerConfig({ HTTPS_PROXY: proxy.url(), NO_PROXY: `localhost, 127.0.0.1:${datadogTls.port}` });
    const datadogPortsBefore = datadogTls.clientPorts.length;
    const { polled, delivered } = await deliverOnePage(agent({ proxy: settings }), HTTPS_ENDPOINTS());
    expect(delivered).toEqual(polled);
    expect(targetsOf(proxy.hits)).toEqual([`127.0.0.1:${atlassianTls.port}`]);
    const direct = datadogTls.clientPorts.slice(datadogPortsBefore);
    expect(direct.length).toBeGreaterThan(0);
    for (const port of direct) expect(proxy.upstreamPorts.has(port)).toBe(false);
  });

  it.each(['127.0.0.1', '*', '.example.com,127.0.0.1', '[::1],127.0.0.1'])('NO_PROXY=%s: nothing is proxied', async (noProxy) => {
    const { proxy: settings } = loadWorkerConfig({ HTTPS_PROXY: proxy.url(), HTTP_PROXY: proxy.url(), NO_PROXY: noProxy });
    for (const endpoints of [HTTPS_ENDPOINTS(), HTTP_ENDPOINTS()]) {
      const { polled, delivered } = await deliverOnePage(agent({ proxy: settings }), endpoints);
      expect(delivered).toEqual(polled);
    }
    expect(proxy.hits).toEqual([]);
  });
});

describe('proxy credentials', () => {
  const WRONG_PASSWORD = 'wrong-password:with@chars';
  const wrongUrl = () => proxy.url(PROXY_USER, WRONG_PASSWORD);

  it('refused by the proxy (407): the failure says so and holds no credential, nor does any log line', async () => {
    const logger = new CapturingLogger();
    const forms = credentialForms(PROXY_USER, WRONG_PASSWORD);
    for (const [settings, endpoints] of [
      [{ httpsProxy: wrongUrl() }, HTTPS_ENDPOINTS()],
      [{ httpProxy: wrongUrl() }, HTTP_ENDPOINTS()],
    ] as const) {
      const pageStore = new PageStore({ taskQueue: 'test-pages' });
      const activities = createActivities({
        ...endpoints,
        dispatcher: agent({ proxy: settings }),
        env: { ATLASSIAN_API_KEY: ATLASSIAN_KEY, DD_API_KEY: DATADOG_KEY },
        deadLetterDir: path.join(tempDir, 'dead-letters'),
        pageStore,
      });
      const environment = () => new MockActivityEnvironment(undefined, { logger });
      const pollFailure = await failureOf(
        environment().run(activities.pollEventsPage, {
          orgId: 'any-org',
          credential: { ref: 'env:ATLASSIAN_API_KEY', version: 1 },
          cursor: null,
          from: 0,
          limit: 10,
        })
      );
      expect(pollFailure).toMatchObject({ type: FailureType.AtlassianTransportError, message: 'Atlassian request failed: the proxy answered 407' });
      // A mapped page of one log, as the map activity leaves it in the page store.
      const mappedPage = pageStore.putEvents('any-org', [], 0);
      pageStore.putLogs('any-org', mappedPage.ref, { logs: [ONE_LOG], malformed: 0 });
      const shipFailure = await failureOf(
        environment().run(activities.shipLogs, {
          orgId: 'any-org',
          credential: { ref: 'env:DD_API_KEY', version: 1 },
          page: mappedPage,
        })
      );
      expect(shipFailure).toMatchObject({ type: FailureType.DatadogTransportError, message: 'Datadog request failed: the proxy answered 407' });
      // The catalogue's failure is only a warning in the log: mapping goes on without display names.
      const emptyPage = pageStore.putEvents('any-org', [], 0);
      const mapped = await environment().run(activities.mapEvents, {
        orgId: 'any-org',
        origin: 'tail' as const,
        page: emptyPage,
        skipKeys: [],
        atlassianCredential: { ref: 'env:ATLASSIAN_API_KEY', version: 1 },
      });
      expect(mapped).toEqual({ logs: 0, malformed: 0 });
      for (const text of [everythingIn(pollFailure), everythingIn(shipFailure)]) {
        for (const form of forms) expect(text).not.toContain(form);
      }
    }
    expect(logger.lines.some((line) => line.includes('action catalogue unavailable'))).toBe(true);
    for (const line of logger.lines) for (const form of forms) expect(line).not.toContain(form);
    const sent = `Basic ${Buffer.from(`${PROXY_USER}:${WRONG_PASSWORD}`).toString('base64')}`;
    expect(proxy.hits.length).toBeGreaterThan(0);
    for (const hit of proxy.hits) expect(hit.proxyAuthorization).toBe(sent);
  });

  it("the worker's log scrubber removes them in every form, and its start-up line shows the proxy without them", () => {
    const env = { HTTPS_PROXY: proxy.url(), http_proxy: 'http://token-only-user-4f1e@127.0.0.1:3128' };
    const lines: string[] = [];
    const logger = createJsonLogger({ secrets: secretValuesIn(env), write: (line) => lines.push(line) });
    const token = Buffer.from(`${PROXY_USER}:${PROXY_PASSWORD}`).toString('base64');
    logger.error(`proxy ${env.HTTPS_PROXY} refused ${PROXY_PASSWORD}`, {
      error: new Error(`Proxy-Authorization: Basic ${token} for ${PROXY_USER}:${PROXY_PASSWORD} via ${env.http_proxy}`),
    });
    expect(lines).toHaveLength(1);
    const line = lines[0]!;
    for (const form of [...credentialForms(PROXY_USER, PROXY_PASSWORD), 'token-only-user-4f1e']) expect(line).not.toContain(form);
    expect(line).toContain('[redacted]');

    expect(displayableProxySettings(loadWorkerConfig(env).proxy)).toEqual({
      httpsProxy: `http://127.0.0.1:${proxy.port}`,
      httpProxy: 'http://127.0.0.1:3128',
      noProxy: 'none',
    });
    // undici's rule shown as it routes: without HTTPS_PROXY, https:// targets go through HTTP_PROXY.
    expect(displayableProxySettings(loadWorkerConfig({ HTTP_PROXY: proxy.url(), NO_PROXY: 'localhost' }).proxy)).toEqual({
      httpsProxy: `http://127.0.0.1:${proxy.port}`,
      httpProxy: `http://127.0.0.1:${proxy.port}`,
      noProxy: 'localhost',
    });
  });
});

describe('datadog apply', () => {
  const applyEnv = () => ({ DD_API_KEY: DATADOG_KEY, DD_APP_KEY: DD_APP_KEY, DD_API_BASE_URL: datadogConfigTls.origin });
  const APPLY_WRONG_PASSWORD = 'not-the-password-7b';
  const wrongProxyUrl = () => proxy.url(PROXY_USER, APPLY_WRONG_PASSWORD);

  /** `atlassian-audit datadog apply --dry-run` as main.ts runs it, with `proxyEnv` in this process's environment. */
  async function dryRun(proxyEnv: NodeJS.ProcessEnv): Promise<{ lines: string[]; error?: unknown }> {
    const saved = { ...process.env };
    Object.assign(process.env, proxyEnv);
    const run: { lines: string[]; error?: unknown } = { lines: [] };
    try {
      const program = new Command('atlassian-audit').exitOverride();
      registerDatadogCommands(program, { env: applyEnv(), print: (line) => run.lines.push(line) });
      await program.parseAsync(['datadog', 'apply', '--dry-run'], { from: 'user' });
    } catch (error) {
      run.error = error;
    } finally {
      for (const name of Object.keys(proxyEnv)) delete process.env[name];
      Object.assign(process.env, saved);
    }
    return run;
  }

  it("honours the process's HTTPS_PROXY, as curl would", async () => {
    const run = await dryRun({ HTTPS_PROXY: proxy.url(), NO_PROXY: 'localhost' });
    expect(run.error).toBeUndefined();
    expect(run.lines.join('\n')).toContain('dry run');
    expect(targetsOf(proxy.hits)).toEqual([`127.0.0.1:${datadogConfigTls.port}`]);
    for (const hit of proxy.hits) expect(hit).toMatchObject({ kind: 'connect', proxyAuthorization: BASIC_CREDENTIALS });
    expect(datadogConfig.requests.length).toBeGreaterThan(0);
  });

  it('a refusing proxy: an error that says so without the credentials; a bad variable: a usage error', async () => {
    const refused = await dryRun({ https_proxy: wrongProxyUrl() });
    expect(refused.error).toBeInstanceOf(DatadogUnreachableError);
    const message = (refused.error as Error).message;
    expect(message).toMatch(/failed: the proxy answered 407$/);
    for (const form of credentialForms(PROXY_USER, APPLY_WRONG_PASSWORD)) expect(everythingIn(refused.error)).not.toContain(form);

    const invalid = await dryRun({ HTTPS_PROXY: 'socks5://alice:hunter2-secret@127.0.0.1:1080' });
    expect(invalid.error).toBeInstanceOf(UsageError);
    expect((invalid.error as Error).message).toMatch(/^Invalid proxy configuration: HTTPS_PROXY must be/);
    expect((invalid.error as Error).message).not.toContain('hunter2');
  });
});

describe('every outbound client uses the shared agent', () => {
  /** The code that runs in the worker, the client and the demo (the stand-ins are servers and stay out). */
  const SCANNED = ['activities', 'client', 'worker', 'codec', 'shared', 'workflows', 'dev/demo'];

  async function sourceFiles(): Promise<Map<string, string>> {
    const files = new Map<string, string>();
    for (const dir of SCANNED) {
      for (const entry of await readdir(path.join(PROJECT_ROOT, dir), { recursive: true, withFileTypes: true })) {
        if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
        const file = path.join(entry.parentPath, entry.name);
        files.set(path.relative(PROJECT_ROOT, file), await readFile(file, 'utf8'));
      }
    }
    return files;
  }

  /** The names a file imports from undici as values (`type` imports left out). */
  function undiciValueImports(source: string): string[] {
    return [...source.matchAll(/import\s+(type\s+)?\{([^}]*)\}\s+from\s+'undici'/g)]
      .filter((match) => match[1] === undefined)
      .flatMap((match) => match[2]!.split(','))
      .map((name) => name.trim())
      .filter((name) => name !== '' && !name.startsWith('type '))
      .sort();
  }

  /** The argument text of each call `name(...)` that is not a method call or a declaration. */
  function callsOf(source: string, name: string): string[] {
    const calls: string[] = [];
    for (const match of source.matchAll(new RegExp(`(?<![.\\w]|function |async )${name}\\(`, 'g'))) {
      let depth = 0;
      let end = match.index + match[0].length - 1;
      do {
        const char = source[end++];
        if (char === '(') depth++;
        if (char === ')') depth--;
      } while (depth > 0 && end < source.length);
      calls.push(source.slice(match.index, end));
    }
    return calls;
  }

  /** The clients routed through the proxy by the tests above; a rename must not slip out of the scan unseen. */
  const ROUTED_ABOVE = [
    'activities/poll.ts',
    'activities/ship.ts',
    'activities/action-catalogue-cache.ts',
    'client/datadog-apply/datadog-api.ts',
  ];

  it('only activities/http-client.ts builds a dispatcher; each request passes one; nothing else makes HTTP calls', async () => {
    const files = await sourceFiles();
    const requesters: string[] = [];
    for (const [file, source] of files) {
      const names = undiciValueImports(source);
      if (file === 'activities/http-client.ts') {
        expect(names).toEqual(['EnvHttpProxyAgent', 'Pool']);
        continue;
      }
      // Anything but `request` (an Agent, fetch, stream, setGlobalDispatcher, ...) would be a client of its own.
      expect({ file, undiciValues: names.filter((name) => name !== 'request') }).toEqual({ file, undiciValues: [] });
      if (!names.includes('request')) continue;
      requesters.push(file);
      // Without `dispatcher`, undici's global Agent would send the request, direct.
      const calls = callsOf(source, 'request');
      expect({ file, requestCalls: calls.length > 0 }).toEqual({ file, requestCalls: true });
      // `dispatcher: x` or the shorthand `{ dispatcher, … }`.
      for (const call of calls) expect({ file, passesDispatcher: /\bdispatcher\s*[:,}]/.test(call) }).toEqual({ file, passesDispatcher: true });
    }
    expect(requesters).toEqual(expect.arrayContaining(ROUTED_ABOVE));
    for (const [file, source] of files) {
      const offences = [
        /require\(\s*'undici'\s*\)/.test(source) && 'requires undici',
        /import\s+(?:\*\s+as\s+)?\w+\s+from\s+'undici'/.test(source) && 'imports all of undici',
        /\bhttps?\.(?:request|get)\s*\(/.test(source) && "uses node:http's client",
        /import\s+\{[^}]*\b(?:request|get)\b[^}]*\}\s+from\s+'(?:node:)?https?'/.test(source) && "imports node:http's client",
        callsOf(source, 'fetch').length > 0 && 'calls fetch',
      ].filter(Boolean);
      expect({ file, offences }).toEqual({ file, offences: [] });
    }
  });

  it('the worker and the demo hand their proxy settings to createHttpAgent', async () => {
    for (const file of ['worker/main.ts', 'dev/demo/main.ts']) {
      const calls = callsOf(await readFile(path.join(PROJECT_ROOT, file), 'utf8'), 'createHttpAgent');
      expect({ file, calls: calls.length }).toEqual({ file, calls: 1 });
      expect({ file, passesProxy: /\bproxy\s*:/.test(calls[0]!) }).toEqual({ file, passesProxy: true });
    }
  });
});
