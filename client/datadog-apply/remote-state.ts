/**
 * What the account holds, in the terms the plan compares: every log pipeline, detection rule and monitor (their lists
 * carry full objects), and the dashboards, whose list only has summaries: the full body is fetched only for dashboards
 * titled like one of ours, since only those are ever compared.
 */
import type { DatadogConfigApi, StoredObject } from './datadog-api';
import type { DefinitionKind, JsonObject } from './definition-kind';
import type { LocalDefinition } from './definitions';
import { carriesOwnershipMarker } from './ownership';

export interface RemoteDefinition {
  readonly kind: DefinitionKind;
  readonly id: string;
  /** `name`, or `title` for a dashboard. */
  readonly name: string;
  /** Carries the managed-by marker: apply wrote it and may change it. */
  readonly managed: boolean;
  /** As stored; only a summary for a dashboard whose title matches none of ours. */
  readonly body: JsonObject;
}

export async function readRemoteDefinitions(
  api: DatadogConfigApi,
  local: readonly LocalDefinition[]
): Promise<RemoteDefinition[]> {
  const ourDashboardTitles = new Set(local.filter((definition) => definition.kind === 'dashboard').map((definition) => definition.name));
  // One request at a time: a handful of requests, and a refused key always fails on the same one, so the message the
  // operator gets does not vary from run to run.
  const pipelines = await api.listPipelines();
  const rules = await api.listRules();
  const monitors = await api.listMonitors();
  const dashboards: StoredObject[] = [];
  for (const summary of await api.listDashboards()) {
    dashboards.push(ourDashboardTitles.has(String(summary.title)) ? await api.getDashboard(summary.id) : summary);
  }
  return [
    ...pipelines.map((pipeline) => remoteDefinition('pipeline', pipeline, pipeline.name)),
    ...rules.map((rule) => remoteDefinition('rule', rule, rule.name)),
    ...monitors.map((monitor) => remoteDefinition('monitor', monitor, monitor.name)),
    ...dashboards.map((dashboard) => remoteDefinition('dashboard', dashboard, dashboard.title)),
  ];
}

function remoteDefinition(kind: DefinitionKind, stored: StoredObject, name: unknown): RemoteDefinition {
  return { kind, id: stored.id, name: String(name), managed: carriesOwnershipMarker(kind, stored), body: stored };
}
