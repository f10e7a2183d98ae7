/**
 * The importable Datadog definitions in datadog/ (log pipeline, Cloud SIEM rules, dashboard) are checked three ways:
 * their shape against Datadog's documented API formats (shared/reference/datadog-logs.md §4); every attribute, tag
 * and facet they name against what `mapPolledEvent` actually produces on the golden examples; and, for each of
 * Datadog's own Atlassian detection rules, that one of ours fires on the event it is about. A rule that searches an
 * attribute the collector never sends would silently never fire: here it fails the suite instead. (The monitors are
 * checked against the worker's metrics in datadog-monitors.test.ts.)
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { AtlassianEvent } from '../../activities/atlassian-schema';
import type { DatadogLog } from '../../activities/datadog-log';
import { mapPolledEvent } from '../../activities/map-event';
import { goldenCases, type GoldenCase } from '../support/map-golden-cases';

const DATADOG_DIR = path.join(__dirname, '..', '..', 'datadog');
const RULES_DIR = path.join(DATADOG_DIR, 'rules');
const readJson = (file: string): unknown => JSON.parse(readFileSync(file, 'utf8'));

// ---- Shapes (reference §4.1, §4.3, §4.4) ----

const oneOf = (values: readonly number[]) => z.number().refine((value) => values.includes(value), `one of ${values}`);
const EVALUATION_SECONDS = [0, 60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600];
const evaluationSeconds = oneOf(EVALUATION_SECONDS);
const maxSignalSeconds = oneOf([...EVALUATION_SECONDS, 43200, 86400]);

const ruleQuerySchema = z.strictObject({
  name: z.string().regex(/^[a-z_][a-z0-9_]*$/),
  query: z.string().startsWith('source:atlassian-event-logs '),
  aggregation: z.enum(['count', 'cardinality', 'sum', 'max', 'new_value', 'geo_data']),
  groupByFields: z.array(z.string()),
  distinctFields: z.array(z.string()),
  metrics: z.array(z.string()).max(5).optional(),
  dataSource: z.literal('logs'),
  hasOptionalGroupByFields: z.boolean(),
});

const ruleSchema = z
  .strictObject({
    name: z.string().min(1),
    type: z.literal('log_detection'),
    isEnabled: z.boolean(),
    message: z.string().min(1),
    tags: z.array(z.string()).refine((tags) => tags.includes('source:atlassian-event-logs')),
    queries: z.array(ruleQuerySchema).min(1),
    cases: z
      .array(
        z.strictObject({
          name: z.string(),
          status: z.enum(['info', 'low', 'medium', 'high', 'critical']),
          condition: z.string().optional(),
          notifications: z.array(z.string()),
        })
      )
      .min(1),
    options: z.strictObject({
      detectionMethod: z.enum(['threshold', 'new_value']),
      evaluationWindow: evaluationSeconds.optional(),
      keepAlive: evaluationSeconds,
      maxSignalDuration: maxSignalSeconds,
      newValueOptions: z
        .strictObject({
          learningMethod: z.enum(['duration', 'threshold']),
          learningDuration: oneOf([0, 1, 7]),
          forgetAfter: oneOf([1, 2, 7, 14, 21, 28]),
          learningThreshold: oneOf([0, 1]),
        })
        .optional(),
    }),
    filters: z.array(z.strictObject({ action: z.enum(['require', 'suppress']), query: z.string() })),
    hasExtendedTitle: z.boolean(),
  })
  .superRefine((rule, issues) => {
    const { options } = rule;
    // Server-enforced: evaluationWindow ≤ keepAlive ≤ maxSignalDuration.
    if ((options.evaluationWindow ?? 0) > options.keepAlive || options.keepAlive > options.maxSignalDuration) {
      issues.addIssue({ code: 'custom', message: 'needs evaluationWindow ≤ keepAlive ≤ maxSignalDuration' });
    }
    const queryNames = new Set(rule.queries.map((query) => query.name));
    if (options.detectionMethod === 'new_value') {
      const [query] = rule.queries;
      const valid = rule.queries.length === 1 && query?.aggregation === 'new_value' && (query.metrics?.length ?? 0) > 0;
      if (!valid || !options.newValueOptions) {
        const message = 'a new_value rule has one new_value query with metrics, and newValueOptions';
        issues.addIssue({ code: 'custom', message });
      }
      return;
    }
    for (const ruleCase of rule.cases) {
      const names = ruleCase.condition?.match(/[A-Za-z_]\w*/g) ?? [];
      if (names.length === 0 || names.some((name) => !queryNames.has(name))) {
        issues.addIssue({ code: 'custom', message: `case condition "${ruleCase.condition}" must use the query names` });
      }
    }
  });

const processorSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('attribute-remapper'),
    name: z.string(),
    is_enabled: z.boolean(),
    sources: z.array(z.string()).min(1),
    source_type: z.enum(['attribute', 'tag']),
    target: z.string(),
    target_type: z.enum(['attribute', 'tag']),
    target_format: z.enum(['auto', 'string', 'integer', 'double']).optional(),
    preserve_source: z.boolean(),
    override_on_conflict: z.boolean(),
  }),
]);

const pipelineSchema = z.strictObject({
  name: z.string().min(1),
  is_enabled: z.boolean(),
  filter: z.strictObject({ query: z.literal('source:atlassian-event-logs') }),
  processors: z.array(processorSchema).min(1).max(20),
});

const logsQuerySchema = z.strictObject({
  data_source: z.literal('logs'),
  name: z.string(),
  search: z.strictObject({ query: z.string() }),
  indexes: z.array(z.string()),
  compute: z.strictObject({ aggregation: z.literal('count') }),
  group_by: z.array(
    z.strictObject({
      facet: z.string(),
      limit: z.number().int().positive(),
      sort: z.strictObject({ aggregation: z.literal('count'), order: z.enum(['asc', 'desc']) }),
    })
  ),
});

const formulaRequestSchema = z.looseObject({
  response_format: z.enum(['timeseries', 'scalar']),
  queries: z.array(logsQuerySchema).min(1),
  formulas: z.array(z.looseObject({ formula: z.string() })).min(1),
});

const formulaWidget = <Type extends string>(type: Type) =>
  z.looseObject({ type: z.literal(type), title: z.string(), requests: z.array(formulaRequestSchema).min(1) });

const widgetDefinitionSchema = z.discriminatedUnion('type', [
  z.looseObject({ type: z.literal('note'), content: z.string() }),
  formulaWidget('query_value'),
  formulaWidget('timeseries'),
  formulaWidget('toplist'),
  z.looseObject({
    type: z.literal('list_stream'),
    title: z.string(),
    requests: z
      .array(
        z.strictObject({
          response_format: z.literal('event_list'),
          query: z.strictObject({
            data_source: z.literal('logs_stream'),
            query_string: z.string(),
            indexes: z.array(z.string()),
            storage: z.literal('hot'),
          }),
          columns: z.array(
            z.strictObject({
              field: z.enum(['status_line', 'timestamp', 'host', 'service', 'content']),
              width: z.enum(['auto', 'compact', 'full']),
            })
          ),
        })
      )
      .length(1),
  }),
]);

const dashboardSchema = z.strictObject({
  title: z.string().min(1),
  description: z.string().optional(),
  layout_type: z.enum(['ordered', 'free']),
  reflow_type: z.enum(['auto', 'fixed']).optional(),
  template_variables: z.array(
    z.strictObject({ name: z.string(), prefix: z.string(), available_values: z.array(z.string()), default: z.string() })
  ),
  widgets: z.array(z.strictObject({ definition: widgetDefinitionSchema })).min(1),
});

// ---- What the map produces ----

/** Log fields that Datadog turns into reserved attributes, queried without `@` under these names. */
const RESERVED_FIELD_NAMES: Readonly<Record<string, string>> = {
  ddsource: 'source',
  service: 'service',
  status: 'status',
  hostname: 'host',
  message: 'message',
  timestamp: 'timestamp',
  ddtags: 'tags',
};
const RESERVED_ATTRIBUTES = new Set(['source', 'service', 'status', 'host', 'message']);

function producedVocabulary(logs: readonly DatadogLog[]) {
  const attributes = new Set<string>();
  const visit = (value: unknown, prefix: string): void => {
    if (Array.isArray(value)) return value.forEach((element) => visit(element, prefix));
    if (value === null || typeof value !== 'object') return;
    for (const [key, child] of Object.entries(value)) {
      const dotted = prefix ? `${prefix}.${key}` : key;
      if (!(prefix === '' && key in RESERVED_FIELD_NAMES)) attributes.add(dotted);
      visit(child, dotted);
    }
  };
  logs.forEach((log) => visit(log, ''));
  const tagKeys = new Set(logs.flatMap((log) => log.ddtags.split(',').map((tag) => tag.split(':')[0] ?? '')));
  return { attributes, tagKeys };
}

const golden = goldenCases();
const goldenLogs = new Map(golden.map((each) => [each.name, mapPolledEvent(each.polled, each.context)]));
const produced = producedVocabulary([...goldenLogs.values()]);

/**
 * Attributes Datadog adds to a log after intake, each from one the collector sends. Cloud SIEM's threat intelligence
 * enrichment marks a log whose client IP matches an indicator; Datadog's own rules search it as
 * `@threat_intel.results.category:tor` (the changelogs of its default rules, docs.datadoghq.com/security/default_rules).
 */
const DATADOG_ENRICHMENTS: Readonly<Record<string, string>> = {
  'threat_intel.results.category': 'network.client.ip',
};

const isKnownAttribute = (attribute: string): boolean =>
  produced.attributes.has(attribute) || produced.attributes.has(DATADOG_ENRICHMENTS[attribute] ?? '');

// ---- Reading names out of queries, fields and messages ----

/** `@attr` and bare `key:` terms of a Datadog search query; quoted values are skipped. */
function termsOfQuery(query: string): { attributes: string[]; keys: string[]; variables: string[] } {
  const unquoted = query.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  const at = (pattern: RegExp) => [...unquoted.matchAll(pattern)].map((match) => match[1] ?? '');
  return {
    attributes: at(/(?:^|[\s(])-?@([\w.-]+):/g),
    keys: at(/(?:^|[\s(])-?([A-Za-z_][\w.-]*):/g),
    variables: at(/(?:^|[\s(])\$(\w+)/g),
  };
}

/** `@attr` mentions in markdown (`{{@usr.email}}`, `` `@atlassian.event` ``). */
function attributesInText(text: string): string[] {
  return [...text.matchAll(/(?:^|[\s`{(])@([A-Za-z][\w.]*\w)/g)].map((match) => match[1] ?? '');
}

/**
 * A group-by field or facet: `@attr` must be produced (or added by Datadog from one we produce); a bare name must be
 * a reserved attribute or a tag we send.
 */
function unknownField(field: string): string | undefined {
  if (field.startsWith('@')) return isKnownAttribute(field.slice(1)) ? undefined : field;
  return RESERVED_ATTRIBUTES.has(field) || produced.tagKeys.has(field) ? undefined : field;
}

function unknownInQuery(query: string, templateVariables: ReadonlySet<string> = new Set()): string[] {
  const { attributes, keys, variables } = termsOfQuery(query);
  return [
    ...attributes.flatMap((attribute) => unknownField(`@${attribute}`) ?? []),
    ...keys.flatMap((key) => unknownField(key) ?? []),
    ...variables.filter((variable) => !templateVariables.has(variable)).map((variable) => `$${variable}`),
  ];
}

// ---- The definitions ----

const ruleFiles = readdirSync(RULES_DIR).filter((file) => file.endsWith('.json')).sort();
const rules = ruleFiles.map((file) => [file, ruleSchema.parse(readJson(path.join(RULES_DIR, file)))] as const);
const pipeline = pipelineSchema.parse(readJson(path.join(DATADOG_DIR, 'pipeline.json')));
const dashboard = dashboardSchema.parse(readJson(path.join(DATADOG_DIR, 'dashboard.json')));

describe('the vocabulary checker', () => {
  it('knows what the map produces', () => {
    for (const attribute of ['usr.email', 'evt.name', 'network.client.geoip.country.name', 'atlassian.event_id']) {
      expect(produced.attributes.has(attribute)).toBe(true);
    }
    const tagKeys = [...produced.tagKeys].sort();
    expect(tagKeys).toStrictEqual(['collection_origin', 'evt_category', 'org_id', 'product', 'site']);
  });

  it('flags attributes, tags and variables we do not produce', () => {
    expect(
      unknownInQuery('source:atlassian-event-logs @usr.phone:1 -@evt.name:x team:a $env @usr.email:"a b:c"', new Set())
    ).toStrictEqual(['@usr.phone', 'team', '$env']);
    expect(unknownField('@atlassian.context')).toBe('@atlassian.context');
    expect(unknownField('@threat_intel.results.category')).toBeUndefined();
    expect(unknownField('@threat_intel.results.intention')).toBe('@threat_intel.results.intention');
    const mentioned = attributesInText('Hi {{@usr.email}}, see `@atlassian.nothing`.');
    expect(mentioned).toStrictEqual(['usr.email', 'atlassian.nothing']);
  });
});

describe('Cloud SIEM detection rules', () => {
  it('has at least ten, with distinct names', () => {
    expect(rules.length).toBeGreaterThanOrEqual(10);
    expect(new Set(rules.map(([, rule]) => rule.name)).size).toBe(rules.length);
  });

  it.each(rules)('%s only uses attributes the collector sends', (_file, rule) => {
    const unknown = [
      ...rule.queries.flatMap((query) => {
        const fields = [...query.groupByFields, ...query.distinctFields, ...(query.metrics ?? [])];
        return [...unknownInQuery(query.query), ...fields.flatMap((field) => unknownField(field) ?? [])];
      }),
      ...rule.filters.flatMap((filter) => unknownInQuery(filter.query)),
      ...attributesInText(rule.message).flatMap((attribute) => unknownField(`@${attribute}`) ?? []),
    ];
    expect(unknown).toStrictEqual([]);
  });
});

// ---- Datadog's own Atlassian rules ----

/** Whether a log matches a search query of the form the rules use: `key:value` terms, all required; `-` negates. */
function matchesQuery(query: string, log: Record<string, unknown>): boolean {
  const terms = [...query.matchAll(/(-?)(@?)([\w.-]+):(\([^)]*\)|"(?:[^"\\]|\\.)*"|\S+)/g)];
  if (terms.map(([term]) => term).join(' ') !== query.trim().replace(/\s+/g, ' ')) throw new Error(`cannot evaluate: ${query}`);
  return terms.every(([, negated, at, key, pattern]) => {
    const values = at === '@' ? valuesAt(log, key!).filter((value) => typeof value !== 'object').map(String) : tagValues(log, key!);
    const found = values.some((value) => valueMatches(pattern!, value));
    return negated === '-' ? !found : found;
  });
}

/** What a log holds at a dotted attribute path, looking into every element of the arrays on the way. */
function valuesAt(log: Record<string, unknown>, attribute: string): unknown[] {
  const elements = (values: unknown[]) => values.flatMap((value) => (Array.isArray(value) ? value : [value]));
  let values: unknown[] = [log];
  for (const key of attribute.split('.')) {
    values = elements(values).flatMap((value) =>
      value !== null && typeof value === 'object' && key in value ? [(value as Record<string, unknown>)[key]] : []
    );
  }
  return elements(values);
}

/** A tag's values; `source` is the reserved attribute `ddsource` becomes. */
function tagValues(log: Record<string, unknown>, key: string): string[] {
  if (key === 'source') return [String(log.ddsource)];
  return String(log.ddtags).split(',').flatMap((tag) => (tag.startsWith(`${key}:`) ? [tag.slice(key.length + 1)] : []));
}

/** Attribute values match case-sensitively, as in Datadog; `*` is a wildcard, `(a OR b)` a choice. */
function valueMatches(pattern: string, value: string): boolean {
  if (pattern.startsWith('(')) return pattern.slice(1, -1).split(/\s+OR\s+/).some((choice) => valueMatches(choice, value));
  if (pattern.startsWith('"')) return JSON.parse(pattern) === value;
  const escaped = pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${escaped.join('.*')}$`).test(value);
}

/** A golden example, changed before it is mapped: an event the fixtures do not hold. */
function mappedVariant(name: string, change: (event: AtlassianEvent) => void): DatadogLog {
  const { polled, context } = golden.find((each) => each.name === name) as GoldenCase;
  if (polled.kind !== 'event') throw new Error(`${name} is not a well-formed event`);
  const event = structuredClone(polled.event);
  change(event);
  return mapPolledEvent({ ...polled, event }, context);
}

const goldenLog = (name: string): DatadogLog => goldenLogs.get(name) ?? assert.fail(`no golden example ${name}`);

const renameGroup = (name: string) => (event: AtlassianEvent) => {
  for (const entity of event.attributes.context ?? []) if (entity.type === 'groups') entity.attributes = { name, groupName: name };
};

/**
 * Datadog's built-in Cloud SIEM rules for this source (names as docs.datadoghq.com/security/default_rules lists them,
 * reference §4.2 and its 2026-12 addendum; their queries are not public), each with the rule of ours that stands in
 * for it, an event it must fire on and a close one it must not. Datadog's rules render `{{@usr.email}}`; ours carry
 * the same standard attributes.
 */
const DATADOG_ATLASSIAN_RULES: readonly (readonly [datadogRule: string, ourRule: string, firesOn: DatadogLog, quietOn: DatadogLog])[] = [
  [
    // The reference's "administrator login impersonation" (slug atlassian-organization-admin-login-impersonation).
    'Atlassian administrator impersonated user',
    'atlassian-admin-login-impersonation.json',
    goldenLog('user-logged-in-as-user'),
    goldenLog('user-added-to-group'),
  ],
  // Datadog's rule covers both ends of an admin API key's life; ours are one rule each.
  ['Atlassian administrative API token activity observed', 'atlassian-api-token-created.json', goldenLog('api-token-created'), goldenLog('api-token-revoked')],
  ['Atlassian administrative API token activity observed', 'atlassian-api-token-revoked.json', goldenLog('api-token-revoked'), goldenLog('api-token-created')],
  [
    'Atlassian user invited to organization as an organization administrator',
    'atlassian-org-admin-granted.json',
    // Atlassian's catalogue names the role grant `added_org_admin` ("Added user as organization admin").
    mappedVariant('user-invited', (event) => {
      event.attributes.action = 'added_org_admin';
      delete event.message;
    }),
    goldenLog('user-invited'),
  ],
  [
    'Atlassian user added to administrative group',
    'atlassian-user-added-to-privileged-group.json',
    goldenLog('user-added-to-group'),
    mappedVariant('user-added-to-group', renameGroup('sre-oncall')),
  ],
  [
    // The group of organization admins; Datadog's rule points to Atlassian's default groups.
    'Atlassian user added to organization administrative group',
    'atlassian-user-added-to-privileged-group.json',
    mappedVariant('user-added-to-group', renameGroup('org-admins')),
    mappedVariant('user-added-to-group', renameGroup('all-staff')),
  ],
  [
    'Atlassian Tor client activity detected',
    'atlassian-tor-exit-node-activity.json',
    // The collector sends no Tor signal of its own: Datadog's enrichment adds it from `network.client.ip`.
    { ...goldenLog('group-created'), threat_intel: { indicators_matched: ['203.0.113.24'], results: [{ category: 'tor' }] } },
    goldenLog('group-created'),
  ],
];

describe("Datadog's own Atlassian detection rules", () => {
  const ours = new Map(rules);

  it('each have a counterpart of ours under another name (apply finds rules by name, beside Datadog\'s)', () => {
    expect(DATADOG_ATLASSIAN_RULES.filter(([, file]) => !ours.has(file)).map(([, file]) => file)).toStrictEqual([]);
    const datadogNames = new Set(DATADOG_ATLASSIAN_RULES.map(([name]) => name.toLowerCase()));
    expect(rules.filter(([, rule]) => datadogNames.has(rule.name.toLowerCase())).map(([file]) => file)).toStrictEqual([]);
  });

  it.each(DATADOG_ATLASSIAN_RULES)('%s: %s fires on its event and not on the close one', (_datadogRule, file, firesOn, quietOn) => {
    const rule = ours.get(file)!;
    expect(rule.queries.some((query) => matchesQuery(query.query, firesOn))).toBe(true);
    expect(rule.queries.some((query) => matchesQuery(query.query, quietOn))).toBe(false);
    // A log without a group-by value is dropped by the rule unless the group-by is optional; a missing message
    // attribute renders empty.
    const needed = [
      ...rule.queries.flatMap((query) => (query.hasOptionalGroupByFields ? [] : query.groupByFields.map((field) => field.slice(1)))),
      ...attributesInText(rule.message),
    ];
    expect(needed.filter((attribute) => valuesAt(firesOn, attribute).length === 0)).toStrictEqual([]);
  });

  it('the query evaluator reads terms, wildcards, choices, negations and tags as Datadog does', () => {
    const log = goldenLog('user-added-to-group');
    expect(matchesQuery('source:atlassian-event-logs @atlassian.target_group.name:(*admin* OR *owner*)', log)).toBe(true);
    expect(matchesQuery('source:atlassian-event-logs @atlassian.target_group.name:*Admin*', log)).toBe(false);
    expect(matchesQuery('source:atlassian-event-logs -@evt.category:other @usr.email:* org_id:b5f3c2d1-*', log)).toBe(true);
    expect(matchesQuery('source:atlassian-event-logs @usr.phone:*', log)).toBe(false);
    expect(matchesQuery('source:atlassian-event-logs @atlassian.event.attributes.context.type:groups', log)).toBe(true);
    expect(() => matchesQuery('source:atlassian-event-logs admin', log)).toThrow('cannot evaluate');
  });
});

describe('log pipeline', () => {
  it('remaps only attributes the collector sends, onto standard attributes, never overriding them', () => {
    const standardTargets = new Set(['usr.id', 'usr.name', 'usr.email', 'network.client.ip', 'evt.name']);
    for (const processor of pipeline.processors) {
      expect(processor.sources.filter((source) => !produced.attributes.has(source))).toStrictEqual([]);
      expect(standardTargets.has(processor.target)).toBe(true);
      expect(processor.override_on_conflict).toBe(false);
    }
  });
});

describe('dashboard', () => {
  const templateVariables = new Set(dashboard.template_variables.map((variable) => variable.name));
  const definitions = dashboard.widgets.map((widget) => widget.definition);

  it('filters by tags the collector sends', () => {
    expect(dashboard.template_variables.flatMap((variable) => unknownField(variable.prefix) ?? [])).toStrictEqual([]);
  });

  it.each(definitions.map((definition, index) => [`${index}: ${definition.type}`, definition] as const))(
    'widget %s only uses attributes the collector sends',
    (_label, definition) => {
      const unknown =
        definition.type === 'note'
          ? attributesInText(definition.content).flatMap((attribute) => unknownField(`@${attribute}`) ?? [])
          : definition.type === 'list_stream'
            ? definition.requests.flatMap((request) => unknownInQuery(request.query.query_string, templateVariables))
            : definition.requests.flatMap((request) =>
                request.queries.flatMap((query) => [
                  ...unknownInQuery(query.search.query, templateVariables),
                  ...query.group_by.flatMap((groupBy) => unknownField(groupBy.facet) ?? []),
                ])
              );
      expect(unknown).toStrictEqual([]);
    }
  );
});
