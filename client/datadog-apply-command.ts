/**
 * `atlassian-audit datadog apply [--dry-run]`: the operator's way to install or refresh the project's Datadog
 * definitions (log pipeline, Cloud SIEM detection rules, dashboard) in their account. Registered on the main program
 * by `registerDatadogCommands(program)`.
 */
import type { Command } from 'commander';
import { z } from 'zod';
import { parseOptions } from './cli-input';
import { applyDatadogDefinitions } from './datadog-apply/apply';
import { DEFAULT_DATADOG_SITE, datadogApiConfigFromEnv } from './datadog-apply/config';
import { REQUIRED_APPLICATION_KEY_PERMISSIONS } from './datadog-apply/datadog-api';
import { PROJECT_DEFINITIONS_DIR } from './datadog-apply/definitions';
import { MANAGED_BY_TAG } from './datadog-apply/ownership';

export interface DatadogCommandsOptions {
  /**
   * Where DD_API_KEY, DD_APP_KEY (or DD_APPLICATION_KEY), DD_SITE and DD_API_BASE_URL are read.
   * @default process.env
   */
  env?: NodeJS.ProcessEnv;
  /**
   * Receives each line of output.
   * @default console.log
   */
  print?: (line: string) => void;
}

const APPLY_HELP = `
Environment:
  DD_API_KEY         Datadog API key.
  DD_APP_KEY         Datadog application key, needed beside the API key (DD_APPLICATION_KEY is also accepted).
                     It needs the permissions
                     ${wrapList(REQUIRED_APPLICATION_KEY_PERMISSIONS, 21)}.
                     Datadog serves the log pipeline API only to an application key created by an admin.
  DD_SITE            Datadog site, e.g. us5.datadoghq.com or datadoghq.eu (default ${DEFAULT_DATADOG_SITE});
                     requests go to https://api.<site>.
  DD_API_BASE_URL    overrides the API base URL (a proxy, or a local stand-in).

Objects are found again by name (title for the dashboard) and the marker ${MANAGED_BY_TAG} (a tag; a line in the
dashboard's description). Only fields set in the local files are compared, so a second run changes nothing. A
same-named object without the marker is never overwritten: the run stops before any change. Nothing is deleted.`;

/** `items` joined by commas, broken into lines that stay readable in an 80-column terminal. */
function wrapList(items: readonly string[], indent: number): string {
  const lines = [''];
  for (const item of items) {
    const current = lines.at(-1)!;
    const next = current === '' ? item : `${current}, ${item}`;
    if (next.length > 64 && current !== '') lines.push(item);
    else lines[lines.length - 1] = next;
  }
  return lines.join(`,\n${' '.repeat(indent)}`);
}

export function registerDatadogCommands(program: Command, options: DatadogCommandsOptions = {}): void {
  const env = options.env ?? process.env;
  const datadog = program
    .command('datadog')
    .description('install the Datadog definitions of datadog/ (log pipeline, Cloud SIEM rules, dashboard) in an account');

  datadog
    .command('apply')
    .description('create or update the log pipeline, detection rules and dashboard in Datadog (idempotent)')
    .option('--dry-run', 'print what would be created or updated, and change nothing')
    .option('--definitions <dir>', 'folder with pipeline.json, rules/*.json and dashboard.json', PROJECT_DEFINITIONS_DIR)
    .addHelpText('after', APPLY_HELP)
    .action(async (raw) => {
      const flags = parseOptions(z.object({ dryRun: z.boolean().optional(), definitions: z.string().min(1) }), raw);
      const api = datadogApiConfigFromEnv(env);
      await applyDatadogDefinitions({ api, definitionsDir: flags.definitions, dryRun: flags.dryRun, print: options.print });
    });
}
