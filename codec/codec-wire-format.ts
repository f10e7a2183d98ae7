import type { Payload } from '@temporalio/common';
import { z } from 'zod';

/**
 * The JSON body of the codec endpoints, as the Temporal Web UI and CLI send and expect it: the proto3 JSON form of
 * `Payloads`, where bytes (each metadata value and `data`) are base64 strings.
 * `{ payloads: [{ metadata: { encoding: "anNvbi9wbGFpbg==" }, data: "eyJhIjoxfQ==" }] }`
 */
export const codecRequestBodySchema = z.object({
  payloads: z.array(
    z.object({
      // proto3 JSON leaves out empty fields, so both may be missing.
      metadata: z.record(z.string(), z.base64()).optional(),
      data: z.base64().optional(),
    })
  ),
});

export type CodecRequestBody = z.infer<typeof codecRequestBodySchema>;

export interface JsonPayload {
  metadata: Record<string, string>;
  data: string;
}

export function payloadsFromJson(body: CodecRequestBody): Payload[] {
  return body.payloads.map((json) => ({
    metadata: Object.fromEntries(
      Object.entries(json.metadata ?? {}).map(([key, value]) => [key, Buffer.from(value, 'base64')])
    ),
    data: Buffer.from(json.data ?? '', 'base64'),
  }));
}

export function payloadsToJson(payloads: readonly Payload[]): { payloads: JsonPayload[] } {
  return {
    payloads: payloads.map((payload) => ({
      metadata: Object.fromEntries(
        Object.entries(payload.metadata ?? {}).map(([key, value]) => [key, base64(value)])
      ),
      data: base64(payload.data),
    })),
  };
}

function base64(bytes: Uint8Array | null | undefined): string {
  return bytes ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64') : '';
}
