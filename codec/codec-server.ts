import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { PayloadDecryptionError, UnknownPayloadKeyError } from './codec-errors';
import type { CodecRequestBody } from './codec-wire-format';
import { codecRequestBodySchema, payloadsFromJson, payloadsToJson } from './codec-wire-format';

export interface CodecServerOptions {
  /** Codec whose `encode`/`decode` the endpoints expose. */
  codec: PayloadCodec;
  /**
   * Shared secret a caller must present, either as `Authorization: Bearer <token>` (Temporal CLI `--codec-auth`,
   * scripts) or as the first path segment, `/<token>/decode` (the Temporal Web UI, which cannot send a static
   * bearer token: see client/codec-server-command.ts). Use a URL-safe value so that the path form works.
   */
  token: string;
  /**
   * The one browser origin (scheme, host, port) allowed to call: the Temporal Web UI. Requests that carry another
   * `Origin` are refused; requests without `Origin` (CLI, scripts) are not browser requests and need only the token.
   * @default 'http://localhost:8233' (the dev server's Web UI)
   */
  uiOrigin?: string;
  /**
   * Interface to listen on. Decoded payloads are personal data: keep the server local unless a proxy with TLS
   * stands in front of it.
   * @default '127.0.0.1'
   */
  host?: string;
  /**
   * TCP port; 0 picks a free one (see {@link RunningCodecServer.url}).
   * @default 8888
   */
  port?: number;
  /**
   * Largest accepted request body. Temporal caps a gRPC message at 4 MB; base64 adds a third.
   * @default 8 MiB
   */
  maxBodyBytes?: number;
}

export interface RunningCodecServer {
  /** Base URL of the server, with the bound port, e.g. `http://127.0.0.1:8888`. */
  readonly url: string;
  /** Stops accepting connections; resolves once the open ones are closed. */
  close(): Promise<void>;
}

/** Headers the preflight admits: the ones the Temporal Web UI and CLI send. */
const CORS_PREFLIGHT_HEADERS = {
  'access-control-allow-methods': 'POST, GET, OPTIONS',
  'access-control-allow-headers': 'X-Namespace, Content-Type, Authorization',
  'access-control-max-age': '600',
} as const;

const CODEC_OPERATIONS = ['encode', 'decode'] as const;
type CodecOperation = (typeof CODEC_OPERATIONS)[number];

/** Ends a request with a status and a JSON `{ error }` whose text is safe to show (no secrets, no payload data). */
class HttpError extends Error {
  override readonly name = 'HttpError';

  constructor(
    readonly status: number,
    message: string,
    readonly headers: OutgoingHttpHeaders = {}
  ) {
    super(message);
  }
}

/**
 * Starts the codec server the Temporal Web UI and CLI call to show encrypted payloads decoded:
 * `POST /encode` and `POST /decode` (optionally behind `/<token>`), body and answer
 * `{ payloads: [{ metadata: { key: base64 }, data: base64 }] }`.
 *
 * Decoding hands personal data to whoever calls, so every request must carry the token, browser requests must come
 * from the configured UI origin, and the server binds to loopback by default.
 */
export async function startCodecServer(options: CodecServerOptions): Promise<RunningCodecServer> {
  if (options.token === '') {
    throw new RangeError('codec server token must not be empty');
  }
  // Browsers send `Origin` as scheme://host[:port] with no trailing slash; compare against the same form.
  const uiOrigin = new URL(options.uiOrigin ?? 'http://localhost:8233').origin;
  const host = options.host ?? '127.0.0.1';
  const maxBodyBytes = options.maxBodyBytes ?? 8 * 1024 * 1024;
  const tokenDigest = sha256(options.token);

  const server = createServer((request, response) => {
    const corsHeaders: OutgoingHttpHeaders =
      request.headers.origin === uiOrigin
        ? { 'access-control-allow-origin': uiOrigin, 'access-control-allow-credentials': 'true', vary: 'Origin' }
        : { vary: 'Origin' };
    handleRequest(request, response, corsHeaders).catch((error: unknown) => {
      const httpError = error instanceof HttpError ? error : new HttpError(500, 'internal error');
      sendJson(response, httpError.status, { error: httpError.message }, { ...corsHeaders, ...httpError.headers });
    });
  });

  async function handleRequest(
    request: IncomingMessage,
    response: ServerResponse,
    corsHeaders: OutgoingHttpHeaders
  ): Promise<void> {
    const origin = request.headers.origin;
    if (origin !== undefined && origin !== uiOrigin) {
      throw new HttpError(403, 'origin not allowed');
    }
    if (request.method === 'OPTIONS') {
      response.writeHead(204, { ...corsHeaders, ...CORS_PREFLIGHT_HEADERS }).end();
      return;
    }
    const route = parseRoute(request.url ?? '/');
    if (route === undefined) {
      throw new HttpError(404, 'not found: use POST /encode or POST /decode');
    }
    if (request.method !== 'POST') {
      throw new HttpError(405, 'method not allowed: use POST', { allow: 'POST, OPTIONS' });
    }
    if (!isAuthorized(request.headers.authorization, route.pathToken)) {
      throw new HttpError(401, 'missing or wrong token', { 'www-authenticate': 'Bearer' });
    }
    const payloads = payloadsFromJson(parseBody(await readBody(request, maxBodyBytes)));
    const converted = await runCodec(options.codec, route.operation, payloads);
    sendJson(response, 200, payloadsToJson(converted), corsHeaders);
  }

  function isAuthorized(authorization: string | undefined, pathToken: string | undefined): boolean {
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
    return [bearer, pathToken].some(
      (candidate) => candidate !== undefined && timingSafeEqual(sha256(candidate), tokenDigest)
    );
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8888, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const urlHost = host.includes(':') ? `[${host}]` : host;

  return {
    url: `http://${urlHost}:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeIdleConnections();
      }),
  };
}

/** `/encode`, `/decode`, or the same behind one path segment holding the token. */
function parseRoute(url: string): { operation: CodecOperation; pathToken: string | undefined } | undefined {
  const segments = new URL(url, 'http://codec.invalid').pathname.split('/').filter((segment) => segment !== '');
  const operation = CODEC_OPERATIONS.find((candidate) => candidate === segments.at(-1));
  if (operation === undefined || segments.length > 2) {
    return undefined;
  }
  return { operation, pathToken: segments.length === 2 ? segments[0] : undefined };
}

async function readBody(request: IncomingMessage, maxBodyBytes: number): Promise<Buffer> {
  const tooLarge = new HttpError(413, `request body larger than ${maxBodyBytes} bytes`, { connection: 'close' });
  if (Number(request.headers['content-length'] ?? 0) > maxBodyBytes) {
    throw tooLarge;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBodyBytes) {
      throw tooLarge;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function parseBody(body: Buffer): CodecRequestBody {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    throw new HttpError(400, 'body is not JSON');
  }
  const result = codecRequestBodySchema.safeParse(json);
  if (!result.success) {
    throw new HttpError(400, 'body must be { payloads: [{ metadata: { key: base64 }, data: base64 }] }');
  }
  return result.data;
}

async function runCodec(codec: PayloadCodec, operation: CodecOperation, payloads: Payload[]): Promise<Payload[]> {
  try {
    return operation === 'encode' ? await codec.encode(payloads) : await codec.decode(payloads);
  } catch (error) {
    // These messages name key IDs and causes, never key material or payload contents.
    if (error instanceof UnknownPayloadKeyError || error instanceof PayloadDecryptionError) {
      throw new HttpError(422, error.message);
    }
    throw error;
  }
}

function sendJson(response: ServerResponse, status: number, body: unknown, headers: OutgoingHttpHeaders): void {
  if (response.headersSent) {
    response.destroy();
    return;
  }
  response.writeHead(status, { ...headers, 'content-type': 'application/json' }).end(JSON.stringify(body));
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
