import { createHash, randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import type { Payload } from '@temporalio/common';
import { defaultPayloadConverter } from '@temporalio/common';
import { CodecConfigError, PayloadDecryptionError, UnknownPayloadKeyError } from '../../codec/codec-errors';
import { failureConverterPath, loadDataConverter } from '../../codec/data-converter';
import { ENCRYPTED_PAYLOAD_METADATA, EncryptionCodec } from '../../codec/encryption-codec';
import { failureConverter } from '../../codec/failure-converter';
import { PayloadKey } from '../../codec/payload-key';
import { loadPayloadKeyRing } from '../../codec/payload-keys';

function newKeyBase64(): string {
  return randomBytes(32).toString('base64');
}

function keyIdOf(keyBase64: string): string {
  return createHash('sha256').update(Buffer.from(keyBase64, 'base64')).digest('hex').slice(0, 16);
}

function codecFromEnv(env: NodeJS.ProcessEnv, options: { compress?: boolean } = {}): EncryptionCodec {
  const keys = loadPayloadKeyRing(env);
  if (keys === undefined) throw new Error('test setup: no key in env');
  return new EncryptionCodec({ keys, ...options });
}

function metadataText(payload: Payload, key: string): string | undefined {
  const value = payload.metadata?.[key];
  return value ? Buffer.from(value).toString('utf8') : undefined;
}

async function roundTrip(codec: EncryptionCodec, value: unknown): Promise<{ encoded: Payload; decoded: unknown }> {
  const [encoded] = await codec.encode([defaultPayloadConverter.toPayload(value)]);
  if (encoded === undefined) throw new Error('nothing encoded');
  const [decoded] = await codec.decode([encoded]);
  if (decoded === undefined) throw new Error('nothing decoded');
  return { encoded, decoded: defaultPayloadConverter.fromPayload(decoded) };
}

const auditPage = {
  data: Array.from({ length: 20 }, (_, index) => ({
    id: `6f1c2a9e-3b47-4e0c-9d51-${String(index).padStart(12, '0')}`,
    attributes: {
      time: '2025-11-20T14:02:11.482Z',
      action: 'user_added_to_group',
      actor: { id: '5b10ac8d82e05b22cc7d4ef5', name: 'Dana Admin', email: 'dana@example.com' },
      location: { ip: '203.0.113.24', city: 'Dublin' },
    },
  })),
};

describe('EncryptionCodec', () => {
  const key = newKeyBase64();
  const codec = codecFromEnv({ AUDIT_PAYLOAD_KEY: key });

  it('round-trips a large JSON payload compressed, marking the compression and the key ID', async () => {
    const { encoded, decoded } = await roundTrip(codec, auditPage);
    expect(decoded).toEqual(auditPage);
    expect(metadataText(encoded, 'encoding')).toBe('binary/encrypted');
    expect(metadataText(encoded, ENCRYPTED_PAYLOAD_METADATA.keyIdKey)).toBe(keyIdOf(key));
    expect(metadataText(encoded, ENCRYPTED_PAYLOAD_METADATA.compressionKey)).toBe('deflate-raw');
    expect(Buffer.from(encoded.data!).includes('dana@example.com')).toBe(false);
    expect(encoded.data!.length).toBeLessThan(JSON.stringify(auditPage).length / 2);
  });

  it('round-trips without compression when it is switched off', async () => {
    const uncompressing = codecFromEnv({ AUDIT_PAYLOAD_KEY: key }, { compress: false });
    const { encoded, decoded } = await roundTrip(uncompressing, auditPage);
    expect(decoded).toEqual(auditPage);
    expect(metadataText(encoded, ENCRYPTED_PAYLOAD_METADATA.compressionKey)).toBeUndefined();
    expect(Buffer.from(encoded.data!).includes('dana@example.com')).toBe(false);
    // Both codecs hold the same key: either reads what the other wrote.
    const [decodedByOther] = await codec.decode([encoded]);
    expect(defaultPayloadConverter.fromPayload(decodedByOther!)).toEqual(auditPage);
  });

  it('does not compress small payloads', async () => {
    const { encoded, decoded } = await roundTrip(codec, { cursor: 'abc' });
    expect(decoded).toEqual({ cursor: 'abc' });
    expect(metadataText(encoded, ENCRYPTED_PAYLOAD_METADATA.compressionKey)).toBeUndefined();
  });

  it('round-trips binary payloads, keeping them uncompressed when deflate would not pay', async () => {
    const bytes = new Uint8Array(randomBytes(4096));
    const { encoded, decoded } = await roundTrip(codec, bytes);
    expect(Buffer.from(decoded as Uint8Array).equals(Buffer.from(bytes))).toBe(true);
    expect(metadataText(encoded, ENCRYPTED_PAYLOAD_METADATA.compressionKey)).toBeUndefined();
  });

  it('round-trips unicode text', async () => {
    const text = { name: 'Zoë Ångström 張偉 Дмитрий 🙂', note: 'ß'.repeat(500), emoji: '👩‍💻🔐' };
    const { decoded } = await roundTrip(codec, text);
    expect(decoded).toEqual(text);
  });

  it('round-trips undefined (binary/null) and empty payload batches', async () => {
    const { decoded } = await roundTrip(codec, undefined);
    expect(decoded).toBeUndefined();
    await expect(codec.encode([])).resolves.toEqual([]);
  });

  it('uses a fresh IV for every payload: the same input twice gives different ciphertexts', async () => {
    const payload = defaultPayloadConverter.toPayload({ same: 'input' });
    const [first, second] = await codec.encode([payload, payload]);
    const iv = (encoded: Payload | undefined): Buffer => Buffer.from(encoded!.data!).subarray(0, 12);
    expect(iv(first).equals(iv(second))).toBe(false);
    expect(Buffer.from(first!.data!).equals(Buffer.from(second!.data!))).toBe(false);
  });

  it('passes through payloads that are not encrypted', async () => {
    const plain = defaultPayloadConverter.toPayload({ legacy: true });
    const [decoded] = await codec.decode([plain]);
    expect(decoded).toBe(plain);
  });

  it('refuses a payload encrypted with a key it does not hold, naming the key ID, and decodes nothing', async () => {
    const otherKey = newKeyBase64();
    const [foreign] = await codecFromEnv({ AUDIT_PAYLOAD_KEY: otherKey }).encode([
      defaultPayloadConverter.toPayload({ secret: 'lee@example.com' }),
    ]);
    const [own] = await codec.encode([defaultPayloadConverter.toPayload({ mine: true })]);

    const failure = await codec.decode([own!, foreign!]).then(
      () => undefined,
      (error: unknown) => error
    );
    expect(failure).toBeInstanceOf(UnknownPayloadKeyError);
    const error = failure as UnknownPayloadKeyError;
    expect(error.keyId).toBe(keyIdOf(otherKey));
    expect(error.message).toContain(keyIdOf(otherKey));
    expect(error.message).toContain('AUDIT_PAYLOAD_OLD_KEYS');
    expect(error.message).not.toContain(otherKey);
    expect(error.message).not.toContain('lee@example.com');
  });

  it('refuses tampered ciphertext with a clear error', async () => {
    const [encoded] = await codec.encode([defaultPayloadConverter.toPayload({ amount: 1 })]);
    const tampered = Buffer.from(encoded!.data!);
    tampered[20] = (tampered[20] ?? 0) ^ 0x01;
    await expect(codec.decode([{ ...encoded, data: tampered }])).rejects.toThrow(PayloadDecryptionError);
    await expect(codec.decode([{ ...encoded, data: tampered }])).rejects.toThrow(/altered or corrupted/);
  });

  it('refuses tampered metadata: the compression marker is authenticated with the ciphertext', async () => {
    const [encoded] = await codec.encode([defaultPayloadConverter.toPayload(auditPage)]);
    const metadata = { ...encoded!.metadata };
    delete metadata[ENCRYPTED_PAYLOAD_METADATA.compressionKey];
    await expect(codec.decode([{ ...encoded, metadata }])).rejects.toThrow(PayloadDecryptionError);
  });

  it('refuses an encrypted payload without a key ID', async () => {
    const [encoded] = await codec.encode([defaultPayloadConverter.toPayload(1)]);
    const metadata = { ...encoded!.metadata };
    delete metadata[ENCRYPTED_PAYLOAD_METADATA.keyIdKey];
    await expect(codec.decode([{ ...encoded, metadata }])).rejects.toThrow(/no encryption-key-id/);
  });
});

describe('key rotation', () => {
  it('writes new payloads with the new key ID and still reads old ones through AUDIT_PAYLOAD_OLD_KEYS', async () => {
    const oldKey = newKeyBase64();
    const newKey = newKeyBase64();
    const [writtenBeforeRotation] = await codecFromEnv({ AUDIT_PAYLOAD_KEY: oldKey }).encode([
      defaultPayloadConverter.toPayload({ before: 'rotation' }),
    ]);

    const rotated = codecFromEnv({ AUDIT_PAYLOAD_KEY: newKey, AUDIT_PAYLOAD_OLD_KEYS: ` ${oldKey} ,` });
    const [writtenAfterRotation] = await rotated.encode([defaultPayloadConverter.toPayload({ after: 'rotation' })]);
    expect(rotated.encryptionKeyId).toBe(keyIdOf(newKey));
    expect(metadataText(writtenBeforeRotation!, ENCRYPTED_PAYLOAD_METADATA.keyIdKey)).toBe(keyIdOf(oldKey));
    expect(metadataText(writtenAfterRotation!, ENCRYPTED_PAYLOAD_METADATA.keyIdKey)).toBe(keyIdOf(newKey));

    const decoded = await rotated.decode([writtenBeforeRotation!, writtenAfterRotation!]);
    expect(decoded.map((payload) => defaultPayloadConverter.fromPayload(payload))).toEqual([
      { before: 'rotation' },
      { after: 'rotation' },
    ]);

    // Dropping the old key makes old history unreadable, with the key ID to look for.
    const withoutOldKey = codecFromEnv({ AUDIT_PAYLOAD_KEY: newKey });
    await expect(withoutOldKey.decode([writtenBeforeRotation!])).rejects.toThrow(keyIdOf(oldKey));
  });
});

describe('loadPayloadKeyRing', () => {
  it('returns undefined when AUDIT_PAYLOAD_KEY is unset or blank', () => {
    expect(loadPayloadKeyRing({})).toBeUndefined();
    expect(loadPayloadKeyRing({ AUDIT_PAYLOAD_KEY: '  ' })).toBeUndefined();
  });

  it('derives the key ID from the first 16 hex characters of the SHA-256 of the key bytes', () => {
    const key = newKeyBase64();
    const keys = loadPayloadKeyRing({ AUDIT_PAYLOAD_KEY: key });
    expect(keys?.encryptionKey.id).toBe(keyIdOf(key));
    expect(keys?.encryptionKey.id).toMatch(/^[0-9a-f]{16}$/);
    expect(keys?.decryptionOnlyKeys).toEqual([]);
  });

  it.each([
    ['not base64', 'this is not base64!'],
    ['16 bytes', randomBytes(16).toString('base64')],
    ['33 bytes', randomBytes(33).toString('base64')],
  ])('rejects a malformed AUDIT_PAYLOAD_KEY (%s), naming the variable and not the value', (_, value) => {
    const failure = captureError(() => loadPayloadKeyRing({ AUDIT_PAYLOAD_KEY: value }));
    expect(failure).toBeInstanceOf(CodecConfigError);
    expect((failure as CodecConfigError).variable).toBe('AUDIT_PAYLOAD_KEY');
    expect((failure as Error).message).toMatch(/^AUDIT_PAYLOAD_KEY: must be the base64 of exactly 32 bytes/);
    expect((failure as Error).message).not.toContain(value);
  });

  it('rejects a malformed entry of AUDIT_PAYLOAD_OLD_KEYS, naming the variable and entry, not the value', () => {
    const badEntry = randomBytes(20).toString('base64');
    const failure = captureError(() =>
      loadPayloadKeyRing({
        AUDIT_PAYLOAD_KEY: newKeyBase64(),
        AUDIT_PAYLOAD_OLD_KEYS: `${newKeyBase64()},${badEntry}`,
      })
    );
    expect(failure).toBeInstanceOf(CodecConfigError);
    expect((failure as CodecConfigError).variable).toBe('AUDIT_PAYLOAD_OLD_KEYS');
    expect((failure as Error).message).toContain('entry 2 of 2');
    expect((failure as Error).message).not.toContain(badEntry);
  });

  it('refuses old keys without a current key, which would write new payloads in clear', () => {
    expect(() => loadPayloadKeyRing({ AUDIT_PAYLOAD_OLD_KEYS: newKeyBase64() })).toThrow(
      /^AUDIT_PAYLOAD_KEY: must be set when AUDIT_PAYLOAD_OLD_KEYS is set/
    );
  });

  it('drops duplicates and the current key from the decryption-only keys', () => {
    const current = newKeyBase64();
    const old = newKeyBase64();
    const keys = loadPayloadKeyRing({ AUDIT_PAYLOAD_KEY: current, AUDIT_PAYLOAD_OLD_KEYS: `${old},${current},${old}` });
    expect(keys?.decryptionOnlyKeys.map((key) => key.id)).toEqual([keyIdOf(old)]);
  });
});

describe('PayloadKey', () => {
  it('never shows its key material when printed or serialized', () => {
    const material = randomBytes(32);
    const key = PayloadKey.fromBytes(material);
    for (const shown of [inspect(key), JSON.stringify(key), String(key)]) {
      expect(shown).not.toContain(material.toString('base64'));
      expect(shown).not.toContain(material.toString('hex'));
    }
    expect(inspect(key)).toContain(key.id);
  });
});

describe('loadDataConverter', () => {
  it('returns undefined without a key, so the SDK defaults apply', () => {
    expect(loadDataConverter({})).toBeUndefined();
  });

  it('returns the encryption codec and the path of the encoding failure converter', () => {
    const dataConverter = loadDataConverter({ AUDIT_PAYLOAD_KEY: newKeyBase64() });
    expect(dataConverter?.payloadCodecs).toHaveLength(1);
    expect(dataConverter?.payloadCodecs?.[0]).toBeInstanceOf(EncryptionCodec);
    expect(dataConverter?.failureConverterPath).toBe(failureConverterPath);
    expect(require(failureConverterPath).failureConverter).toBe(failureConverter);
  });

  it('sends failure messages encoded, so the codec encrypts them', async () => {
    const codec = codecFromEnv({ AUDIT_PAYLOAD_KEY: newKeyBase64() });
    const failure = failureConverter.errorToFailure(
      new Error('could not add lee@example.com to sre-oncall'),
      defaultPayloadConverter
    );
    expect(failure.message).toBe('Encoded failure');
    expect(failure.stackTrace).toBe('');
    const [encryptedAttributes] = await codec.encode([failure.encodedAttributes!]);
    expect(Buffer.from(encryptedAttributes!.data!).includes('lee@example.com')).toBe(false);
    const [decryptedAttributes] = await codec.decode([encryptedAttributes!]);
    expect(defaultPayloadConverter.fromPayload(decryptedAttributes!)).toMatchObject({
      message: 'could not add lee@example.com to sre-oncall',
    });
  });

  it('reports a malformed key by variable name', () => {
    expect(() => loadDataConverter({ AUDIT_PAYLOAD_KEY: 'short' })).toThrow(CodecConfigError);
  });
});

function captureError(action: () => unknown): unknown {
  try {
    action();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}
