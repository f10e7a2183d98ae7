import path from 'node:path';
import { z } from 'zod';
import {
  CREDENTIAL_VARIABLE_ENTRY,
  DEFAULT_CREDENTIAL_VARIABLES,
  DEFAULT_SECRETS_DIR,
  WORKER_SECRET_VARIABLES,
  variableEntriesOverlap,
  type CredentialPolicy,
} from '../activities/credentials';
import { proxyEnvSchema, proxySettingsOf, type ProxySettings } from '../activities/http-client';
import { CredentialOwner } from '../shared/failure-types';
import { DEFAULT_TASK_QUEUE } from '../shared/org-workflow';
import { PACE_GROUP_NAME } from '../shared/pace-groups';

/** A configuration value the worker cannot run with. The message names the variable, never its value. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

const httpUrl = z.url({ protocol: /^https?$/ });

/** Datadog sites per reference datadog-logs.md §1.1; the intake host is `http-intake.logs.<site>`. */
const siteSchema = z.string().regex(/^([a-z0-9-]+\.)*(datadoghq\.com|datadoghq\.eu|ddog-gov\.com)$/, {
  message: 'must be a Datadog site such as datadoghq.com, us5.datadoghq.com or datadoghq.eu',
});

const envSchema = z.object({
  AUDIT_TASK_QUEUE: z.string().trim().min(1).default(DEFAULT_TASK_QUEUE),
  ATLASSIAN_API_BASE_URL: httpUrl.default('https://api.atlassian.com'),
  DD_SITE: siteSchema.default('datadoghq.com'),
  DD_LOGS_INTAKE_URL: httpUrl.optional(),
  AUDIT_SHUTDOWN_GRACE_SECONDS: z.coerce.number().int().min(0).max(3600).default(30),
  AUDIT_DEAD_LETTER_DIR: z.string().trim().min(1).optional(),
  AUDIT_PACE_GROUPS: z
    .string()
    .transform((list) => list.split(',').map((entry) => entry.trim()).filter((entry) => entry !== ''))
    .pipe(
      z.array(
        z
          .string()
          .regex(/^[^=]+=\d+$/, { message: 'must list groups as name=requests-per-minute, comma-separated' })
          .transform((entry) => entry.split('=') as [string, string])
          .pipe(
            z.tuple([
              z.string().regex(PACE_GROUP_NAME, { message: 'must name groups with lower-case letters, digits, - and _' }),
              z
                .string()
                .transform(Number)
                .pipe(
                  z
                    .number()
                    .int()
                    .min(1, { message: 'must give each group at least 1 request per minute' })
                    .max(6000, { message: 'must give each group at most 6000 requests per minute' })
                ),
            ])
          )
      )
    )
    .transform((entries) => Object.fromEntries(entries))
    .default({}),
});

/** Per service, the variable that lists which variables its `env:` credential references may name. */
export const CREDENTIAL_VARIABLES_VARIABLE = {
  [CredentialOwner.Atlassian]: 'AUDIT_ATLASSIAN_CREDENTIAL_VARIABLES',
  [CredentialOwner.Datadog]: 'AUDIT_DATADOG_CREDENTIAL_VARIABLES',
} as const satisfies Record<CredentialOwner, string>;
export const SECRETS_DIR_VARIABLE = 'AUDIT_SECRETS_DIR';

const ATLASSIAN_VARIABLES = CREDENTIAL_VARIABLES_VARIABLE[CredentialOwner.Atlassian];
const DATADOG_VARIABLES = CREDENTIAL_VARIABLES_VARIABLE[CredentialOwner.Datadog];

const variableList = z
  .string()
  .transform((list) => list.split(',').map((entry) => entry.trim()).filter((entry) => entry !== ''))
  .pipe(
    z
      .array(z.string().regex(CREDENTIAL_VARIABLE_ENTRY, { message: 'must list variable names, each a name or a prefix ending in *' }))
      .min(1, { message: 'must name at least one variable' })
  );

const credentialEnvSchema = z
  .object({
    [ATLASSIAN_VARIABLES]: variableList.default([...DEFAULT_CREDENTIAL_VARIABLES.atlassian]),
    [DATADOG_VARIABLES]: variableList.default([...DEFAULT_CREDENTIAL_VARIABLES.datadog]),
    [SECRETS_DIR_VARIABLE]: z
      .string()
      .trim()
      .refine((dir) => path.isAbsolute(dir), { message: 'must be an absolute path' })
      .transform((dir) => path.resolve(dir))
      .default(DEFAULT_SECRETS_DIR),
  })
  .superRefine((values, ctx) => {
    // A variable both services may name would let a reference send one service's key to the other.
    for (const atlassian of values[ATLASSIAN_VARIABLES]) {
      const datadog = values[DATADOG_VARIABLES].find((entry) => variableEntriesOverlap(atlassian, entry));
      if (datadog !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: [ATLASSIAN_VARIABLES],
          message: `(${atlassian}) and ${DATADOG_VARIABLES} (${datadog}) name the same variables; a variable may be the credential of one service only`,
        });
        return;
      }
    }
    for (const variable of [ATLASSIAN_VARIABLES, DATADOG_VARIABLES]) {
      for (const entry of values[variable]) {
        const secret = WORKER_SECRET_VARIABLES.find((reserved) => variableEntriesOverlap(entry, reserved));
        if (secret !== undefined) {
          ctx.addIssue({
            code: 'custom',
            path: [variable],
            message: `(${entry}) names variables of ${secret}, which hold the worker's own secrets and are never a credential`,
          });
          return;
        }
      }
    }
  });

export interface WorkerConfig {
  taskQueue: string;
  atlassianBaseUrl: string;
  datadogIntakeUrl: string;
  /** Set when DD_LOGS_INTAKE_URL does not replace the site's intake: the site whose API validates the key. */
  datadogSite?: string;
  shutdownGraceMs: number;
  /** Which credential references the activities may resolve: variables per service, the secrets directory. */
  credentialPolicy: CredentialPolicy;
  /** Unset: the activities' default, `.data/dead-letters` under the working directory. */
  deadLetterDir?: string;
  /** Forward proxies of every outbound call: HTTPS_PROXY, HTTP_PROXY, NO_PROXY (lower-case forms first). */
  proxy: ProxySettings;
  /** Requests per minute of each pace group whose polls this worker serves (AUDIT_PACE_GROUPS). */
  paceGroups: Record<string, number>;
}

/**
 * Validates environment variables with a zod object schema. Blank values count as unset (so defaults apply); the
 * first problem becomes a one-line ConfigError naming the variable.
 */
export function parseEnvironment<T extends z.ZodObject>(schema: T, env: NodeJS.ProcessEnv): z.output<T> {
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value.trim() !== ''));
  const parsed = schema.safeParse(present);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(`Invalid configuration: ${String(issue.path[0])} ${issue.message}`);
  }
  return parsed.data;
}

export function loadWorkerConfig(env: NodeJS.ProcessEnv = process.env): WorkerConfig {
  const values = parseEnvironment(envSchema, env);
  const credentials = parseEnvironment(credentialEnvSchema, env);
  return {
    taskQueue: values.AUDIT_TASK_QUEUE,
    atlassianBaseUrl: values.ATLASSIAN_API_BASE_URL,
    datadogIntakeUrl: values.DD_LOGS_INTAKE_URL ?? `https://http-intake.logs.${values.DD_SITE}/api/v2/logs`,
    ...(values.DD_LOGS_INTAKE_URL === undefined && { datadogSite: values.DD_SITE }),
    shutdownGraceMs: values.AUDIT_SHUTDOWN_GRACE_SECONDS * 1000,
    credentialPolicy: {
      variables: {
        [CredentialOwner.Atlassian]: credentials[ATLASSIAN_VARIABLES],
        [CredentialOwner.Datadog]: credentials[DATADOG_VARIABLES],
      },
      secretsDir: credentials[SECRETS_DIR_VARIABLE],
    },
    deadLetterDir: values.AUDIT_DEAD_LETTER_DIR,
    proxy: proxySettingsOf(parseEnvironment(proxyEnvSchema, env)),
    paceGroups: values.AUDIT_PACE_GROUPS,
  };
}
