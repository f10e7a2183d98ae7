/** The run's flags (`--seed`, `--kills`, `--only`, …) and their defaults. */
import { parseArgs } from 'node:util';

export const SCENARIO_GROUPS = ['budget', 'atlassian', 'datadog', 'outage', 'liveness', 'kills'] as const;
export type ScenarioGroup = (typeof SCENARIO_GROUPS)[number];

export interface Settings {
  budgetRequestsPerMinute: number;
  budgetPages: number;
  seed: number;
  kills: number;
  killEvents: number;
  backfillRequestsPerMinute: number;
  outageSeconds: number;
  /** The liveness group's Datadog outage: long enough to outlast the stall threshold its orgs are started with. */
  livenessOutageSeconds: number;
  only: ReadonlySet<ScenarioGroup>;
}

export function readSettings(): Settings {
  const { values } = parseArgs({
    options: {
      'budget-rpm': { type: 'string', default: '600' },
      'budget-pages': { type: 'string', default: '300' },
      seed: { type: 'string' },
      kills: { type: 'string', default: '20' },
      'kill-events': { type: 'string', default: '20000' },
      'backfill-rpm': { type: 'string', default: '120' },
      'outage-seconds': { type: 'string', default: '300' },
      'liveness-outage-seconds': { type: 'string', default: '30' },
      only: { type: 'string', default: SCENARIO_GROUPS.join(',') },
    },
  });
  const positive = (name: string, raw: string | undefined): number => {
    const value = Number(raw);
    if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer`);
    return value;
  };
  return {
    budgetRequestsPerMinute: positive('budget-rpm', values['budget-rpm']),
    budgetPages: positive('budget-pages', values['budget-pages']),
    seed: values.seed === undefined ? Date.now() % 1_000_000 : positive('seed', values.seed),
    kills: positive('kills', values.kills),
    killEvents: positive('kill-events', values['kill-events']),
    backfillRequestsPerMinute: positive('backfill-rpm', values['backfill-rpm']),
    outageSeconds: positive('outage-seconds', values['outage-seconds']),
    livenessOutageSeconds: positive('liveness-outage-seconds', values['liveness-outage-seconds']),
    only: parseGroups(values.only ?? ''),
  };
}

function parseGroups(raw: string): ReadonlySet<ScenarioGroup> {
  const names = raw.split(',').map((name) => name.trim()).filter(Boolean);
  const unknown = names.filter((name) => !(SCENARIO_GROUPS as readonly string[]).includes(name));
  if (names.length === 0 || unknown.length > 0) throw new Error(`--only takes a comma-separated list of ${SCENARIO_GROUPS.join(', ')}`);
  return new Set(names as ScenarioGroup[]);
}
