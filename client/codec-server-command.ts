/**
 * Codec server for the Temporal Web UI and CLI: shows payloads encrypted with AUDIT_PAYLOAD_KEY decoded, to an
 * operator who holds AUDIT_CODEC_TOKEN.
 *
 *   AUDIT_PAYLOAD_KEY=… AUDIT_PAYLOAD_OLD_KEYS=… AUDIT_CODEC_TOKEN=$(openssl rand -hex 32) \
 *     npx atlassian-audit codec-server
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
import { startCodecServer } from '../codec/codec-server';
import { loadCodecServerOptions } from '../codec/codec-server-config';

export interface ServeCodecOptions {
  /** @default process.env */
  env?: NodeJS.ProcessEnv;
  /** Where the start-up lines go. @default console.log */
  print?: (line: string) => void;
  /** Stops the server when aborted. @default SIGINT or SIGTERM */
  stop?: AbortSignal;
}

/**
 * Serves until stopped, then closes the server.
 * @throws CodecConfigError naming the first variable that is missing or malformed, never its value.
 */
export async function serveCodec(options: ServeCodecOptions = {}): Promise<void> {
  const settings = loadCodecServerOptions(options.env ?? process.env);
  const stop = options.stop ?? abortedOnTermination();
  const print = options.print ?? console.log;
  const server = await startCodecServer(settings);
  // The token is shown as a placeholder only: these lines end up in terminals, CI logs and container logs.
  print(
    `codec server listening on ${server.url} for the Temporal UI at ${settings.uiOrigin}; ` +
      `new payloads use key ID ${settings.codec.encryptionKeyId}`
  );
  print(
    `Web UI codec endpoint: ${server.url}/<AUDIT_CODEC_TOKEN>; ` +
      `CLI: --codec-endpoint ${server.url} --codec-auth "Bearer $AUDIT_CODEC_TOKEN"`
  );
  await new Promise<void>((resolve) => {
    if (stop.aborted) resolve();
    else stop.addEventListener('abort', () => resolve(), { once: true });
  });
  await server.close();
}

function abortedOnTermination(): AbortSignal {
  const controller = new AbortController();
  const abort = (): void => controller.abort();
  process.once('SIGINT', abort);
  process.once('SIGTERM', abort);
  return controller.signal;
}
