import { z } from 'zod';
import { DEFAULT_TASK_QUEUE } from '../shared/org-workflow';

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
});

export interface WorkerConfig {
  taskQueue: string;
  atlassianBaseUrl: string;
  datadogIntakeUrl: string;
  shutdownGraceMs: number;
  /** Unset: the activities' default, `.data/dead-letters` under the working directory. */
  deadLetterDir?: string;
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
  return {
    taskQueue: values.AUDIT_TASK_QUEUE,
    atlassianBaseUrl: values.ATLASSIAN_API_BASE_URL,
    datadogIntakeUrl: values.DD_LOGS_INTAKE_URL ?? `https://http-intake.logs.${values.DD_SITE}/api/v2/logs`,
    shutdownGraceMs: values.AUDIT_SHUTDOWN_GRACE_SECONDS * 1000,
    deadLetterDir: values.AUDIT_DEAD_LETTER_DIR,
  };
}
