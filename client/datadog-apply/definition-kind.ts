/** The kinds of Datadog object apply manages, and how the operator reads them in a plan. */
export type DefinitionKind = 'pipeline' | 'rule' | 'monitor' | 'dashboard';

export const DEFINITION_KIND_LABELS: Readonly<Record<DefinitionKind, string>> = {
  pipeline: 'log pipeline',
  rule: 'detection rule',
  monitor: 'monitor',
  dashboard: 'dashboard',
};

/** A JSON object as read from a file or received from Datadog. */
export type JsonObject = Record<string, unknown>;
