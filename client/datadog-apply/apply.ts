/**
 * `datadog apply`: brings the account in step with the local definitions. Everything is read and planned before the
 * first write, so a dry run shows exactly what a real run would do, and a conflict stops the run before anything is
 * changed. Writes go one at a time in plan order and each is printed as it succeeds: if one fails, the printed lines
 * say what was done, and running apply again finishes the rest.
 */
import { displayableBaseUrl, type DatadogApiConfig } from './config';
import { DatadogConfigApi, type StoredObject } from './datadog-api';
import { PROJECT_DEFINITIONS_DIR, loadLocalDefinitions, type LocalDefinition } from './definitions';
import { formatPlanLines, formatPlanSummary, formatWrite } from './format-plan';
import { countByAction, planChanges, type Plan } from './plan';
import { readRemoteDefinitions } from './remote-state';

export interface ApplyDatadogDefinitionsOptions {
  /** Where to send requests, and the keys. */
  readonly api: DatadogApiConfig;
  /**
   * Folder holding pipeline.json, rules/*.json, monitors/*.json and dashboard.json.
   * @default the project's datadog/ folder
   */
  readonly definitionsDir?: string;
  /**
   * Read and plan, print the plan, send no write.
   * @default false
   */
  readonly dryRun?: boolean;
  /**
   * Receives each line of output.
   * @default console.log
   */
  readonly print?: (line: string) => void;
}

/** Some local definition has a same-named object in the account that apply must not touch. */
export class DefinitionConflictError extends Error {
  override readonly name = 'DefinitionConflictError';
}

export async function applyDatadogDefinitions(options: ApplyDatadogDefinitionsOptions): Promise<void> {
  const print = options.print ?? console.log;
  const definitionsDir = options.definitionsDir ?? PROJECT_DEFINITIONS_DIR;
  // Local files first: a broken one stops the run before any request.
  const local = await loadLocalDefinitions(definitionsDir);
  const api = new DatadogConfigApi(options.api);
  try {
    const plan = planChanges(local, await readRemoteDefinitions(api, local));
    const mode = options.dryRun ? 'dry run, nothing will be changed' : 'applying';
    print(`Datadog definitions from ${definitionsDir} → ${displayableBaseUrl(options.api.baseUrl)} (${mode})`);
    for (const line of formatPlanLines(plan)) print(line);
    print(formatPlanSummary(plan));
    const conflicts = countByAction(plan).conflict;
    if (conflicts > 0) {
      throw new DefinitionConflictError(
        `${conflicts} definition(s) conflict with objects apply does not manage (see the plan above); nothing was changed`
      );
    }
    if (!options.dryRun) await executePlan(api, plan, print);
  } finally {
    await api.close();
  }
}

async function executePlan(api: DatadogConfigApi, plan: Plan, print: (line: string) => void): Promise<void> {
  let created = 0;
  let updated = 0;
  for (const change of plan.changes) {
    const { definition } = change;
    if (change.action === 'create') {
      const stored = await create(api, definition);
      created++;
      print(formatWrite('created', definition.kind, definition.name, stored.id));
    } else if (change.action === 'update') {
      await update(api, definition, change.remoteId);
      updated++;
      print(formatWrite('updated', definition.kind, definition.name, change.remoteId));
    }
  }
  print(`Applied: ${created} created, ${updated} updated, ${countByAction(plan).unchanged} unchanged.`);
}

function create(api: DatadogConfigApi, definition: LocalDefinition): Promise<StoredObject> {
  switch (definition.kind) {
    case 'pipeline':
      return api.createPipeline(definition.body);
    case 'rule':
      return api.createRule(definition.body);
    case 'monitor':
      return api.createMonitor(definition.body);
    case 'dashboard':
      return api.createDashboard(definition.body);
  }
}

function update(api: DatadogConfigApi, definition: LocalDefinition, id: string): Promise<StoredObject> {
  switch (definition.kind) {
    case 'pipeline':
      return api.updatePipeline(id, definition.body);
    case 'rule':
      return api.updateRule(id, definition.body);
    case 'monitor':
      return api.updateMonitor(id, definition.body);
    case 'dashboard':
      return api.updateDashboard(id, definition.body);
  }
}
