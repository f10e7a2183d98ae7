/**
 * Where apply talks to and with which keys, read from the environment. Both keys are secrets: they are only ever put
 * in request headers, never in a message. A missing or malformed setting is a UsageError (exit code 2) raised before
 * any request is sent.
 */
import { z } from 'zod';
import { UsageError } from '../cli-input';

export interface DatadogApiConfig {
  /** `https://api.<site>` or DD_API_BASE_URL, without a trailing slash. */
  readonly baseUrl: string;
  readonly apiKey: string;
  readonly applicationKey: string;
}

export const DEFAULT_DATADOG_SITE = 'datadoghq.com';

const secret = (variable: string, purpose: string) =>
  z.string({ error: `${variable} is not set: ${purpose}` }).min(1, { error: `${variable} is empty: ${purpose}` });

const environmentSchema = z.object({
  DD_API_KEY: secret('DD_API_KEY', 'datadog apply needs the Datadog API key'),
  applicationKey: secret(
    'DD_APP_KEY',
    'datadog apply needs a Datadog application key beside the API key (DD_APPLICATION_KEY is also accepted; see --help for its permissions)'
  ),
  // Datadog's own tools read a bare site name (datadoghq.eu); a URL or the app. host would build a wrong API host.
  DD_SITE: z
    .string()
    .regex(/^(?!app\.)[a-z0-9]+(?:[.-][a-z0-9]+)*\.[a-z]{2,}$/, {
      error: 'DD_SITE must be a Datadog site such as datadoghq.com, us5.datadoghq.com or datadoghq.eu',
    })
    .default(DEFAULT_DATADOG_SITE),
  // Not echoed when invalid: a base URL may carry credentials of a proxy.
  DD_API_BASE_URL: z
    .url({ protocol: /^https?$/, error: 'DD_API_BASE_URL must be an http:// or https:// URL' })
    .optional(),
});

export function datadogApiConfigFromEnv(env: NodeJS.ProcessEnv): DatadogApiConfig {
  const parsed = environmentSchema.safeParse({
    ...env,
    // DD_APP_KEY is what Datadog's docs and the Agent use; DD_APPLICATION_KEY is the longer spelling some tools use.
    applicationKey: nonEmpty(env.DD_APP_KEY) ?? nonEmpty(env.DD_APPLICATION_KEY) ?? env.DD_APP_KEY,
    DD_SITE: nonEmpty(env.DD_SITE),
    DD_API_BASE_URL: nonEmpty(env.DD_API_BASE_URL),
  });
  if (!parsed.success) throw new UsageError(parsed.error.issues[0]!.message);
  const { DD_API_KEY, applicationKey, DD_SITE, DD_API_BASE_URL } = parsed.data;
  return {
    baseUrl: (DD_API_BASE_URL ?? `https://api.${DD_SITE}`).replace(/\/+$/, ''),
    apiKey: DD_API_KEY,
    applicationKey,
  };
}

/** The base URL without any user:password a proxy URL may carry, for messages. */
export function displayableBaseUrl(baseUrl: string): string {
  const url = new URL(baseUrl);
  url.username = '';
  url.password = '';
  return url.toString().replace(/\/+$/, '');
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}
