/**
 * `atlassian-audit datadog apply`, driven through its commander command against the config API stand-in over real
 * HTTP: a dry run plans without writing, a first run creates everything, a second changes nothing, an edited file
 * becomes an update of that object alone, and objects apply did not create are never touched. Key problems stop the
 * run with one line that never holds a key.
 */
import { cp, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Command, CommanderError } from 'commander';
import { UsageError } from '../../client/cli-input';
import { registerDatadogCommands } from '../../client/datadog-apply-command';
import { DefinitionConflictError } from '../../client/datadog-apply/apply';
import { datadogApiConfigFromEnv } from '../../client/datadog-apply/config';
import { DatadogAccessDeniedError } from '../../client/datadog-apply/datadog-api-errors';
import { PROJECT_DEFINITIONS_DIR } from '../../client/datadog-apply/definitions';
import { differingOwnedFields } from '../../client/datadog-apply/owned-fields';
import { MANAGED_BY_TAG } from '../../client/datadog-apply/ownership';
import { DatadogConfigStandin } from '../../dev/standins/datadog-config-standin';

const API_KEY = 'test-api-key-0123456789abcdef';
const APP_KEY = 'test-app-key-fedcba9876543210';
const RULES_PATH = '/api/v2/security_monitoring/rules';
const MONITORS_PATH = '/api/v1/monitor';

let standin: DatadogConfigStandin;
let tempDir: string;
let ruleCount: number;
let monitorCount: number;
let definitionCount: number;

const jsonFilesIn = async (folder: string) =>
  (await readdir(path.join(PROJECT_DEFINITIONS_DIR, folder))).filter((file) => file.endsWith('.json'));

beforeAll(async () => {
  ruleCount = (await jsonFilesIn('rules')).length;
  monitorCount = (await jsonFilesIn('monitors')).length;
  definitionCount = 1 + ruleCount + monitorCount + 1;
});

beforeEach(async () => {
  standin = await DatadogConfigStandin.start({ apiKey: API_KEY, applicationKey: APP_KEY });
  tempDir = await mkdtemp(path.join(os.tmpdir(), 'datadog-apply-'));
});

afterEach(async () => {
  await standin.close();
  await rm(tempDir, { recursive: true, force: true });
});

const goodEnv = (): NodeJS.ProcessEnv => ({ DD_API_KEY: API_KEY, DD_APP_KEY: APP_KEY, DD_API_BASE_URL: standin.origin });

interface CommandRun {
  lines: string[];
  error?: unknown;
}

/** Runs `atlassian-audit datadog apply <args>` as main.ts would, collecting what it prints and what it throws. */
async function runApply(args: string[], env: NodeJS.ProcessEnv = goodEnv()): Promise<CommandRun> {
  const run: CommandRun = { lines: [] };
  const program = new Command('atlassian-audit').exitOverride();
  registerDatadogCommands(program, { env, print: (line) => run.lines.push(line) });
  try {
    await program.parseAsync(['datadog', 'apply', ...args], { from: 'user' });
  } catch (error) {
    run.error = error;
  }
  return run;
}

async function applyOk(args: string[] = []): Promise<string[]> {
  const run = await runApply(args);
  if (run.error) throw run.error;
  return run.lines;
}

/** The plan's lines: one per definition (plus "left alone" ones), indented by two spaces. */
const planLines = (lines: readonly string[]) => lines.filter((line) => /^ {2}(create|update|unchanged|conflict|left alone) /.test(line));

/** A copy of the project's definitions the test may edit. */
async function editableDefinitions(): Promise<string> {
  const dir = path.join(tempDir, 'datadog');
  await cp(PROJECT_DEFINITIONS_DIR, dir, { recursive: true });
  return dir;
}

async function editJson(file: string, edit: (json: Record<string, any>) => void): Promise<void> {
  const json = JSON.parse(await readFile(file, 'utf8')) as Record<string, any>;
  edit(json);
  await writeFile(file, JSON.stringify(json, null, 2));
}

describe('datadog apply', () => {
  it('plans every definition as a create on an empty account, and a dry run sends no write', async () => {
    const lines = await applyOk(['--dry-run']);

    expect(lines[0]).toContain('dry run, nothing will be changed');
    const plan = planLines(lines);
    expect(plan).toHaveLength(definitionCount);
    expect(plan.every((line) => line.startsWith('  create '))).toBe(true);
    expect(plan[0]).toMatch(/^ {2}create +log pipeline +"Atlassian Organization Audit Logs \(self-hosted collector\)" from pipeline\.json$/);
    expect(lines).toContain(`Plan: ${definitionCount} to create, 0 to update, 0 unchanged.`);
    expect(standin.writes()).toStrictEqual([]);
    expect(standin.requests.map((request) => `${request.method} ${request.path}`).sort()).toStrictEqual([
      'GET /api/v1/dashboard',
      'GET /api/v1/logs/config/pipelines',
      `GET ${MONITORS_PATH}`,
      `GET ${RULES_PATH}`,
    ]);
  });

  it('creates every definition, each marked as managed by atlassian-audit', async () => {
    const lines = await applyOk();

    expect(standin.writes()).toHaveLength(definitionCount);
    expect(standin.writes().every((request) => request.method === 'POST' && request.status === 200)).toBe(true);
    expect(lines.filter((line) => line.startsWith('  created '))).toHaveLength(definitionCount);
    expect(lines.at(-1)).toBe(`Applied: ${definitionCount} created, 0 updated, 0 unchanged.`);

    const [pipeline] = standin.objects('pipeline');
    expect(pipeline?.name).toBe('Atlassian Organization Audit Logs (self-hosted collector)');
    expect(pipeline?.tags).toContain(MANAGED_BY_TAG);
    const rules = standin.objects('rule');
    expect(rules).toHaveLength(ruleCount);
    expect(rules.every((rule) => (rule.tags as string[]).includes(MANAGED_BY_TAG))).toBe(true);
    // What was sent is the file's content: spot-check one rule field for field.
    const local = JSON.parse(await readFile(path.join(PROJECT_DEFINITIONS_DIR, 'rules', 'atlassian-group-creation-burst.json'), 'utf8'));
    const stored = rules.find((rule) => rule.name === local.name);
    expect(stored).toMatchObject({ queries: local.queries, message: local.message, options: local.options });
    const monitors = standin.objects('monitor');
    expect(monitors).toHaveLength(monitorCount);
    expect(monitors.every((monitor) => typeof monitor.id === 'number' && (monitor.tags as string[]).includes(MANAGED_BY_TAG))).toBe(true);
    const localMonitor = JSON.parse(await readFile(path.join(PROJECT_DEFINITIONS_DIR, 'monitors', 'tail-lag.json'), 'utf8'));
    expect(monitors.find((monitor) => monitor.name === localMonitor.name)).toMatchObject({
      type: localMonitor.type,
      query: localMonitor.query,
      message: localMonitor.message,
      options: localMonitor.options,
    });
    const [dashboard] = standin.objects('dashboard');
    expect(dashboard?.title).toBe('Atlassian Organization Audit Logs');
    expect(dashboard?.description).toContain(MANAGED_BY_TAG);
  });

  it('changes nothing on a second run: no write, every definition unchanged', async () => {
    await applyOk();
    const writesAfterFirstRun = standin.writes().length;

    const dryRun = await applyOk(['--dry-run']);
    const lines = await applyOk();

    expect(standin.writes()).toHaveLength(writesAfterFirstRun);
    for (const run of [dryRun, lines]) {
      const plan = planLines(run);
      expect(plan).toHaveLength(definitionCount);
      expect(plan.every((line) => line.startsWith('  unchanged '))).toBe(true);
      expect(run).toContain(`Plan: 0 to create, 0 to update, ${definitionCount} unchanged.`);
    }
    expect(lines.at(-1)).toBe(`Applied: 0 created, 0 updated, ${definitionCount} unchanged.`);
  });

  it('turns an edited definition into an update of exactly that object, naming the changed fields', async () => {
    const dir = await editableDefinitions();
    await applyOk(['--definitions', dir]);
    const ruleFile = path.join(dir, 'rules', 'atlassian-group-creation-burst.json');
    await editJson(ruleFile, (rule) => {
      rule.cases[0].condition = 'a > 20';
      rule.options.evaluationWindow = 1800;
    });
    const rule = standin.objects('rule').find((candidate) => candidate.name === 'Atlassian groups created in a burst');
    const writesBefore = standin.writes().length;

    const dryRun = await applyOk(['--dry-run', '--definitions', dir]);
    expect(standin.writes()).toHaveLength(writesBefore);
    const updates = planLines(dryRun).filter((line) => line.startsWith('  update '));
    expect(updates).toStrictEqual([
      expect.stringMatching(
        new RegExp(`^ {2}update +detection rule +"Atlassian groups created in a burst" \\(id ${rule?.id}\\): cases\\[0\\]\\.condition, options\\.evaluationWindow$`)
      ),
    ]);
    expect(dryRun).toContain(`Plan: 0 to create, 1 to update, ${definitionCount - 1} unchanged.`);

    const lines = await applyOk(['--definitions', dir]);
    expect(standin.writes().slice(writesBefore)).toStrictEqual([{ method: 'PUT', path: `${RULES_PATH}/${rule?.id}`, status: 200 }]);
    expect(lines.at(-1)).toBe(`Applied: 0 created, 1 updated, ${definitionCount - 1} unchanged.`);
    const updated = standin.objects('rule').find((candidate) => candidate.id === rule?.id);
    expect(updated).toMatchObject({ cases: [{ condition: 'a > 20' }], options: { evaluationWindow: 1800 }, version: 2 });

    const third = await applyOk(['--definitions', dir]);
    expect(third).toContain(`Plan: 0 to create, 0 to update, ${definitionCount} unchanged.`);
  });

  it('updates an edited monitor by its integer id, and a threshold Datadog would refuse stops the run', async () => {
    const dir = await editableDefinitions();
    await applyOk(['--definitions', dir]);
    const monitorFile = path.join(dir, 'monitors', 'tail-lag.json');
    const { name } = JSON.parse(await readFile(monitorFile, 'utf8'));
    const monitor = standin.objects('monitor').find((candidate) => candidate.name === name);
    await editJson(monitorFile, (json) => {
      json.query = json.query.replace(/> 1800$/, '> 3600');
      json.options.thresholds.critical = 3600;
    });
    const writesBefore = standin.writes().length;

    const lines = await applyOk(['--definitions', dir]);

    expect(planLines(lines).filter((line) => line.startsWith('  update '))).toStrictEqual([
      `  update      monitor         "${name}" (id ${monitor?.id}): query, options.thresholds.critical`,
    ]);
    expect(standin.writes().slice(writesBefore)).toStrictEqual([{ method: 'PUT', path: `${MONITORS_PATH}/${monitor?.id}`, status: 200 }]);
    expect(standin.objects('monitor').find((candidate) => candidate.id === monitor?.id)).toMatchObject({
      query: expect.stringMatching(/> 3600$/),
      options: { thresholds: { critical: 3600, warning: 900 } },
    });

    await editJson(monitorFile, (json) => {
      json.options.thresholds.critical = 7200;
    });
    const refused = await runApply(['--definitions', dir]);
    expect((refused.error as Error).message).toBe(
      `Datadog refused PUT ${MONITORS_PATH}/${monitor?.id} (400: options.thresholds.critical: Alert threshold (7200) does not match that used in the query (3600))`
    );
  });

  it('sees a removed dashboard widget as a change, and replaces the dashboard', async () => {
    const dir = await editableDefinitions();
    await applyOk(['--definitions', dir]);
    const [dashboard] = standin.objects('dashboard');
    let widgetCount = 0;
    await editJson(path.join(dir, 'dashboard.json'), (json) => {
      json.widgets.pop();
      widgetCount = json.widgets.length;
    });
    const writesBefore = standin.writes().length;

    const lines = await applyOk(['--definitions', dir]);

    expect(planLines(lines).filter((line) => line.startsWith('  update '))).toStrictEqual([
      expect.stringMatching(/dashboard +"Atlassian Organization Audit Logs" \(id [^)]+\): widgets$/),
    ]);
    expect(standin.writes().slice(writesBefore)).toStrictEqual([{ method: 'PUT', path: `/api/v1/dashboard/${dashboard?.id}`, status: 200 }]);
    expect(standin.objects('dashboard')[0]?.widgets).toHaveLength(widgetCount);
  });

  it('reads past pages of default rules, and never touches what it did not create', async () => {
    for (let index = 0; index < 230; index++) {
      standin.seed('rule', {
        name: `Datadog default rule ${index}`,
        type: 'log_detection',
        isDefault: true,
        isEnabled: true,
        message: 'default',
        queries: [{ query: 'source:cloudtrail' }],
        cases: [{ status: 'info' }],
        options: {},
        tags: ['source:cloudtrail'],
      });
    }
    for (let index = 0; index < 120; index++) {
      standin.seed('monitor', {
        name: `Someone's monitor ${index}`,
        type: 'query alert',
        query: 'avg(last_5m):avg:system.load.1{*} > 4',
        message: 'load',
        tags: ['team:infra'],
        options: { thresholds: { critical: 4 } },
      });
    }
    standin.seed('pipeline', { name: 'Atlassian', is_read_only: true, filter: { query: 'source:atlassian' }, processors: [] });
    standin.seed('dashboard', { title: 'Someone else', layout_type: 'ordered', widgets: [] });
    const before = {
      rules: standin.objects('rule'),
      monitors: standin.objects('monitor'),
      pipelines: standin.objects('pipeline'),
      dashboards: standin.objects('dashboard'),
    };
    const pagesRead = (listPath: string) => standin.requests.filter((request) => request.method === 'GET' && request.path === listPath);

    await applyOk();
    const rulePagesRead = pagesRead(RULES_PATH).length;
    const monitorPagesRead = pagesRead(MONITORS_PATH).length;
    await applyOk();

    expect(rulePagesRead).toBe(3);
    expect(monitorPagesRead).toBe(2);
    expect(standin.writes()).toHaveLength(definitionCount);
    expect(standin.writes().every((request) => request.method === 'POST')).toBe(true);
    expect(standin.objects('rule').slice(0, 230)).toStrictEqual(before.rules);
    expect(standin.objects('monitor').slice(0, 120)).toStrictEqual(before.monitors);
    expect(standin.objects('pipeline').slice(0, 1)).toStrictEqual(before.pipelines);
    expect(standin.objects('dashboard').slice(0, 1)).toStrictEqual(before.dashboards);
  });

  it('refuses to overwrite a same-named object it did not create, before any write', async () => {
    standin.seed('rule', {
      name: 'Atlassian groups created in a burst',
      type: 'log_detection',
      isEnabled: true,
      message: 'hand-made',
      queries: [{ query: 'source:atlassian-event-logs' }],
      cases: [{ status: 'low' }],
      options: {},
      tags: [],
    });

    const run = await runApply([]);

    expect(run.error).toBeInstanceOf(DefinitionConflictError);
    const conflicts = planLines(run.lines).filter((line) => line.startsWith('  conflict '));
    expect(conflicts).toStrictEqual([
      expect.stringContaining(`"Atlassian groups created in a burst": a detection rule with this name exists`),
    ]);
    expect(conflicts[0]).toContain(`add the tag ${MANAGED_BY_TAG}`);
    expect(standin.writes()).toStrictEqual([]);
  });

  it('refuses to overwrite a same-named monitor it did not create, and takes it over once tagged', async () => {
    const { name } = JSON.parse(await readFile(path.join(PROJECT_DEFINITIONS_DIR, 'monitors', 'org-stalled.json'), 'utf8'));
    const handMade = standin.seed('monitor', {
      name,
      type: 'query alert',
      query: 'max(last_5m):max:atlassian_audit.phase{phase:stalled} by {org_id} >= 1',
      message: 'hand-made',
      tags: ['service:atlassian-audit'],
      options: { thresholds: { critical: 1 } },
    });

    const run = await runApply([]);

    expect(run.error).toBeInstanceOf(DefinitionConflictError);
    expect(planLines(run.lines).filter((line) => line.startsWith('  conflict '))).toStrictEqual([
      `  conflict    monitor         "${name}": a monitor with this name exists (id ${handMade.id}) without ${MANAGED_BY_TAG}: ` +
        `rename or delete it, or add the tag ${MANAGED_BY_TAG} to let apply manage it`,
    ]);
    expect(standin.writes()).toStrictEqual([]);

    standin.seed('monitor', { ...handMade, tags: ['service:atlassian-audit', MANAGED_BY_TAG] });
    const lines = await applyOk();

    expect(planLines(lines).filter((line) => line.startsWith('  update '))).toStrictEqual([
      expect.stringMatching(new RegExp(`^ {2}update +monitor +"${name}" \\(id ${handMade.id}\\): query, message, options\\.`)),
    ]);
    const managed = standin.objects('monitor').filter((monitor) => monitor.name === name);
    expect(managed).toMatchObject([{ id: handMade.id, message: expect.not.stringContaining('hand-made') }]);
  });

  it('reports a managed object no longer defined locally, and leaves it in place', async () => {
    const dir = await editableDefinitions();
    await applyOk(['--definitions', dir]);
    await editJson(path.join(dir, 'rules', 'atlassian-group-rename-burst.json'), (rule) => {
      rule.name = 'Atlassian groups renamed in a burst (v2)';
    });

    const lines = await applyOk(['--definitions', dir]);

    expect(planLines(lines).filter((line) => /^ {2}(create|left alone) /.test(line))).toStrictEqual([
      expect.stringMatching(/^ {2}create +detection rule +"Atlassian groups renamed in a burst \(v2\)"/),
      expect.stringMatching(/^ {2}left alone +detection rule +"Atlassian groups renamed in a burst" \(id [^)]+\): managed by atlassian-audit/),
    ]);
    expect(standin.objects('rule')).toHaveLength(ruleCount + 1);
    expect(standin.requests.some((request) => request.method === 'DELETE')).toBe(false);
  });
});

describe('datadog apply configuration', () => {
  it.each([
    ['no application key', { DD_API_KEY: API_KEY }, 'DD_APP_KEY is not set'],
    ['an empty application key', { DD_API_KEY: API_KEY, DD_APP_KEY: '' }, 'DD_APP_KEY is empty'],
    ['no API key', { DD_APP_KEY: APP_KEY }, 'DD_API_KEY is not set'],
  ])('stops on %s with one line naming the variable, before any request', async (_case, keys, expected) => {
    const run = await runApply(['--dry-run'], { ...keys, DD_API_BASE_URL: standin.origin });

    expect(run.error).toBeInstanceOf(UsageError);
    const message = (run.error as Error).message;
    expect(message).toContain(expected);
    expect(message).not.toContain('\n');
    expect(message).not.toContain(API_KEY);
    expect(message).not.toContain(APP_KEY);
    expect(standin.requests).toStrictEqual([]);
  });

  it('accepts the application key as DD_APPLICATION_KEY', async () => {
    const run = await runApply(['--dry-run'], { DD_API_KEY: API_KEY, DD_APPLICATION_KEY: APP_KEY, DD_API_BASE_URL: standin.origin });

    expect(run.error).toBeUndefined();
    expect(run.lines).toContain(`Plan: ${definitionCount} to create, 0 to update, 0 unchanged.`);
  });

  it('explains a refused key (403) without printing any key', async () => {
    const wrongAppKey = 'wrong-app-key-55555555555555';
    const run = await runApply([], { DD_API_KEY: API_KEY, DD_APP_KEY: wrongAppKey, DD_API_BASE_URL: standin.origin });

    expect(run.error).toBeInstanceOf(DatadogAccessDeniedError);
    const message = (run.error as Error).message;
    expect(message).toMatch(
      /^Datadog refused GET \/api\/v1\/logs\/config\/pipelines \(403: Forbidden\): check that DD_API_KEY and DD_APP_KEY are valid keys/
    );
    expect(message).toContain('the application key has logs_write_pipelines');
    expect(message).not.toContain('\n');
    for (const key of [wrongAppKey, API_KEY, APP_KEY]) {
      expect(message).not.toContain(key);
      expect(run.lines.join('\n')).not.toContain(key);
    }
    expect(standin.writes()).toStrictEqual([]);
  });

  it('builds https://api.<site> from DD_SITE, lets DD_API_BASE_URL override it, and refuses a URL as site', () => {
    const keys = { DD_API_KEY: 'k', DD_APP_KEY: 'a' };
    expect(datadogApiConfigFromEnv(keys).baseUrl).toBe('https://api.datadoghq.com');
    expect(datadogApiConfigFromEnv({ ...keys, DD_SITE: 'datadoghq.eu' }).baseUrl).toBe('https://api.datadoghq.eu');
    expect(datadogApiConfigFromEnv({ ...keys, DD_SITE: 'us5.datadoghq.com' }).baseUrl).toBe('https://api.us5.datadoghq.com');
    const overridden = { ...keys, DD_SITE: 'datadoghq.eu', DD_API_BASE_URL: 'http://127.0.0.1:9000/' };
    expect(datadogApiConfigFromEnv(overridden).baseUrl).toBe('http://127.0.0.1:9000');
    expect(() => datadogApiConfigFromEnv({ ...keys, DD_SITE: 'https://app.datadoghq.com' })).toThrow(UsageError);
    expect(() => datadogApiConfigFromEnv({ ...keys, DD_SITE: 'app.datadoghq.eu' })).toThrow(/DD_SITE must be a Datadog site/);
    expect(() => datadogApiConfigFromEnv({ ...keys, DD_API_BASE_URL: 'ftp://proxy' })).toThrow(/DD_API_BASE_URL must be/);
  });

  it('--help says an application key is needed beside the API key, with its permissions', async () => {
    let help = '';
    const program = new Command('atlassian-audit').exitOverride().configureOutput({ writeOut: (text) => (help += text) });
    registerDatadogCommands(program);

    await expect(program.parseAsync(['datadog', 'apply', '--help'], { from: 'user' })).rejects.toBeInstanceOf(CommanderError);

    expect(help).toContain('--dry-run');
    expect(help).toMatch(/DD_APP_KEY +Datadog application key, needed beside the API key/);
    for (const permission of ['logs_write_pipelines', 'security_monitoring_rules_write', 'monitors_write', 'dashboards_write']) {
      expect(help).toContain(permission);
    }
  });
});

describe('comparing owned fields', () => {
  it('ignores fields the server added at any depth, but not changed values or changed array lengths', () => {
    const desired = { name: 'r', options: { keepAlive: 3600 }, queries: [{ query: 'q' }] };
    const stored = { id: 'x', name: 'r', version: 3, options: { keepAlive: 3600, extra: false }, queries: [{ query: 'q', index: '' }] };
    expect(differingOwnedFields(desired, stored)).toStrictEqual([]);
    expect(differingOwnedFields(desired, { ...stored, options: { keepAlive: 7200 } })).toStrictEqual(['options.keepAlive']);
    expect(differingOwnedFields(desired, { ...stored, queries: [] })).toStrictEqual(['queries']);
    expect(differingOwnedFields(desired, { id: 'x' })).toStrictEqual(['name', 'options', 'queries']);
  });
});
