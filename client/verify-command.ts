/**
 * `atlassian-audit verify` and `verify-schedule`: prove that Datadog holds a log of every Atlassian event of a range
 * of event time, repair what is missing, and do it every day. Registered on the main program by
 * `registerVerifyCommands(program, withClient)`. The run itself is a workflow on the worker, which holds the keys.
 */
import { Option, type Command } from 'commander';
import { z } from 'zod';
import { DATADOG_INDEX_NAME, MAX_VERIFY_RANGE_MS } from '../shared/verify/verify-input';
import { missingAtEnd } from '../shared/verify/verify-report';
import { orgIdSchema, parseOptions, pastRangeOption, UsageError } from './cli-input';
import type { ClientContext } from './connect';
import { formatVerifyReport } from './verify/format-verify-report';
import { startVerify, verifyResult } from './verify/run-verify';
import { DAILY_VERIFY_HOUR_UTC, deleteVerifySchedule, ensureVerifySchedule } from './verify/verify-schedule';

/** The exit code of a verify that found events missing (after the repair, with --repair). */
export const EVENTS_MISSING_EXIT_CODE = 3;

/** The verify finished and found events missing; the report was printed already. */
export class EventsMissingError extends Error {
  override readonly name = 'EventsMissingError';
  constructor(readonly missing: number) {
    super(`${missing} events missing in Datadog`);
  }
}

/** When the daily verify runs, as the command line says it. */
const DAILY_AT = `${String(DAILY_VERIFY_HOUR_UTC).padStart(2, '0')}:00 UTC`;

type WithClient = <T>(work: (context: ClientContext) => Promise<T>) => Promise<T>;

export interface VerifyCommandsOptions {
  /**
   * Receives each block of output.
   * @default console.log
   */
  print?: (text: string) => void;
}

const indexesSchema = z
  .array(z.string().regex(DATADOG_INDEX_NAME, { error: '--index must name a Datadog index (letters, digits, - _ .) or be *' }))
  .max(20, { error: '--index is given at most 20 times' })
  .optional();

const VERIFY_HELP = `
Exit codes: 0 nothing missing, 3 events missing (after the repair, with --repair), 1 the run failed, 2 bad input.

The worker runs the verify with the org's Atlassian and Datadog keys (those of its collector, else
env:ATLASSIAN_API_KEY and env:DD_API_KEY) and its own Datadog application key, DD_APP_KEY (or DD_APPLICATION_KEY),
which needs logs_read_data (and logs_read_index_data to name indexes). Requests go to https://api.<DD_SITE>, or
DD_API_BASE_URL. Atlassian is read at a fifth of the org's request budget.`;

export function registerVerifyCommands(program: Command, withClient: WithClient, options: VerifyCommandsOptions = {}): void {
  const print = options.print ?? ((text: string) => console.log(text));
  const org = () => new Option('--org <id>', 'Atlassian organization ID');
  const indexOption = () => new Option('--index <name...>', 'Datadog indexes to search (default: *, every index the key may read)');

  program
    .command('verify')
    .description('prove that Datadog holds a log of every Atlassian event of a range of event time, hour by hour')
    .addOption(org())
    .option('--from <iso>', 'start of the range (inclusive), ISO-8601; whole UTC hours are verified')
    .option('--to <iso>', 'end of the range (exclusive), ISO-8601; at most 31 days after --from')
    .option('--repair', 're-ship exactly the missing events (tagged repaired:true), then verify again')
    .addOption(indexOption())
    .option('--json', 'print the report as JSON')
    .option('--no-wait', 'start the run, print its workflow ID and exit without waiting for the report')
    .addHelpText('after', VERIFY_HELP)
    .action(async (raw) => {
      const flags = parseOptions(
        z.object({
          org: orgIdSchema,
          from: z.string({ error: '--from is required' }),
          to: z.string({ error: '--to is required' }),
          repair: z.boolean().optional(),
          index: indexesSchema,
          json: z.boolean().optional(),
          wait: z.boolean(),
        }),
        raw
      );
      const range = validRange(flags.from, flags.to);
      const verify = { orgId: flags.org, ...range, repair: flags.repair, indexes: flags.index };
      const result = await withClient(async ({ client, taskQueue }) => {
        const handle = await startVerify(client, taskQueue, verify);
        if (!flags.wait) return handle.workflowId;
        // On stderr: stdout stays the report alone, JSON with --json.
        if (!flags.json) console.error(`verifying in workflow ${handle.workflowId} (progress in the Temporal UI)…`);
        return verifyResult(handle);
      });
      if (typeof result === 'string') {
        print(flags.json ? JSON.stringify({ workflowId: result }) : `verify started: workflow ${result}`);
        return;
      }
      print(flags.json ? JSON.stringify(result, null, 2) : formatVerifyReport(result));
      const missing = missingAtEnd(result);
      if (missing > 0) throw new EventsMissingError(missing);
    });

  program
    .command('verify-schedule')
    .description(`verify the previous UTC day every day at ${DAILY_AT} (a Temporal Schedule, created idempotently), or --delete it`)
    .addOption(org())
    .addOption(indexOption())
    .option('--delete', "remove the org's verify schedule")
    .action(async (raw) => {
      const flags = parseOptions(z.object({ org: orgIdSchema, index: indexesSchema, delete: z.boolean().optional() }), raw);
      if (flags.delete && flags.index) throw new UsageError('--index does not go with --delete');
      if (flags.delete) {
        const deleted = await withClient(({ client }) => deleteVerifySchedule(client, flags.org));
        print(deleted ? `verify schedule of ${flags.org} deleted` : `${flags.org} has no verify schedule; nothing to delete`);
        return;
      }
      const outcome = await withClient(({ client, taskQueue }) => ensureVerifySchedule(client, taskQueue, { orgId: flags.org, indexes: flags.index }));
      print(`verify schedule of ${flags.org} ${outcome === 'created' ? 'created' : 'already there; set to these options'}: the previous UTC day, every day at ${DAILY_AT}`);
    });
}

/** The range as backfill checks it (not in the future, within Atlassian's retention), and at most 31 days long. */
function validRange(from: string, to: string): { from: number; to: number } {
  const range = pastRangeOption(from, to);
  if (range.to - range.from > MAX_VERIFY_RANGE_MS) throw new UsageError('--to is more than 31 days after --from: verify a longer range month by month');
  return range;
}
