import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Payload } from '@temporalio/common';
import { defaultPayloadConverter } from '@temporalio/common';
import { request } from 'undici';
import { CodecConfigError } from '../../codec/codec-errors';
import type { RunningCodecServer } from '../../codec/codec-server';
import { startCodecServer } from '../../codec/codec-server';
import { loadCodecServerOptions } from '../../codec/codec-server-config';
import { payloadsFromJson, payloadsToJson } from '../../codec/codec-wire-format';
import type { JsonPayload } from '../../codec/codec-wire-format';
import { EncryptionCodec } from '../../codec/encryption-codec';
import { loadPayloadKeyRing } from '../../codec/payload-keys';

const UI_ORIGIN = 'http://localhost:8233';
const TOKEN = randomBytes(32).toString('hex');
const KEY = randomBytes(32).toString('base64');

function codecWithKey(key: string): EncryptionCodec {
  return new EncryptionCodec({ keys: loadPayloadKeyRing({ AUDIT_PAYLOAD_KEY: key })! });
}

const codec = codecWithKey(KEY);
let server: RunningCodecServer;

beforeAll(async () => {
  server = await startCodecServer({ codec, token: TOKEN, port: 0 });
});

afterAll(async () => {
  await server.close();
});

interface CallOptions {
  path?: string;
  method?: 'POST' | 'OPTIONS' | 'GET';
  headers?: Record<string, string>;
  body?: unknown;
}

async function call(options: CallOptions, baseUrl = server.url) {
  const response = await request(`${baseUrl}${options.path ?? '/decode'}`, {
    method: options.method ?? 'POST',
    headers: { 'content-type': 'application/json', 'x-namespace': 'default', ...options.headers },
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await response.body.text();
  return { status: response.statusCode, headers: response.headers, text, json: text ? JSON.parse(text) : undefined };
}

const bearer = { authorization: `Bearer ${TOKEN}` };

async function encryptedBody(value: unknown, withCodec = codec): Promise<{ payloads: JsonPayload[] }> {
  return payloadsToJson(await withCodec.encode([defaultPayloadConverter.toPayload(value)]));
}

function valuesOf(json: { payloads: JsonPayload[] }): unknown[] {
  return payloadsFromJson(json).map((payload: Payload) => defaultPayloadConverter.fromPayload(payload));
}

describe('codec server', () => {
  it('binds to 127.0.0.1 by default', () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('refuses a request without a token (401)', async () => {
    const response = await call({ body: await encryptedBody({ a: 1 }) });
    expect(response.status).toBe(401);
    expect(response.headers['www-authenticate']).toBe('Bearer');
    expect(response.json).toEqual({ error: 'missing or wrong token' });
  });

  it('refuses a wrong token, in the header or in the path (401)', async () => {
    const body = await encryptedBody({ a: 1 });
    const wrong = randomBytes(32).toString('hex');
    expect((await call({ body, headers: { authorization: `Bearer ${wrong}` } })).status).toBe(401);
    expect((await call({ body, headers: { authorization: `Basic ${TOKEN}` } })).status).toBe(401);
    expect((await call({ body, path: `/${wrong}/decode` })).status).toBe(401);
  });

  it('refuses another origin even with the right token (403), without CORS headers', async () => {
    const response = await call({
      body: await encryptedBody({ a: 1 }),
      headers: { ...bearer, origin: 'http://evil.example' },
    });
    expect(response.status).toBe(403);
    expect(response.headers['access-control-allow-origin']).toBeUndefined();
    const preflight = await call({ method: 'OPTIONS', headers: { origin: 'http://localhost:9999' } });
    expect(preflight.status).toBe(403);
  });

  it('answers the preflight for the UI origin', async () => {
    const response = await call({
      method: 'OPTIONS',
      headers: {
        origin: UI_ORIGIN,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type,x-namespace,authorization',
      },
    });
    expect(response.status).toBe(204);
    expect(response.headers).toMatchObject({
      'access-control-allow-origin': UI_ORIGIN,
      'access-control-allow-methods': 'POST, GET, OPTIONS',
      'access-control-allow-headers': 'X-Namespace, Content-Type, Authorization',
      'access-control-allow-credentials': 'true',
    });
  });

  it('decodes for the UI origin with the token, with CORS headers on the answer', async () => {
    const response = await call({
      body: await encryptedBody({ actor: 'Zoë <zoe@example.com>' }),
      headers: { ...bearer, origin: UI_ORIGIN },
    });
    expect(response.status).toBe(200);
    expect(response.headers['access-control-allow-origin']).toBe(UI_ORIGIN);
    expect(response.headers['access-control-allow-credentials']).toBe('true');
    expect(response.headers['content-type']).toBe('application/json');
    expect(valuesOf(response.json)).toEqual([{ actor: 'Zoë <zoe@example.com>' }]);
  });

  it('accepts the token as the first path segment, which is how the Web UI can send it', async () => {
    const response = await call({
      path: `/${TOKEN}/decode`,
      body: await encryptedBody([1, 2, 3]),
      headers: { origin: UI_ORIGIN },
    });
    expect(response.status).toBe(200);
    expect(valuesOf(response.json)).toEqual([[1, 2, 3]]);
  });

  it('round-trips encode then decode over HTTP', async () => {
    const values = [{ id: 'e1', email: 'lee@example.com' }, 'plain text ✓', 42];
    const plainBody = payloadsToJson(values.map((value) => defaultPayloadConverter.toPayload(value)));

    const encoded = await call({ path: '/encode', body: plainBody, headers: bearer });
    expect(encoded.status).toBe(200);
    expect(encoded.text).not.toContain(Buffer.from('lee@example.com').toString('base64'));
    for (const payload of encoded.json.payloads as JsonPayload[]) {
      expect(Buffer.from(payload.metadata.encoding!, 'base64').toString()).toBe('binary/encrypted');
    }

    const decoded = await call({ path: '/decode', body: encoded.json, headers: bearer });
    expect(decoded.status).toBe(200);
    expect(valuesOf(decoded.json)).toEqual(values);
  });

  it('passes unencrypted payloads through /decode unchanged', async () => {
    const plainBody = payloadsToJson([defaultPayloadConverter.toPayload({ plain: true })]);
    const response = await call({ body: plainBody, headers: bearer });
    expect(response.json).toEqual(plainBody);
  });

  it('answers a payload under an unknown key with 422 naming the key ID', async () => {
    const otherKey = randomBytes(32).toString('base64');
    const otherCodec = codecWithKey(otherKey);
    const response = await call({ body: await encryptedBody({ secret: 1 }, otherCodec), headers: bearer });
    expect(response.status).toBe(422);
    expect(response.json.error).toContain(otherCodec.encryptionKeyId);
    expect(response.text).not.toContain(otherKey);
  });

  it('answers a malformed body with 400 and an unknown route with 404, never echoing the token', async () => {
    const notJson = await request(`${server.url}/decode`, { method: 'POST', headers: bearer, body: '{nope' });
    expect(notJson.statusCode).toBe(400);
    expect(await notJson.body.json()).toEqual({ error: 'body is not JSON' });

    const wrongShape = await call({ body: { payloads: [{ data: 'not base64!' }] }, headers: bearer });
    expect(wrongShape.status).toBe(400);

    const unknownRoute = await call({ path: '/metrics', headers: bearer, body: {} });
    expect(unknownRoute.status).toBe(404);

    const wrongMethod = await call({ method: 'GET', headers: bearer });
    expect(wrongMethod.status).toBe(405);

    for (const response of [wrongShape, unknownRoute, wrongMethod]) {
      expect(response.text).not.toContain(TOKEN);
    }
  });

  it('refuses a body over the size limit with 413', async () => {
    const small = await startCodecServer({ codec, token: TOKEN, port: 0, maxBodyBytes: 1024 });
    try {
      const body = JSON.stringify(await encryptedBody(randomBytes(2048).toString('base64')));
      const declared = await request(`${small.url}/decode`, { method: 'POST', headers: bearer, body });
      expect(declared.statusCode).toBe(413);
      expect(await declared.body.json()).toEqual({ error: 'request body larger than 1024 bytes' });

      // Without a Content-Length (chunked), the limit applies while reading.
      const chunked = Readable.from([body.slice(0, 1000), body.slice(1000)]);
      const streamed = await request(`${small.url}/decode`, { method: 'POST', headers: bearer, body: chunked });
      expect(streamed.statusCode).toBe(413);
      await streamed.body.dump();
    } finally {
      await small.close();
    }
  });
});

describe('loadCodecServerOptions', () => {
  const validEnv = { AUDIT_PAYLOAD_KEY: KEY, AUDIT_CODEC_TOKEN: TOKEN };

  it('applies the defaults', () => {
    const options = loadCodecServerOptions(validEnv);
    expect(options).toMatchObject({ token: TOKEN, port: 8888, host: '127.0.0.1', uiOrigin: UI_ORIGIN });
    expect(options.codec.encryptionKeyId).toBe(codec.encryptionKeyId);
  });

  it('reads port, host and UI origin', () => {
    const options = loadCodecServerOptions({
      ...validEnv,
      AUDIT_CODEC_PORT: '9999',
      AUDIT_CODEC_HOST: '0.0.0.0',
      AUDIT_CODEC_UI_ORIGIN: 'https://temporal.example.com/',
    });
    expect(options).toMatchObject({ port: 9999, host: '0.0.0.0', uiOrigin: 'https://temporal.example.com' });
  });

  it.each([
    ['AUDIT_CODEC_TOKEN', { AUDIT_CODEC_TOKEN: undefined }, /is required/],
    ['AUDIT_CODEC_TOKEN', { AUDIT_CODEC_TOKEN: 'short-secret-value' }, /at least 32 characters/],
    ['AUDIT_CODEC_TOKEN', { AUDIT_CODEC_TOKEN: `${'a'.repeat(40)}/secret?` }, /may only contain/],
    ['AUDIT_CODEC_PORT', { AUDIT_CODEC_PORT: 'eighty-eighty' }, /TCP port/],
    ['AUDIT_CODEC_PORT', { AUDIT_CODEC_PORT: '70000' }, /between 1 and 65535/],
    ['AUDIT_CODEC_UI_ORIGIN', { AUDIT_CODEC_UI_ORIGIN: 'localhost:8233-secretish' }, /http\(s\) origin/],
    ['AUDIT_CODEC_UI_ORIGIN', { AUDIT_CODEC_UI_ORIGIN: 'http://localhost:8233/namespaces' }, /without a path/],
    ['AUDIT_PAYLOAD_KEY', { AUDIT_PAYLOAD_KEY: undefined }, /is required/],
    ['AUDIT_PAYLOAD_KEY', { AUDIT_PAYLOAD_KEY: 'bm90LWEta2V5LXNlY3JldA==' }, /exactly 32 bytes/],
  ])('names %s when it is missing or malformed, without its value', (variable, override, problem) => {
    const env: NodeJS.ProcessEnv = { ...validEnv, ...override };
    let failure: unknown;
    try {
      loadCodecServerOptions(env);
    } catch (error) {
      failure = error;
    }
    expect(failure).toBeInstanceOf(CodecConfigError);
    expect((failure as CodecConfigError).variable).toBe(variable);
    expect((failure as Error).message).toMatch(new RegExp(`^${variable}: `));
    expect((failure as Error).message).toMatch(problem);
    const value = override[variable as keyof typeof override];
    if (value) expect((failure as Error).message).not.toContain(value);
  });
});
