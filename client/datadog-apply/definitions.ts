/**
 * The desired state: the project's Datadog definitions read from a definitions folder (pipeline.json, rules/*.json,
 * monitors/*.json, dashboard.json), checked just enough for apply to rely on them, and marked as ours. Their full
 * shape is checked by test/unit/datadog-definitions.test.ts and test/unit/datadog-monitors.test.ts; the check here is
 * for the operator who edited a file by hand, so that a broken file is refused with its name before anything is sent
 * to Datadog.
 */
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { DEFINITION_KIND_LABELS, type DefinitionKind, type JsonObject } from './definition-kind';
import { withOwnershipMarker } from './ownership';

/** The datadog/ folder at the project root. */
export const PROJECT_DEFINITIONS_DIR = path.resolve(__dirname, '..', '..', 'datadog');

export interface LocalDefinition {
  readonly kind: DefinitionKind;
  /** The `name` (a dashboard's `title`): how the object is found again in the account. */
  readonly name: string;
  /** The file it came from, relative to the definitions folder. */
  readonly file: string;
  /** What is sent to Datadog: the file's content plus the ownership marker. */
  readonly body: JsonObject;
}

export class InvalidDefinitionError extends Error {
  override readonly name = 'InvalidDefinitionError';
}

// Only what apply relies on, and what Datadog requires on create, so a gap shows up here and not as a 400.
const pipelineSchema = z.looseObject({
  name: z.string().min(1),
  filter: z.looseObject({ query: z.string() }),
  processors: z.array(z.looseObject({ type: z.string() })),
  tags: z.array(z.string()).optional(),
}).transform((body) => ({ name: body.name, body }));

const ruleSchema = z.looseObject({
  name: z.string().min(1),
  type: z.string(),
  isEnabled: z.boolean(),
  message: z.string(),
  queries: z.array(z.looseObject({ query: z.string() })).min(1),
  cases: z.array(z.looseObject({ status: z.string() })).min(1),
  options: z.looseObject({}),
  tags: z.array(z.string()).optional(),
}).transform((body) => ({ name: body.name, body }));

const monitorSchema = z.looseObject({
  name: z.string().min(1),
  type: z.string(),
  query: z.string().min(1),
  message: z.string(),
  options: z.looseObject({}).optional(),
  tags: z.array(z.string()).optional(),
}).transform((body) => ({ name: body.name, body }));

const dashboardSchema = z.looseObject({
  title: z.string().min(1),
  description: z.string().optional(),
  layout_type: z.enum(['ordered', 'free']),
  widgets: z.array(z.looseObject({ definition: z.looseObject({ type: z.string() }) })).min(1),
}).transform((body) => ({ name: body.title, body }));

/** Each kind's check, giving the name the object is found again by along with the body. */
const SCHEMAS: Readonly<Record<DefinitionKind, z.ZodType<{ name: string; body: JsonObject }>>> = {
  pipeline: pipelineSchema,
  rule: ruleSchema,
  monitor: monitorSchema,
  dashboard: dashboardSchema,
};

/** The kinds kept one file per object in a folder of their own. */
const FOLDER_OF: Readonly<Record<'rule' | 'monitor', string>> = { rule: 'rules', monitor: 'monitors' };

/**
 * Pipeline first, then the rules and the monitors, each in file-name order, then the dashboard: the order of the plan
 * and of the writes.
 */
export async function loadLocalDefinitions(definitionsDir: string): Promise<LocalDefinition[]> {
  const definitions = [
    await loadDefinition(definitionsDir, 'pipeline', 'pipeline.json'),
    ...(await loadFolder(definitionsDir, 'rule')),
    ...(await loadFolder(definitionsDir, 'monitor')),
    await loadDefinition(definitionsDir, 'dashboard', 'dashboard.json'),
  ];
  assertDistinctNames(definitions);
  return definitions;
}

async function loadFolder(definitionsDir: string, kind: keyof typeof FOLDER_OF): Promise<LocalDefinition[]> {
  const folder = FOLDER_OF[kind];
  let entries: string[];
  try {
    entries = await readdir(path.join(definitionsDir, folder));
  } catch (error) {
    throw new InvalidDefinitionError(`cannot list ${path.join(definitionsDir, folder)}: ${describeFsError(error)}`);
  }
  const files = entries
    .filter((entry) => entry.endsWith('.json'))
    .sort()
    .map((entry) => path.join(folder, entry));
  return Promise.all(files.map((file) => loadDefinition(definitionsDir, kind, file)));
}

async function loadDefinition(definitionsDir: string, kind: DefinitionKind, file: string): Promise<LocalDefinition> {
  const fullPath = path.join(definitionsDir, file);
  let text: string;
  try {
    text = await readFile(fullPath, 'utf8');
  } catch (error) {
    throw new InvalidDefinitionError(`cannot read ${fullPath}: ${describeFsError(error)}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new InvalidDefinitionError(`${fullPath} is not valid JSON: ${(error as Error).message}`);
  }
  const parsed = SCHEMAS[kind].safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.length > 0 ? ` at ${issue.path.join('.')}` : '';
    throw new InvalidDefinitionError(`${fullPath}${where}: ${issue.message}`);
  }
  return { kind, name: parsed.data.name, file, body: withOwnershipMarker(kind, parsed.data.body) };
}

/** Objects are found again by kind and name, so two files with one name would fight over the same object. */
function assertDistinctNames(definitions: readonly LocalDefinition[]): void {
  const fileByKey = new Map<string, string>();
  for (const definition of definitions) {
    const key = `${definition.kind}\n${definition.name}`;
    const earlier = fileByKey.get(key);
    if (earlier !== undefined) {
      const label = DEFINITION_KIND_LABELS[definition.kind];
      throw new InvalidDefinitionError(`${earlier} and ${definition.file} both define the ${label} "${definition.name}"`);
    }
    fileByKey.set(key, definition.file);
  }
}

function describeFsError(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? (error as Error).message;
}
