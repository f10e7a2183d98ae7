/**
 * `atlassian-audit`: the operator's command line. Every flag is validated before Temporal is contacted; bad input
 * gets one line naming the problem and exit code 2, a failure at run time exit code 1.
 */
import { WorkflowUpdateFailedError, type SignalDefinition } from '@temporalio/client';
import { Command, CommanderError, Option } from 'commander';
import { z } from 'zod';
import {
  pauseSignal,
  requestBackfillUpdate,
  resendDeadLettersSignal,
  resumeSignal,
  rotateCredentialsSignal,
  seekSignal,
  statusQuery,
  stopSignal,
} from '../workflows/messages';
import { PACE_GROUP_NAME } from '../shared/pace-groups';
import { iso } from '../workflows/backfill-ranges';
import {
  credentialRefSchema,
  durationSchema,
  instantSchema,
  integerSchema,
  orgIdSchema,
  parseOptions,
  pastRangeOption,
  UsageError,
} from './cli-input';
import { serveCodec } from './codec-server-command';
import { connectClient, type ClientContext } from './connect';
import { registerDatadogCommands } from './datadog-apply-command';
import { EVENTS_MISSING_EXIT_CODE, EventsMissingError, registerVerifyCommands } from './verify-command';
import { formatOrgList, formatStatus } from './format-status';
import { OrgNotRunningError, PaceGroupNotServedError, START_DEFAULTS, UnrecoverablePositionError, listOrgs, runEnding, runningOrg, startOrg } from './org-control';

const org = () => new Option('--org <id>', 'Atlassian organization ID');

async function withClient<T>(work: (context: ClientContext) => Promise<T>): Promise<T> {
  const context = await connectClient();
  try {
    return await work(context);
  } finally {
    await context.close();
  }
}

/** Sends one signal to a running org's workflow. */
function signalOrg<Args extends unknown[]>(orgId: string, signal: SignalDefinition<Args>, ...args: Args): Promise<void> {
  return withClient(async ({ client }) => (await runningOrg(client, orgId)).signal(signal, ...args));
}

export function buildProgram(): Command {
  const program = new Command('atlassian-audit')
    .description('Control the durable Atlassian organization audit log → Datadog collector')
    .showHelpAfterError(false)
    .exitOverride();

  program
    .command('start')
    .description('start collecting an organization (idempotent: a running org is left as it is)')
    .addOption(org())
    .option('--atlassian-key <ref>', 'Atlassian API key reference, env:NAME or file:/path (default: env:ATLASSIAN_API_KEY)')
    .option('--datadog-key <ref>', 'Datadog API key reference, env:NAME or file:/path (default: env:DD_API_KEY)')
    .option('--since <iso>', 'event time from which the tail delivers everything (default: one hour ago)')
    .option('--poll-interval <duration>', 'wait between polls once caught up, e.g. 30s, 5m', '60s')
    .option('--max-poll-interval <duration>', 'ceiling of the interval for a quiet org (default: 4 × poll interval)')
    .option('--max-requests-per-minute <n>', 'Atlassian requests per minute for this org, tail and backfill together', String(START_DEFAULTS.maxRequestsPerMinute))
    .option('--page-size <n>', 'events per events-stream page (1-500)', '200')
    .option('--pace-group <name>', 'share the requests-per-minute budget of this pace group (orgs read with one Atlassian user; see AUDIT_PACE_GROUPS)')
    .action(async (raw) => {
      const options = parseOptions(
        z.object({
          org: orgIdSchema,
          atlassianKey: credentialRefSchema('--atlassian-key').optional(),
          datadogKey: credentialRefSchema('--datadog-key').optional(),
          since: instantSchema('--since').optional(),
          pollInterval: durationSchema('--poll-interval', 1_000, 86_400_000),
          maxPollInterval: durationSchema('--max-poll-interval', 1_000, 86_400_000).optional(),
          maxRequestsPerMinute: integerSchema('--max-requests-per-minute', 1, 6000),
          pageSize: integerSchema('--page-size', 1, 500),
          paceGroup: z
            .string()
            .regex(PACE_GROUP_NAME, { message: '--pace-group must be lower-case letters, digits, - and _ (at most 63), as in AUDIT_PACE_GROUPS' })
            .optional(),
        }),
        raw
      );
      if (options.since !== undefined && options.since > Date.now()) throw new UsageError('--since is in the future');
      const result = await withClient(({ client, taskQueue }) =>
        startOrg(client, taskQueue, {
          orgId: options.org,
          atlassianKey: options.atlassianKey,
          datadogKey: options.datadogKey,
          since: options.since,
          pollIntervalMs: options.pollInterval,
          maxPollIntervalMs: options.maxPollInterval,
          maxRequestsPerMinute: options.maxRequestsPerMinute,
          pageSize: options.pageSize,
          paceGroup: options.paceGroup,
        })
      );
      if (!result.started) console.log(`${result.workflowId} is already running; left as it is`);
      else if (result.resumedFrom === 'COMPLETED') console.log(`${result.workflowId} started, resuming from where its last run stopped`);
      else if (result.resumedFrom) console.log(`${result.workflowId} started, resuming from where its last run (${runEnding(result.resumedFrom)}) left off`);
      else console.log(`${result.workflowId} started`);
    });

  program
    .command('pause')
    .description('pause collection (no request is sent to Atlassian while paused)')
    .addOption(org())
    .option('--reason <text>', 'shown in status and in the Temporal UI')
    .action(async (raw) => {
      const options = parseOptions(z.object({ org: orgIdSchema, reason: z.string().max(500).optional() }), raw);
      await signalOrg(options.org, pauseSignal, { reason: options.reason });
      console.log(`pause requested for ${options.org}`);
    });

  program
    .command('resume')
    .description('resume a paused organization')
    .addOption(org())
    .action(async (raw) => {
      const options = parseOptions(z.object({ org: orgIdSchema }), raw);
      await signalOrg(options.org, resumeSignal);
      console.log(`resume requested for ${options.org}`);
    });

  program
    .command('backfill')
    .description('collect a past range of event time (oldest first, sharing the org request budget with the tail)')
    .addOption(org())
    .option('--from <iso>', 'start of the range (inclusive), ISO-8601')
    .option('--to <iso>', 'end of the range (exclusive), ISO-8601')
    .action(async (raw) => {
      const options = parseOptions(
        z.object({
          org: orgIdSchema,
          from: z.string({ error: '--from is required' }),
          to: z.string({ error: '--to is required' }),
        }),
        raw
      );
      const range = pastRangeOption(options.from, options.to);
      const accepted = await withClient(async ({ client }) =>
        (await runningOrg(client, options.org)).executeUpdate(requestBackfillUpdate, {
          args: [{ from: iso(range.from), to: iso(range.to) }],
        })
      );
      if (accepted.ranges.length === 0) console.log('nothing to add: the range is already queued');
      for (const range of accepted.ranges) console.log(`accepted as range ${range.id}: ${range.from} → ${range.to}`);
    });

  program
    .command('rotate')
    .description('switch to new credential references (or re-read the current ones) and resume a held org')
    .addOption(org())
    .option('--atlassian-key <ref>', 'new Atlassian API key reference')
    .option('--datadog-key <ref>', 'new Datadog API key reference')
    .action(async (raw) => {
      const options = parseOptions(
        z.object({
          org: orgIdSchema,
          atlassianKey: credentialRefSchema('--atlassian-key').optional(),
          datadogKey: credentialRefSchema('--datadog-key').optional(),
        }),
        raw
      );
      await signalOrg(options.org, rotateCredentialsSignal, { atlassian: options.atlassianKey, datadog: options.datadogKey });
      console.log(`credential rotation sent to ${options.org}`);
    });

  program
    .command('seek')
    .description("restart the tail's stream at an event time (what was delivered already is not delivered again)")
    .addOption(org())
    .option('--from <iso>', 'event time to read from, ISO-8601 with an offset')
    .action(async (raw) => {
      const options = parseOptions(z.object({ org: orgIdSchema, from: instantSchema('--from') }), raw);
      if (options.from > Date.now()) throw new UsageError('--from is in the future');
      await signalOrg(options.org, seekSignal, { from: iso(options.from) });
      console.log(`seek to ${iso(options.from)} sent to ${options.org}`);
    });

  program
    .command('resend-dead-letters')
    .description('re-send the logs Datadog refused, kept as dead letters on the workers (all, or --event IDs)')
    .addOption(org())
    .option('--event <id...>', 'Atlassian event IDs to re-send (default: all of the org)')
    .action(async (raw) => {
      const options = parseOptions(z.object({ org: orgIdSchema, event: z.array(z.string().min(1).max(200)).max(1000).optional() }), raw);
      await signalOrg(options.org, resendDeadLettersSignal, options.event ? { eventIds: options.event } : {});
      console.log(`resend of ${options.event ? `${options.event.length} dead letters` : 'all dead letters'} requested for ${options.org}`);
    });

  program
    .command('status')
    .description("show an organization's phase, cursor, lag, backfill progress and counters")
    .addOption(org())
    .option('--json', 'print JSON')
    .action(async (raw) => {
      const options = parseOptions(z.object({ org: orgIdSchema, json: z.boolean().optional() }), raw);
      const status = await withClient(async ({ client }) => (await runningOrg(client, options.org)).query(statusQuery));
      console.log(options.json ? JSON.stringify(status, null, 2) : formatStatus(status));
    });

  program
    .command('list')
    .description('list every running organization with its phase, watermark and lag')
    .option('--json', 'print JSON')
    .action(async (raw) => {
      const options = parseOptions(z.object({ json: z.boolean().optional() }), raw);
      const orgs = await withClient(({ client }) => listOrgs(client));
      console.log(options.json ? JSON.stringify(orgs, null, 2) : formatOrgList(orgs));
    });

  program
    .command('stop')
    .description('finish the page in flight, then stop; a later start resumes from there')
    .addOption(org())
    .action(async (raw) => {
      const options = parseOptions(z.object({ org: orgIdSchema }), raw);
      await signalOrg(options.org, stopSignal, {});
      console.log(`stop requested for ${options.org}`);
    });

  program
    .command('codec-server')
    .description('serve /encode and /decode so the Temporal Web UI and CLI show encrypted payloads decoded (needs AUDIT_PAYLOAD_KEY and AUDIT_CODEC_TOKEN)')
    .action(() => serveCodec());

  registerDatadogCommands(program);
  registerVerifyCommands(program, withClient);
  for (const command of program.commands) command.exitOverride();
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are "errors" to commander; they printed already.
      return err.exitCode === 0 ? 0 : 2;
    }
    if (err instanceof UsageError) {
      console.error(`error: ${err.message}`);
      return 2;
    }
    if (err instanceof WorkflowUpdateFailedError) {
      // The workflow's validator refused the request (e.g. a range the tail already covers): bad input.
      console.error(`error: ${err.cause?.message ?? err.message}`);
      return 2;
    }
    // The report said what is missing already.
    if (err instanceof EventsMissingError) return EVENTS_MISSING_EXIT_CODE;
    if (err instanceof OrgNotRunningError || err instanceof UnrecoverablePositionError) {
      console.error(`error: ${err.message}`);
      return 1;
    }
    console.error(`error: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
