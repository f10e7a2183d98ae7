/**
 * Codec server for the Temporal Web UI and CLI: shows payloads encrypted with AUDIT_PAYLOAD_KEY decoded, to an
 * operator who holds AUDIT_CODEC_TOKEN.
 *
 *   AUDIT_PAYLOAD_KEY=… AUDIT_PAYLOAD_OLD_KEYS=… AUDIT_CODEC_TOKEN=$(openssl rand -hex 32) \
 *     npx tsx src/codec/codec-server-main.ts
 *
 * Environment: AUDIT_CODEC_TOKEN (required, at least 32 URL-safe characters), AUDIT_CODEC_PORT (default 8888),
 * AUDIT_CODEC_HOST (default 127.0.0.1), AUDIT_CODEC_UI_ORIGIN (default http://localhost:8233; must match the UI's
 * address bar exactly: http://127.0.0.1:8233 is another origin), AUDIT_PAYLOAD_KEY and AUDIT_PAYLOAD_OLD_KEYS (the
 * same keys as the worker).
 *
 * HOW THE TEMPORAL WEB UI AUTHENTICATES, AND WHY THE TOKEN MAY SIT IN THE PATH
 * (checked in temporalio/ui `src/lib/services/data-encoder.ts` and `src/lib/stores/data-encoder.ts`):
 * - The UI calls the codec from the operator's browser: `POST <endpoint>/decode` with `Content-Type` and
 *   `X-Namespace`. The server must be reachable from that browser and allow the UI's origin (CORS).
 * - It sends `Authorization: Bearer …` only when "pass access token" is on (UI server `codec.passAccessToken`,
 *   `TEMPORAL_CODEC_PASS_ACCESS_TOKEN`, or the browser's codec setting), only to an `https://` endpoint, and the
 *   token is the UI user's own OIDC access token. There is no setting for a static token, and the dev server's UI
 *   has no login at all. (`includeCredentials` sends cookies, not a token either.)
 * - So for the Web UI the token goes into the endpoint URL, which the UI extends with `/decode`; the server accepts
 *   `/<token>/decode` as well as a bearer header. Configure ONE of:
 *   - browser only (preferred: the URL stays in that browser's local storage): in the Web UI open the codec server
 *     (data encoder) settings, enter `http://127.0.0.1:8888/<token>` and choose the browser setting over the
 *     cluster-level one;
 *   - dev server: `temporal server start-dev --ui-codec-endpoint "http://127.0.0.1:8888/$AUDIT_CODEC_TOKEN"`;
 *   - standalone UI server (compose): `TEMPORAL_CODEC_ENDPOINT=http://127.0.0.1:8888/<token>`.
 *   The last two publish the endpoint, token included, to everyone who can open that UI (its settings API) and to
 *   local users who can list process arguments; they can already read decoded data through that UI.
 * - Temporal CLI: `--codec-endpoint http://127.0.0.1:8888 --codec-auth "Bearer $AUDIT_CODEC_TOKEN"` (the CLI sends
 *   `--codec-auth` verbatim as the Authorization header).
 * The server ignores `X-Namespace`: one key set serves every namespace.
 */
import { errorMessage } from '@temporalio/common';
import { startCodecServer } from './codec-server';
import { loadCodecServerOptions } from './codec-server-config';

async function main(): Promise<void> {
  const options = loadCodecServerOptions();
  const server = await startCodecServer(options);
  console.log(
    `codec server listening on ${server.url} for the Temporal UI at ${options.uiOrigin}; ` +
      `new payloads use key ID ${options.codec.encryptionKeyId}`
  );
  console.log(
    `Web UI codec endpoint: ${server.url}/<AUDIT_CODEC_TOKEN>; ` +
      `CLI: --codec-endpoint ${server.url} --codec-auth "Bearer $AUDIT_CODEC_TOKEN"`
  );
  const stop = (): void => {
    server.close().then(
      () => process.exit(0),
      () => process.exit(1)
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error: unknown) => {
  // One line; a CodecConfigError names its variable. No message here carries a secret value.
  console.error(`codec server: ${errorMessage(error) ?? String(error)}`);
  process.exit(1);
});
