import { promisify } from 'node:util';
import { deflateRaw, inflateRaw } from 'node:zlib';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { METADATA_ENCODING_KEY } from '@temporalio/common';
// The SDK's own Payload message type: encrypting the whole serialized payload keeps every field (metadata, data,
// external storage details) and is the format of Temporal's encryption samples. @temporalio/common pins this
// package to its own exact version.
import { temporal } from '@temporalio/proto';
import { PayloadDecryptionError, UnknownPayloadKeyError } from './codec-errors';
import type { PayloadKey } from './payload-key';
import type { PayloadKeyRing } from './payload-keys';

const deflateRawAsync = promisify(deflateRaw);
const inflateRawAsync = promisify(inflateRaw);
const PayloadMessage = temporal.api.common.v1.Payload;

/** Metadata written on each encrypted payload. */
export const ENCRYPTED_PAYLOAD_METADATA = {
  /** Value of the `encoding` metadata of an encrypted payload. */
  encoding: 'binary/encrypted',
  /** Metadata key holding the ID of the key that encrypted the payload. */
  keyIdKey: 'encryption-key-id',
  /** Metadata key present only when the payload was compressed before encryption; its value names the method. */
  compressionKey: 'encryption-compression',
  /** The one compression method this codec writes. */
  deflateRaw: 'deflate-raw',
} as const;

export interface EncryptionCodecOptions {
  /** Keys: the encryption key encrypts new payloads; it and the decryption-only keys decrypt. */
  keys: PayloadKeyRing;
  /**
   * Compress with deflate-raw before encrypting (ciphertext does not compress, so this is the only chance). A
   * payload is compressed only when it is larger than {@link compressionThresholdBytes} and the result is smaller.
   * @default true
   */
  compress?: boolean;
  /**
   * Serialized payloads of at most this many bytes are never compressed: for them deflate costs more than it saves.
   * @default 256
   */
  compressionThresholdBytes?: number;
}

/**
 * A {@link PayloadCodec} that encrypts each payload with AES-256-GCM: a fresh 12-byte IV per payload, the key ID and
 * the compression marker in metadata, and both bound to the ciphertext as authenticated data so they cannot be
 * swapped. Decoding passes through payloads that are not encrypted and rejects the whole batch when one payload
 * names an unknown key or fails authentication.
 *
 * Encoded payload: `metadata = { encoding: binary/encrypted, encryption-key-id, [encryption-compression] }`,
 * `data = IV ‖ AES-256-GCM(serialized Payload, optionally deflate-raw'd) ‖ tag`.
 */
export class EncryptionCodec implements PayloadCodec {
  readonly #encryptionKey: PayloadKey;
  readonly #keysById: ReadonlyMap<string, PayloadKey>;
  readonly #compress: boolean;
  readonly #compressionThresholdBytes: number;

  constructor(options: EncryptionCodecOptions) {
    const { encryptionKey, decryptionOnlyKeys } = options.keys;
    this.#encryptionKey = encryptionKey;
    this.#keysById = new Map([...decryptionOnlyKeys, encryptionKey].map((key) => [key.id, key]));
    this.#compress = options.compress ?? true;
    this.#compressionThresholdBytes = options.compressionThresholdBytes ?? 256;
  }

  /** ID of the key new payloads are encrypted with. */
  get encryptionKeyId(): string {
    return this.#encryptionKey.id;
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return Promise.all(payloads.map((payload) => this.#encodeOne(payload)));
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return Promise.all(payloads.map((payload) => this.#decodeOne(payload)));
  }

  async #encodeOne(payload: Payload): Promise<Payload> {
    const serialized = PayloadMessage.encode(payload).finish();
    const compressed = await this.#compressIfItPays(serialized);
    const compression = compressed === undefined ? undefined : ENCRYPTED_PAYLOAD_METADATA.deflateRaw;
    const key = this.#encryptionKey;
    const metadata: Record<string, Uint8Array> = {
      [METADATA_ENCODING_KEY]: utf8(ENCRYPTED_PAYLOAD_METADATA.encoding),
      [ENCRYPTED_PAYLOAD_METADATA.keyIdKey]: utf8(key.id),
    };
    if (compression !== undefined) {
      metadata[ENCRYPTED_PAYLOAD_METADATA.compressionKey] = utf8(compression);
    }
    return { metadata, data: key.seal(compressed ?? serialized, additionalData(key.id, compression)) };
  }

  async #compressIfItPays(serialized: Uint8Array): Promise<Buffer | undefined> {
    if (!this.#compress || serialized.length <= this.#compressionThresholdBytes) {
      return undefined;
    }
    const compressed = await deflateRawAsync(serialized);
    return compressed.length < serialized.length ? compressed : undefined;
  }

  async #decodeOne(payload: Payload): Promise<Payload> {
    const metadata = payload.metadata ?? {};
    if (text(metadata[METADATA_ENCODING_KEY]) !== ENCRYPTED_PAYLOAD_METADATA.encoding) {
      return payload;
    }
    const keyId = text(metadata[ENCRYPTED_PAYLOAD_METADATA.keyIdKey]);
    if (keyId === undefined) {
      throw new PayloadDecryptionError(undefined, `metadata has no ${ENCRYPTED_PAYLOAD_METADATA.keyIdKey}`);
    }
    const key = this.#keysById.get(keyId);
    if (key === undefined) {
      throw new UnknownPayloadKeyError(keyId);
    }
    const compression = text(metadata[ENCRYPTED_PAYLOAD_METADATA.compressionKey]);
    if (compression !== undefined && compression !== ENCRYPTED_PAYLOAD_METADATA.deflateRaw) {
      throw new PayloadDecryptionError(keyId, `unknown compression "${compression}"`);
    }

    let plaintext: Buffer;
    try {
      plaintext = key.open(payload.data ?? new Uint8Array(), additionalData(keyId, compression));
    } catch {
      // GCM says only "unable to authenticate"; the cause is not knowable, so name the possibilities.
      throw new PayloadDecryptionError(
        keyId,
        'authentication failed: the ciphertext or its metadata was altered or corrupted'
      );
    }
    const serialized = compression === undefined ? plaintext : await inflateRawAsync(plaintext);
    return PayloadMessage.decode(serialized);
  }
}

/**
 * Authenticated data of one payload: the encryption scheme, key ID and compression marker. Changing any of them in
 * stored metadata makes decryption fail instead of, say, skipping decompression.
 */
function additionalData(keyId: string, compression: string | undefined): Buffer {
  return utf8(`${ENCRYPTED_PAYLOAD_METADATA.encoding};key=${keyId};compression=${compression ?? 'none'}`);
}

function utf8(value: string): Buffer {
  return Buffer.from(value, 'utf8');
}

function text(bytes: Uint8Array | null | undefined): string | undefined {
  return bytes ? Buffer.from(bytes).toString('utf8') : undefined;
}
