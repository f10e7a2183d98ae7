import { z } from 'zod';
import { CodecConfigError } from './codec-errors';
import { PAYLOAD_KEY_BYTES, PayloadKey } from './payload-key';

/** Environment variables that hold payload keys (operator contract: keep the names stable). */
export const PAYLOAD_KEY_VARIABLES = {
  /** Base64 of 32 bytes. When set, every payload is encrypted with it. */
  encryptionKey: 'AUDIT_PAYLOAD_KEY',
  /** Comma-separated base64 keys kept for decryption only, so a rotation leaves older history readable. */
  decryptionOnlyKeys: 'AUDIT_PAYLOAD_OLD_KEYS',
} as const;

/** The keys a process holds: one to encrypt with, any number more to decrypt history written before a rotation. */
export interface PayloadKeyRing {
  /** Encrypts every new payload (and decrypts those it wrote). */
  readonly encryptionKey: PayloadKey;
  /** Earlier keys, used only to decrypt. */
  readonly decryptionOnlyKeys: readonly PayloadKey[];
}

const KEY_FORMAT_HINT =
  `must be the base64 of exactly ${PAYLOAD_KEY_BYTES} bytes (make one with \`openssl rand -base64 32\`)`;

const base64KeySchema = z
  .base64({ error: KEY_FORMAT_HINT })
  .transform((text) => Buffer.from(text, 'base64'))
  .refine((bytes) => bytes.length === PAYLOAD_KEY_BYTES, { error: KEY_FORMAT_HINT })
  .transform((bytes) => PayloadKey.fromBytes(bytes));

/** An unset variable and one set to blanks (as `KEY=` in a compose file leaves it) both mean "not configured". */
const optionalSettingSchema = z
  .string()
  .optional()
  .transform((value) => (value?.trim() ? value.trim() : undefined));

/**
 * Reads the payload keys from the environment.
 *
 * @returns `undefined` when `AUDIT_PAYLOAD_KEY` is unset: payloads then travel unencrypted.
 * @throws CodecConfigError naming the variable (never echoing its value) when a key is malformed, or when old keys
 * are configured without a current one (that would silently write new payloads in clear).
 */
export function loadPayloadKeyRing(env: NodeJS.ProcessEnv = process.env): PayloadKeyRing | undefined {
  const encryptionKeyText = optionalSettingSchema.parse(env[PAYLOAD_KEY_VARIABLES.encryptionKey]);
  const oldKeysText = optionalSettingSchema.parse(env[PAYLOAD_KEY_VARIABLES.decryptionOnlyKeys]);

  if (encryptionKeyText === undefined) {
    if (oldKeysText !== undefined) {
      throw new CodecConfigError(
        PAYLOAD_KEY_VARIABLES.encryptionKey,
        `must be set when ${PAYLOAD_KEY_VARIABLES.decryptionOnlyKeys} is set; ` +
          'without it new payloads would be written unencrypted'
      );
    }
    return undefined;
  }

  const encryptionKey = parseKey(PAYLOAD_KEY_VARIABLES.encryptionKey, encryptionKeyText);
  const oldKeyTexts = (oldKeysText ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  const oldKeys = oldKeyTexts.map((entry, index) =>
    parseKey(PAYLOAD_KEY_VARIABLES.decryptionOnlyKeys, entry, `entry ${index + 1} of ${oldKeyTexts.length} `)
  );

  // A key listed twice, or the current key left in the old list during a rotation, is harmless: keep one of each.
  const decryptionOnlyKeys = [...new Map(oldKeys.map((key) => [key.id, key])).values()].filter(
    (key) => key.id !== encryptionKey.id
  );
  return { encryptionKey, decryptionOnlyKeys };
}

function parseKey(variable: string, text: string, entryLabel = ''): PayloadKey {
  const result = base64KeySchema.safeParse(text);
  if (!result.success) {
    // Only our own issue messages are used: they never contain the input.
    throw new CodecConfigError(variable, `${entryLabel}${result.error.issues[0]?.message ?? KEY_FORMAT_HINT}`);
  }
  return result.data;
}
