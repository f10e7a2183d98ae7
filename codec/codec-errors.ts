/**
 * Errors of the payload codec. Their messages name environment variables and key IDs (a key ID is a truncated
 * SHA-256 of the key, safe to show) and never contain key material, tokens or payload contents, so they can travel
 * into logs, the Temporal UI and HTTP responses as they are.
 */

/** A codec environment variable is missing or malformed. The message names the variable, never its value. */
export class CodecConfigError extends Error {
  override readonly name = 'CodecConfigError';

  constructor(
    /** Name of the environment variable at fault, e.g. `AUDIT_PAYLOAD_KEY`. */
    readonly variable: string,
    problem: string
  ) {
    super(`${variable}: ${problem}`);
  }
}

/**
 * A payload was encrypted with a key this process does not hold. Nothing was decoded: the operator has to add the
 * key (usually to `AUDIT_PAYLOAD_OLD_KEYS` after a rotation).
 */
export class UnknownPayloadKeyError extends Error {
  override readonly name = 'UnknownPayloadKeyError';

  constructor(readonly keyId: string) {
    super(
      `payload was encrypted with key ID ${keyId}, which this process does not have; ` +
        'add that key to AUDIT_PAYLOAD_OLD_KEYS (or AUDIT_PAYLOAD_KEY)'
    );
  }
}

/**
 * An encrypted payload could not be decrypted with the key its metadata names: the ciphertext or its metadata was
 * altered or corrupted, or the payload is not in this codec's format.
 */
export class PayloadDecryptionError extends Error {
  override readonly name = 'PayloadDecryptionError';

  constructor(
    /** Key ID named by the payload, when it named one. */
    readonly keyId: string | undefined,
    problem: string
  ) {
    super(`cannot decrypt payload${keyId === undefined ? '' : ` (key ID ${keyId})`}: ${problem}`);
  }
}
