/**
 * What `npm start` runs with, read from the environment (after `.env`): the real Atlassian and Datadog when an org
 * and both keys are given, the local stand-ins otherwise. Values are checked here, at the edge; secrets are only
 * checked for presence and never copied into the settings.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { orgIdSchema } from '../../client/cli-input';
import { STANDIN_DEFAULTS } from '../standins/main';
import { ConfigError, parseEnvironment } from '../../worker/config';

export const PROJECT_ROOT = path.join(__dirname, '..', '..');

/** What real mode needs; without all three the demo runs on the stand-ins. */
export const REAL_MODE_VARIABLES = ['ATLASSIAN_ORG_ID', 'ATLASSIAN_API_KEY', 'DD_API_KEY'] as const;

export type DemoMode =
  | { kind: 'real'; orgId: string }
  /** `missingForReal` names the real-mode variables that are unset when only some of them are set. */
  | { kind: 'standins'; orgId: string; missingForReal: string[] };

/** Where the demo's own Temporal dev server listens, or the address of an existing Temporal to use instead. */
export type DemoTemporal = { kind: 'dev-server'; port: number; uiPort: number } | { kind: 'existing'; address: string };

export interface DemoSettings {
  mode: DemoMode;
  temporal: DemoTemporal;
  /** Absolute path of the directory holding the dev server's database and the stand-ins' files. */
  dataDir: string;
  atlassianStandinPort: number;
  datadogStandinPort: number;
}

const portSchema = (min: number) =>
  z
    .string()
    .regex(/^\d+$/, 'must be a port number')
    .transform(Number)
    .pipe(z.number().int().min(min, 'must be a port number').max(65_535, 'must be a port number'));

const envSchema = z.object({
  AUDIT_DEMO_DATA_DIR: z.string().default(path.join(PROJECT_ROOT, '.data')),
  AUDIT_DEMO_TEMPORAL_PORT: portSchema(1).default(7233),
  AUDIT_DEMO_UI_PORT: portSchema(1).default(8233),
  // 0 picks a free port: tests run the demo beside a developer's own.
  AUDIT_DEMO_ATLASSIAN_PORT: portSchema(0).default(STANDIN_DEFAULTS.atlassianPort),
  AUDIT_DEMO_DATADOG_PORT: portSchema(0).default(STANDIN_DEFAULTS.datadogPort),
  TEMPORAL_ADDRESS: z.string().trim().min(1).optional(),
  ATLASSIAN_ORG_ID: z.string().optional(),
  ATLASSIAN_API_KEY: z.string().optional(),
  DD_API_KEY: z.string().optional(),
});

/**
 * Loads `.env` into `process.env` when the file exists; variables already set win over the file.
 * `AUDIT_DEMO_ENV_FILE` points elsewhere (tests point it at a file that does not exist, so a developer's `.env`
 * cannot turn their demo run into a real one).
 * @returns the file loaded, if any
 */
export function loadEnvFile(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const file = path.resolve(env.AUDIT_DEMO_ENV_FILE?.trim() || path.join(PROJECT_ROOT, '.env'));
  if (!existsSync(file)) return undefined;
  process.loadEnvFile(file);
  return file;
}

export function loadDemoSettings(env: NodeJS.ProcessEnv = process.env): DemoSettings {
  const values = parseEnvironment(envSchema, env);
  return {
    mode: modeOf(values),
    temporal: values.TEMPORAL_ADDRESS
      ? { kind: 'existing', address: values.TEMPORAL_ADDRESS }
      : { kind: 'dev-server', port: values.AUDIT_DEMO_TEMPORAL_PORT, uiPort: values.AUDIT_DEMO_UI_PORT },
    dataDir: path.resolve(values.AUDIT_DEMO_DATA_DIR),
    atlassianStandinPort: values.AUDIT_DEMO_ATLASSIAN_PORT,
    datadogStandinPort: values.AUDIT_DEMO_DATADOG_PORT,
  };
}

function modeOf(values: z.output<typeof envSchema>): DemoMode {
  const missing = REAL_MODE_VARIABLES.filter((name) => values[name] === undefined);
  if (missing.length > 0) {
    const someGiven = missing.length < REAL_MODE_VARIABLES.length;
    return { kind: 'standins', orgId: STANDIN_DEFAULTS.orgId, missingForReal: someGiven ? missing : [] };
  }
  const orgId = orgIdSchema.safeParse(values.ATLASSIAN_ORG_ID);
  if (!orgId.success) {
    const rule = 'must be an Atlassian organization ID (letters, digits and hyphens)';
    throw new ConfigError(`Invalid configuration: ATLASSIAN_ORG_ID ${rule}`);
  }
  return { kind: 'real', orgId: orgId.data };
}
