/**
 * Starts both STAND-INS (Atlassian org audit API and Datadog logs intake) for the demo and for scripts that need
 * them in a separate process:
 *
 *   tsx dev/standins/main.ts [--atlassian-port 8700] [--datadog-port 8701] [--org ID] [--atlassian-key K]
 *                            [--datadog-key K] [--ndjson PATH] [--events-file PATH] [--demo-events-per-minute N]
 *
 * The org is seeded with a few hundred demo events spread over the last days, then new events keep arriving at
 * the given rate. With --events-file the Atlassian events are kept in that file and a restart serves them again
 * instead of seeding. Keys have well-known defaults because these servers guard nothing; they are never printed.
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { AtlassianStandin } from './atlassian-standin';
import { DatadogStandin } from './datadog-standin';
import { createDemoEventGenerator } from './demo-events';

export const STANDIN_DEFAULTS = {
  atlassianPort: 8700,
  datadogPort: 8701,
  orgId: '8f2c4e1a-5b6d-4c7e-9f80-1a2b3c4d5e6f',
  atlassianKey: 'standin-atlassian-key',
  datadogKey: 'standin-datadog-key',
  /** The application key `verify` reads the Datadog stand-in's Logs APIs with. */
  datadogAppKey: 'standin-datadog-app-key',
  demoEventsPerMinute: 6,
  seedEventCount: 300,
  seedSpanMs: 3 * 24 * 3_600_000,
  seed: 20_251_120,
} as const;

export interface StandinsOptions {
  /** @default 8700 (0 picks a free port) */
  atlassianPort?: number;
  /** @default 8701 (0 picks a free port) */
  datadogPort?: number;
  /** @default '8f2c4e1a-5b6d-4c7e-9f80-1a2b3c4d5e6f' */
  orgId?: string;
  /** @default 'standin-atlassian-key' */
  atlassianKey?: string;
  /** @default 'standin-datadog-key' */
  datadogKey?: string;
  /** @default undefined (received logs are kept in memory only) */
  ndjsonPath?: string;
  /**
   * The Atlassian stand-in's events file (see AtlassianStandinOptions.eventsFile). When it already holds events of
   * the org, they are served again and no seed events are added.
   * @default undefined (seeded afresh at every start)
   */
  eventsFile?: string;
  /** Live events added per minute after seeding; 0 adds none. @default 6 */
  demoEventsPerMinute?: number;
  /** Events processed over the `seedSpanMs` before start. @default 300 */
  seedEventCount?: number;
  /** @default 3 days */
  seedSpanMs?: number;
  /** PRNG seed of the demo events. @default 20251120 */
  seed?: number;
}

export interface RunningStandins {
  readonly atlassian: AtlassianStandin;
  readonly datadog: DatadogStandin;
  readonly orgId: string;
  /** Events of the org that came back from `eventsFile`; 0 when the org was seeded afresh. */
  readonly restoredEvents: number;
  /** Stops the live events and closes both servers. */
  stop(): Promise<void>;
}

export async function startStandins(options: StandinsOptions = {}): Promise<RunningStandins> {
  const settings = { ...STANDIN_DEFAULTS, ...definedOnly(options) };
  const atlassian = await AtlassianStandin.start({ port: settings.atlassianPort, eventsFile: options.eventsFile });
  const datadog = await DatadogStandin.start({
    port: settings.datadogPort,
    apiKeys: [settings.datadogKey],
    applicationKeys: [settings.datadogAppKey],
    ndjsonPath: options.ndjsonPath,
  }).catch(async (error: unknown) => {
    await atlassian.close();
    throw error;
  });

  atlassian.addOrg(settings.orgId, { apiKeys: [settings.atlassianKey] });
  const generator = createDemoEventGenerator({ seed: settings.seed, orgId: settings.orgId });
  const restoredEvents = atlassian.events(settings.orgId).length;
  if (restoredEvents > 0) {
    // The generator is deterministic: drawing as many events as were restored moves it past their IDs.
    for (let drawn = 0; drawn < restoredEvents; drawn++) generator.next(0);
  } else {
    const startTime = Date.now() - settings.seedSpanMs;
    const spacingMs = settings.seedSpanMs / Math.max(1, settings.seedEventCount);
    atlassian.addEvents(
      settings.orgId,
      Array.from({ length: settings.seedEventCount }, (_, index) =>
        generator.next(Math.round(startTime + index * spacingMs))
      )
    );
  }

  const addLiveEvent = () => atlassian.addEvents(settings.orgId, [generator.next(Date.now())]);
  const liveEvents =
    settings.demoEventsPerMinute > 0 ? setInterval(addLiveEvent, 60_000 / settings.demoEventsPerMinute) : undefined;

  return {
    atlassian,
    datadog,
    orgId: settings.orgId,
    restoredEvents,
    async stop() {
      clearInterval(liveEvents);
      await Promise.all([atlassian.close(), datadog.close()]);
    },
  };
}

/** `{ port: undefined }` must mean "use the default", not "override the default with undefined". */
function definedOnly<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as Partial<T>;
}

const portFlag = z
  .string()
  .regex(/^\d+$/, 'must be a port number')
  .transform(Number)
  .pipe(z.number().int().max(65_535, 'must be a port number'));

const nonEmptyFlag = z.string().trim().min(1, 'must not be empty');

const cliFlagsSchema = z.object({
  'atlassian-port': portFlag.optional(),
  'datadog-port': portFlag.optional(),
  org: nonEmptyFlag.optional(),
  'atlassian-key': nonEmptyFlag.optional(),
  'datadog-key': nonEmptyFlag.optional(),
  ndjson: nonEmptyFlag.optional(),
  'events-file': nonEmptyFlag.optional(),
  'demo-events-per-minute': z
    .string()
    .regex(/^\d+(\.\d+)?$/, 'must be a number ≥ 0')
    .transform(Number)
    .pipe(z.number().max(6_000, 'must be at most 6000'))
    .optional(),
});

const flagNames = [
  'atlassian-port',
  'datadog-port',
  'org',
  'atlassian-key',
  'datadog-key',
  'ndjson',
  'events-file',
  'demo-events-per-minute',
] as const;

/** Reads the command line into options; throws an Error with a one-line message on bad input. */
export function parseStandinsArgs(args: readonly string[]): StandinsOptions {
  const { values } = parseArgs({
    args: [...args],
    options: Object.fromEntries(flagNames.map((name) => [name, { type: 'string' }])) as Record<
      (typeof flagNames)[number],
      { type: 'string' }
    >,
    strict: true,
    allowPositionals: false,
  });
  const result = cliFlagsSchema.safeParse(values);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `--${issue.path.join('.')} ${issue.message}`);
    throw new Error(problems.join('; '));
  }
  const flags = result.data;
  return {
    atlassianPort: flags['atlassian-port'],
    datadogPort: flags['datadog-port'],
    orgId: flags.org,
    atlassianKey: flags['atlassian-key'],
    datadogKey: flags['datadog-key'],
    ndjsonPath: flags.ndjson,
    eventsFile: flags['events-file'],
    demoEventsPerMinute: flags['demo-events-per-minute'],
  };
}

async function main(): Promise<void> {
  let options: StandinsOptions;
  try {
    options = parseStandinsArgs(process.argv.slice(2));
  } catch (error) {
    // parseArgs explains some mistakes over several lines; the contract is one line.
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`standins: ${message.replace(/\s*\n\s*/g, ' ')}\n`);
    process.exitCode = 2;
    return;
  }
  const standins = await startStandins(options);
  const { atlassian, datadog, orgId, restoredEvents } = standins;
  const events = atlassian.events(orgId).length;
  const restored = restoredEvents > 0 ? ', restored from the events file' : '';
  process.stdout.write(`Atlassian org audit API stand-in: ${atlassian.url} (org ${orgId}, ${events} events${restored})\n`);
  process.stdout.write(`Datadog logs intake stand-in: ${datadog.url}\n`);

  const shutdown = () => {
    process.off('SIGINT', shutdown);
    process.off('SIGTERM', shutdown);
    // Once both servers and the live-event timer are gone, nothing keeps the process alive: it exits with 0.
    void standins.stop();
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`standins: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
}
