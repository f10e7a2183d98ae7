import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { inspect } from 'node:util';

/** AES-256 takes a key of exactly this many bytes. */
export const PAYLOAD_KEY_BYTES = 32;

const CIPHER = 'aes-256-gcm';
/** 96-bit IV: the size GCM is designed for; a fresh random one per payload. */
const IV_BYTES = 12;
const AUTH_TAG_BYTES = 16;
const KEY_ID_HEX_CHARS = 16;

/**
 * One AES-256-GCM payload key and its public ID.
 *
 * The key material stays in a private field and is only ever used here, so a `PayloadKey` that ends up in a log line,
 * `JSON.stringify` or a debugger print shows its ID and nothing else.
 */
export class PayloadKey {
  /**
   * Public name of the key, written into each payload it encrypts: the first 16 hex characters of the SHA-256 of
   * the key bytes. It lets a reader pick the right key after a rotation and says nothing usable about the key.
   */
  readonly id: string;
  readonly #material: Buffer;

  private constructor(material: Buffer) {
    this.#material = material;
    this.id = createHash('sha256').update(material).digest('hex').slice(0, KEY_ID_HEX_CHARS);
  }

  /** @throws RangeError when `material` is not exactly {@link PAYLOAD_KEY_BYTES} bytes. */
  static fromBytes(material: Uint8Array): PayloadKey {
    if (material.length !== PAYLOAD_KEY_BYTES) {
      throw new RangeError(`a payload key must be ${PAYLOAD_KEY_BYTES} bytes, got ${material.length}`);
    }
    return new PayloadKey(Buffer.from(material));
  }

  /**
   * Encrypts `plaintext` under a fresh random IV. `additionalData` is authenticated but not encrypted: the codec
   * binds the payload metadata to the ciphertext with it.
   * @returns `IV ‖ ciphertext ‖ auth tag`
   */
  seal(plaintext: Uint8Array, additionalData: Uint8Array): Buffer {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv(CIPHER, this.#material, iv, { authTagLength: AUTH_TAG_BYTES });
    cipher.setAAD(additionalData);
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return Buffer.concat([iv, ciphertext, cipher.getAuthTag()]);
  }

  /**
   * Reverses {@link seal}.
   * @throws Error when the sealed bytes are too short, or when authentication fails (altered ciphertext, altered
   * additional data, or another key).
   */
  open(sealed: Uint8Array, additionalData: Uint8Array): Buffer {
    if (sealed.length < IV_BYTES + AUTH_TAG_BYTES) {
      throw new Error('sealed payload is shorter than IV and auth tag');
    }
    const iv = sealed.subarray(0, IV_BYTES);
    const ciphertext = sealed.subarray(IV_BYTES, sealed.length - AUTH_TAG_BYTES);
    const authTag = sealed.subarray(sealed.length - AUTH_TAG_BYTES);
    const decipher = createDecipheriv(CIPHER, this.#material, iv, { authTagLength: AUTH_TAG_BYTES });
    decipher.setAAD(additionalData);
    decipher.setAuthTag(authTag);
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  }

  toJSON(): { id: string } {
    return { id: this.id };
  }

  [inspect.custom](): string {
    return `PayloadKey { id: '${this.id}' }`;
  }
}
