/**
 * `atlassian-audit codec-server`: serves from the environment, prints how to reach it without printing a secret,
 * and stops when told. The HTTP behaviour itself (token, origin, CORS) is covered in codec-server.test.ts.
 */
import { randomBytes } from 'node:crypto';
import { defaultPayloadConverter } from '@temporalio/common';
import { request } from 'undici';
import { serveCodec } from '../../client/codec-server-command';
import { CodecConfigError } from '../../codec/codec-errors';
import { payloadsFromJson, payloadsToJson } from '../../codec/codec-wire-format';
import { EncryptionCodec } from '../../codec/encryption-codec';
import { loadPayloadKeyRing } from '../../codec/payload-keys';
import { freePort } from '../support/ports';

const KEY = randomBytes(32).toString('base64');
const TOKEN = randomBytes(32).toString('hex');


test('serves the payload keys from the environment, prints no secret, and stops when aborted', async () => {
  const port = await freePort();
  const lines: string[] = [];
  let listening: () => void = () => {};
  const printedBoth = new Promise<void>((resolve) => (listening = resolve));
  const stop = new AbortController();
  const serving = serveCodec({
    env: { AUDIT_PAYLOAD_KEY: KEY, AUDIT_CODEC_TOKEN: TOKEN, AUDIT_CODEC_PORT: String(port) },
    print: (line) => {
      lines.push(line);
      if (lines.length === 2) listening();
    },
    stop: stop.signal,
  });
  await printedBoth;

  const codec = new EncryptionCodec({ keys: loadPayloadKeyRing({ AUDIT_PAYLOAD_KEY: KEY })! });
  const body = payloadsToJson(await codec.encode([defaultPayloadConverter.toPayload({ email: 'ada@example.com' })]));
  const response = await request(`http://127.0.0.1:${port}/decode`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify(body),
  });
  expect(response.statusCode).toBe(200);
  const decoded = payloadsFromJson((await response.body.json()) as Parameters<typeof payloadsFromJson>[0]);
  expect(decoded.map((payload) => defaultPayloadConverter.fromPayload(payload))).toEqual([{ email: 'ada@example.com' }]);

  expect(lines[0]).toBe(
    `codec server listening on http://127.0.0.1:${port} for the Temporal UI at http://localhost:8233; ` +
      `new payloads use key ID ${codec.encryptionKeyId}`
  );
  for (const line of lines) {
    expect(line).not.toContain(TOKEN);
    expect(line).not.toContain(KEY);
  }

  stop.abort();
  await serving;
  await expect(request(`http://127.0.0.1:${port}/decode`, { method: 'POST' })).rejects.toMatchObject({ code: 'ECONNREFUSED' });
});

test('refuses to start without a token, naming the variable', async () => {
  const printed: string[] = [];
  await expect(serveCodec({ env: { AUDIT_PAYLOAD_KEY: KEY }, print: (line) => printed.push(line) })).rejects.toThrow(
    new CodecConfigError('AUDIT_CODEC_TOKEN', 'is required (make one with `openssl rand -hex 32`)')
  );
  expect(printed).toEqual([]);
});
