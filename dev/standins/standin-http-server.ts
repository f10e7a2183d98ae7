/**
 * The HTTP plumbing the stand-ins share: a loopback server whose handler returns what to do with a request
 * (answer it, reset the connection, or leave it hanging) instead of writing to the socket itself. Keeping the
 * handlers free of socket code lets them record every outcome in one place and makes faults one more outcome.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the server does with one request. */
export type HttpOutcome =
  | { readonly kind: 'reply'; readonly status: number; readonly headers: Record<string, string>; readonly body: string }
  /** Destroy the connection without answering, as a crashed proxy or a network cut would. */
  | { readonly kind: 'reset' }
  /** Answer nothing for `ms`, then destroy the connection: a stalled upstream that clients must time out on. */
  | { readonly kind: 'hang'; readonly ms: number };

export interface StandinHttpRequest {
  readonly method: string;
  /** Parsed against the server's own origin, so `url.pathname` and `url.searchParams` are ready to use. */
  readonly url: URL;
  readonly headers: http.IncomingHttpHeaders;
  /** The raw request body, empty when `bodyTooLarge` (its bytes were counted and discarded). */
  readonly body: Buffer;
  readonly bodyBytes: number;
  readonly bodyTooLarge: boolean;
}

export type StandinHttpHandler = (request: StandinHttpRequest) => Promise<HttpOutcome>;

export interface StandinHttpServerOptions {
  /**
   * TCP port on 127.0.0.1; 0 picks a free one.
   * @default 0
   */
  port?: number;
  /**
   * Request bodies above this are not kept in memory; the handler sees `bodyTooLarge`. The Datadog intake's own
   * limit (5 MB uncompressed) sits well below, so the handler can still answer 413 the documented way.
   * @default 16 * 1024 * 1024
   */
  maxBodyBytes?: number;
}

/**
 * Starts a stand-in whose handler is one of its own (private) methods. The server must listen before the stand-in
 * exists, since the stand-in is built with the server's origin; no request is served before `build` has returned.
 */
export async function listenStandin<Standin>(
  build: (server: StandinHttpServer) => Standin,
  handle: (standin: Standin, request: StandinHttpRequest) => Promise<HttpOutcome>,
  options: StandinHttpServerOptions = {}
): Promise<Standin> {
  let standin: Standin | undefined;
  const server = await StandinHttpServer.listen(async (request) => {
    if (standin === undefined) throw new Error('stand-in not ready');
    return handle(standin, request);
  }, options);
  standin = build(server);
  return standin;
}

export function jsonReply(status: number, body: unknown, headers: Record<string, string> = {}): HttpOutcome {
  const allHeaders = { 'content-type': 'application/json', ...headers };
  return { kind: 'reply', status, headers: allHeaders, body: JSON.stringify(body) };
}

export class StandinHttpServer {
  /** `http://127.0.0.1:<port>`, without a trailing slash. */
  readonly origin: string;
  private readonly hangTimers = new Set<NodeJS.Timeout>();

  private constructor(private readonly server: http.Server) {
    const { port } = server.address() as AddressInfo;
    this.origin = `http://127.0.0.1:${port}`;
  }

  static async listen(handler: StandinHttpHandler, options: StandinHttpServerOptions = {}): Promise<StandinHttpServer> {
    const maxBodyBytes = options.maxBodyBytes ?? 16 * 1024 * 1024;
    let standin: StandinHttpServer | undefined;
    const server = http.createServer((req, res) => {
      // The server object exists before `listen` resolves, but no request can arrive before that.
      if (standin) void standin.serve(req, res, handler, maxBodyBytes);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    standin = new StandinHttpServer(server);
    return standin;
  }

  /** Stops listening and drops every open connection, hanging ones included, so tests end promptly. */
  async close(): Promise<void> {
    for (const timer of this.hangTimers) clearTimeout(timer);
    this.hangTimers.clear();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  private async serve(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    handler: StandinHttpHandler,
    maxBodyBytes: number
  ): Promise<void> {
    let outcome: HttpOutcome;
    try {
      const { body, bodyBytes } = await readBody(req, maxBodyBytes);
      const request: StandinHttpRequest = {
        method: req.method ?? 'GET',
        url: new URL(req.url ?? '/', this.origin),
        headers: req.headers,
        body: body ?? Buffer.alloc(0),
        bodyBytes,
        bodyTooLarge: body === undefined,
      };
      outcome = await handler(request);
    } catch (error) {
      // A stand-in bug must show up as a 500 the test can see, not as a silently dropped connection.
      const detail = error instanceof Error ? error.message : String(error);
      outcome = jsonReply(500, { errors: [{ status: '500', title: 'Internal Server Error', detail }] });
    }
    this.deliver(req, res, outcome);
  }

  private deliver(req: http.IncomingMessage, res: http.ServerResponse, outcome: HttpOutcome): void {
    switch (outcome.kind) {
      case 'reply':
        res.writeHead(outcome.status, { ...outcome.headers, 'content-length': Buffer.byteLength(outcome.body) });
        res.end(outcome.body);
        return;
      case 'reset':
        req.socket.destroy();
        return;
      case 'hang': {
        const timer = setTimeout(() => {
          this.hangTimers.delete(timer);
          req.socket.destroy();
        }, outcome.ms);
        this.hangTimers.add(timer);
        return;
      }
    }
  }
}

/** Reads the whole body; past `maxBytes` it keeps counting but stops buffering (body is then undefined). */
async function readBody(req: http.IncomingMessage, maxBytes: number): Promise<{ body?: Buffer; bodyBytes: number }> {
  const chunks: Buffer[] = [];
  let bodyBytes = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    bodyBytes += buffer.length;
    if (bodyBytes <= maxBytes) chunks.push(buffer);
  }
  return bodyBytes <= maxBytes ? { body: Buffer.concat(chunks), bodyBytes } : { bodyBytes };
}
