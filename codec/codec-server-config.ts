import { z } from 'zod';
import { CodecConfigError } from './codec-errors';
import type { CodecServerOptions } from './codec-server';
import { EncryptionCodec } from './encryption-codec';
import { loadPayloadKeyRing, PAYLOAD_KEY_VARIABLES } from './payload-keys';

/** Environment variables of the codec server process (besides the payload keys). */
export const CODEC_SERVER_VARIABLES = {
  /** Required shared secret; callers send it as a bearer token or as the first path segment. */
  token: 'AUDIT_CODEC_TOKEN',
  /** @default 8888 */
  port: 'AUDIT_CODEC_PORT',
  /** @default 127.0.0.1 (set 0.0.0.0 only inside a container whose port is published to loopback) */
  host: 'AUDIT_CODEC_HOST',
  /** @default http://localhost:8233 */
  uiOrigin: 'AUDIT_CODEC_UI_ORIGIN',
} as const;

const MIN_TOKEN_LENGTH = 32;

const tokenSchema = z
  .string({ error: 'is required (make one with `openssl rand -hex 32`)' })
  .min(MIN_TOKEN_LENGTH, {
    error: `must be at least ${MIN_TOKEN_LENGTH} characters (make one with \`openssl rand -hex 32\`)`,
  })
  // It may travel as a URL path segment (see CodecServerOptions.token), so only unreserved URL characters.
  .regex(/^[A-Za-z0-9._~-]+$/, { error: 'may only contain letters, digits and . _ ~ -' });

const portSchema = z.coerce
  .number({ error: 'must be a TCP port number' })
  .int({ error: 'must be a TCP port number' })
  .min(1, { error: 'must be between 1 and 65535' })
  .max(65535, { error: 'must be between 1 and 65535' });

const hostSchema = z.string().min(1, { error: 'must not be empty' });

const uiOriginSchema = z
  .url({ protocol: /^https?$/, error: 'must be an http(s) origin such as http://localhost:8233' })
  .refine((text) => new URL(text).pathname === '/' && !text.includes('?') && !text.includes('#'), {
    error: 'must be an origin only (scheme, host, port), without a path',
  })
  // Browsers send `Origin` without a trailing slash and with default ports left out; compare like with like.
  .transform((text) => new URL(text).origin);

/**
 * Reads the codec server's settings and keys from the environment.
 * @throws CodecConfigError naming the first variable that is missing or malformed (never echoing its value).
 */
export function loadCodecServerOptions(
  env: NodeJS.ProcessEnv = process.env
): CodecServerOptions & { readonly codec: EncryptionCodec } {
  const keys = loadPayloadKeyRing(env);
  if (keys === undefined) {
    throw new CodecConfigError(PAYLOAD_KEY_VARIABLES.encryptionKey, 'is required: the codec server decodes with it');
  }
  return {
    codec: new EncryptionCodec({ keys }),
    token: parseVariable(env, CODEC_SERVER_VARIABLES.token, tokenSchema),
    port: parseVariable(env, CODEC_SERVER_VARIABLES.port, portSchema.default(8888)),
    host: parseVariable(env, CODEC_SERVER_VARIABLES.host, hostSchema.default('127.0.0.1')),
    uiOrigin: parseVariable(env, CODEC_SERVER_VARIABLES.uiOrigin, uiOriginSchema.default('http://localhost:8233')),
  };
}

function parseVariable<T>(env: NodeJS.ProcessEnv, variable: string, schema: z.ZodType<T>): T {
  const value = env[variable]?.trim();
  // Only our own issue messages reach the error: they never contain the value.
  const result = schema.safeParse(value === '' ? undefined : value);
  if (!result.success) {
    throw new CodecConfigError(variable, result.error.issues[0]?.message ?? 'is malformed');
  }
  return result.data;
}
