/**
 * Health in Datadog: the Agent's OpenMetrics check (datadog/agent/conf.d/openmetrics.d/conf.yaml) and the monitors
 * in datadog/monitors/ are checked against what the worker really exports. Metric names come from the code's
 * constants (WorkflowMetric, ActivityMetric); each metric's type, tags and tag values from running the code's own
 * record functions on a recording meter. A monitor on a metric, tag or phase that never reaches Datadog would stay
 * silent forever: here it fails the suite instead.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Context } from '@temporalio/activity';
import type { MetricMeter, MetricTags } from '@temporalio/common';
import { metricMeter } from '@temporalio/workflow';
import { z } from 'zod';
import { ActivityMetric, recordAtlassianRequest, recordDatadogRequest } from '../../activities/activity-metrics';
import { AuditPhase } from '../../shared/phase';
import { DEFAULT_METRICS_ADDRESS } from '../../worker/metrics';
import {
  WorkflowMetric,
  recordCursorRecovery,
  recordDeadLettered,
  recordPageLost,
  recordPagesDelivered,
  recordPhaseAndLag,
  recordRateLimited,
} from '../../workflows/workflow-metrics';

// js-yaml comes with jest (through babel-plugin-istanbul) and ships no types; `load` is all this test needs.
const { load: loadYaml } = require('js-yaml') as { load: (text: string) => unknown };

const DATADOG_DIR = path.join(__dirname, '..', '..', 'datadog');
const AGENT_CONFIG_FILE = path.join(DATADOG_DIR, 'agent', 'conf.d', 'openmetrics.d', 'conf.yaml');
const MONITORS_DIR = path.join(DATADOG_DIR, 'monitors');

// ---- What the worker exports ----

type InstrumentKind = 'counter' | 'gauge' | 'histogram';

interface ExportedMetric {
  readonly kind: InstrumentKind;
  /** Every tag key recorded on the metric, with the values seen. */
  readonly labels: Map<string, Set<string>>;
}

/**
 * Tags the worker's meters add to every metric of the project (seen on `/metrics`; test/workflow/demo.test.ts reads
 * them live): the workflow meter adds the workflow type, the activity context's meter the activity type.
 */
const SDK_LABELS = {
  workflow: ['namespace', 'taskQueue', 'workflowType'],
  activity: ['namespace', 'taskQueue', 'activityType'],
} as const;

/** A meter that remembers, per metric name, the kind of instrument and every tag recorded on it. */
function recordingMeter(exported: Map<string, ExportedMetric>): MetricMeter {
  const instrument = (kind: InstrumentKind) => (name: string) => {
    const record = (_value: number, tags: MetricTags = {}) => {
      const metric = exported.get(name) ?? { kind, labels: new Map<string, Set<string>>() };
      if (metric.kind !== kind) throw new Error(`${name} is recorded both as a ${metric.kind} and as a ${kind}`);
      for (const [key, value] of Object.entries(tags)) {
        metric.labels.set(key, (metric.labels.get(key) ?? new Set()).add(String(value)));
      }
      exported.set(name, metric);
    };
    return { name, add: record, set: record, record };
  };
  return {
    createCounter: instrument('counter'),
    createGauge: instrument('gauge'),
    createHistogram: instrument('histogram'),
  } as unknown as MetricMeter;
}

/** Every metric the record functions write, as they write it, plus the tags the worker's meters add. */
function exportedByTheWorker(): Map<string, ExportedMetric> {
  const exported = new Map<string, ExportedMetric>();
  const meter = recordingMeter(exported);
  const spies = [
    jest.spyOn(metricMeter, 'createCounter').mockImplementation(meter.createCounter),
    jest.spyOn(metricMeter, 'createGauge').mockImplementation(meter.createGauge),
    jest.spyOn(metricMeter, 'createHistogram').mockImplementation(meter.createHistogram),
    jest.spyOn(Context, 'current').mockReturnValue({ metricMeter: meter } as unknown as Context),
  ];
  try {
    const orgId = 'org-1';
    recordPagesDelivered(orgId, 'tail', 1, 200);
    recordPagesDelivered(orgId, 'backfill', 1, 200);
    recordRateLimited(orgId);
    recordDeadLettered(orgId, 1);
    recordCursorRecovery(orgId);
    recordPageLost(orgId);
    recordPhaseAndLag(orgId, AuditPhase.Idle, 60_000);
    recordAtlassianRequest(orgId, 'events-stream', 200);
    recordAtlassianRequest(orgId, 'event-actions', 'transport-error');
    recordDatadogRequest(orgId, 202);
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
  const workflowMetricNames = new Set<string>(Object.values(WorkflowMetric));
  for (const [name, metric] of exported) {
    for (const label of SDK_LABELS[workflowMetricNames.has(name) ? 'workflow' : 'activity']) {
      metric.labels.set(label, metric.labels.get(label) ?? new Set());
    }
  }
  return exported;
}

const exported = exportedByTheWorker();
const namedInCode = [...Object.values(WorkflowMetric), ...Object.values(ActivityMetric)].sort();

// ---- The Agent's OpenMetrics check ----

const datadogName = z.string().regex(/^[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*$/);
const agentConfigSchema = z.strictObject({
  init_config: z.null(),
  instances: z.tuple([
    z.strictObject({
      openmetrics_endpoint: z.url({ protocol: /^https?$/ }),
      namespace: z.string().regex(/^[a-z_]+$/),
      // Plain names only: the check reads a key with regular-expression characters as a pattern.
      metrics: z.array(
        z.record(z.string().regex(/^[a-z_]+$/), datadogName).refine((item) => Object.keys(item).length === 1, 'one metric per item')
      ),
      rename_labels: z.record(z.string(), z.string().regex(/^[a-z_]+$/)),
      exclude_labels: z.array(z.string()),
      tags: z.array(z.string().regex(/^[a-z_]+:\S+$/)),
    }),
  ]),
});

const [instance] = agentConfigSchema.parse(loadYaml(readFileSync(AGENT_CONFIG_FILE, 'utf8'))).instances;
/** Exposed name → the name sent under the namespace. */
const sentNames = new Map(instance.metrics.map((item) => Object.entries(item)[0]!));

/** Tags the check adds itself: the Agent's host, and the endpoint scraped (`tag_by_endpoint`, on by default). */
const CHECK_TAGS = ['host', 'endpoint'];
const configTagKeys = instance.tags.map((tag) => tag.split(':')[0]!);

/** What the check submits for an exposed metric: a counter's increase as `.count`, a gauge under its name. */
function submittedNames(sent: string, kind: InstrumentKind): string[] {
  const name = `${instance.namespace}.${sent}`;
  if (kind === 'counter') return [`${name}.count`];
  if (kind === 'histogram') return ['bucket', 'sum', 'count'].map((suffix) => `${name}.${suffix}`);
  return [name];
}

/** A metric's Datadog tags: its labels renamed and filtered as configured, plus the check's and the config's own. */
function submittedTags(metric: ExportedMetric): Map<string, ReadonlySet<string> | 'any value'> {
  const tags = new Map<string, ReadonlySet<string> | 'any value'>();
  for (const [label, values] of metric.labels) {
    if (!instance.exclude_labels.includes(label)) tags.set(instance.rename_labels[label] ?? label, values);
  }
  for (const key of [...CHECK_TAGS, ...configTagKeys]) tags.set(key, 'any value');
  return tags;
}

/** Every Datadog metric the project's own metrics become, with its kind and tags. */
const inDatadog = new Map(
  [...exported].flatMap(([exposed, metric]) => {
    const sent = sentNames.get(exposed);
    if (sent === undefined) return [];
    return submittedNames(sent, metric.kind).map((name) => [name, { kind: metric.kind, tags: submittedTags(metric) }] as const);
  })
);
const HEALTH_SERVICE_CHECK = `${instance.namespace}.openmetrics.health`;

// ---- The monitors ----

const monitorSchema = z.strictObject({
  name: z.string().startsWith('Atlassian audit collector: '),
  type: z.enum(['query alert', 'service check']),
  query: z.string(),
  message: z.string().min(1),
  tags: z.array(z.string()),
  priority: z.number().int().min(1).max(5),
  options: z.strictObject({
    thresholds: z.strictObject({ critical: z.number(), warning: z.number().optional(), ok: z.number().optional() }),
    notify_no_data: z.boolean(),
    no_data_timeframe: z.number().int().min(2).optional(),
    require_full_window: z.boolean().optional(),
    include_tags: z.boolean(),
    new_group_delay: z.number().int().nonnegative(),
  }),
});
type Monitor = z.infer<typeof monitorSchema>;

/** The one form of metric query the monitors use: one metric, alerting per group. */
const METRIC_QUERY =
  /^(?<timeAggregation>avg|min|max|sum)\(last_\d+[mhd]\):(?<spaceAggregation>avg|min|max|sum):(?<metric>[a-z][\w.]*)\{(?<scope>[^}]*)\} by \{(?<groupBy>[^}]*)\}(?<asCount>\.as_count\(\))? (?<comparator>>=|<=|>|<) (?<threshold>-?\d+(?:\.\d+)?)$/;
const SERVICE_CHECK_QUERY = /^"(?<check>[\w.]+)"\.over\("\*"\)\.last\((?<last>\d+)\)\.by\("(?<groupBy>\w+)"\)\.count_by_status\(\)$/;

const monitors = readdirSync(MONITORS_DIR)
  .filter((file) => file.endsWith('.json'))
  .sort()
  .map((file) => [file, monitorSchema.parse(JSON.parse(readFileSync(path.join(MONITORS_DIR, file), 'utf8')))] as const);

/** `{{org_id.name}}`-style variables: each must be a key the monitor groups by, or it renders empty. */
const groupVariablesOf = (message: string) => [...new Set([...message.matchAll(/\{\{(\w+)\.name\}\}/g)].map((match) => match[1]!))];

/** What is wrong with a metric monitor, against what reaches Datadog; [] when nothing. */
function problemsOfMetricMonitor(monitor: Monitor): string[] {
  const parts = METRIC_QUERY.exec(monitor.query)?.groups;
  if (!parts) return [`query is not of the form "<aggr>(last_<n>):<aggr>:<metric>{<scope>} by {<tags>} <op> <number>"`];
  const metric = inDatadog.get(parts.metric!);
  if (!metric) return [`${parts.metric} is not a metric the worker exports through the check`];
  const groupBy = parts.groupBy!.split(',').map((tag) => tag.trim());
  const scope = parts.scope === '*' ? [] : parts.scope!.split(',').map((term) => term.trim().split(':') as [string, string]);
  const { critical, warning } = monitor.options.thresholds;
  const rising = parts.comparator!.startsWith('>');
  return [
    ...groupBy.filter((tag) => !metric.tags.has(tag)).map((tag) => `groups by ${tag}, which ${parts.metric} does not carry`),
    ...(groupBy.includes('org_id') ? [] : ['does not alert per org (by {org_id})']),
    ...scope.flatMap(([key, value]) => {
      const values = metric.tags.get(key);
      if (values === undefined) return [`filters on ${key}, which ${parts.metric} does not carry`];
      return values === 'any value' || values.has(value) ? [] : [`filters on ${key}:${value}, a value the worker never sends`];
    }),
    // A count's window is a sum of increases; a gauge's value is not a count.
    ...(metric.kind === 'counter' && (parts.timeAggregation !== 'sum' || !parts.asCount) ? ['sums a counter without sum(…) and .as_count()'] : []),
    ...(metric.kind === 'gauge' && parts.asCount ? ['applies .as_count() to a gauge'] : []),
    ...(Number(parts.threshold) === critical ? [] : [`critical threshold ${critical} is not the query's ${parts.threshold}`]),
    ...(warning === undefined || (rising ? warning < critical : warning > critical) ? [] : ['warning threshold is not short of critical']),
    ...groupVariablesOf(monitor.message).filter((tag) => !groupBy.includes(tag)).map((tag) => `message uses {{${tag}.name}} but groups by ${groupBy}`),
  ];
}

function problemsOfServiceCheckMonitor(monitor: Monitor): string[] {
  const parts = SERVICE_CHECK_QUERY.exec(monitor.query)?.groups;
  if (!parts) return ['query is not of the form "<check>".over("*").last(<n>).by("<tag>").count_by_status()'];
  const { critical, ok } = monitor.options.thresholds;
  return [
    ...(parts.check === HEALTH_SERVICE_CHECK ? [] : [`${parts.check} is not the check's service check ${HEALTH_SERVICE_CHECK}`]),
    ...(CHECK_TAGS.includes(parts.groupBy!) ? [] : [`groups by ${parts.groupBy}, which the service check does not carry`]),
    ...(critical <= Number(parts.last) && ok !== undefined ? [] : ['needs ok and critical thresholds within last(<n>)']),
    ...groupVariablesOf(monitor.message).filter((tag) => tag !== parts.groupBy).map((tag) => `message uses {{${tag}.name}}`),
  ];
}

describe('what the worker exports', () => {
  it('is found by running every record function: each metric the code names is recorded, with its tags', () => {
    expect([...exported.keys()].sort()).toStrictEqual(namedInCode);
    expect(exported.get(WorkflowMetric.phase)?.labels.get('phase')).toStrictEqual(new Set(Object.values(AuditPhase)));
    expect(exported.get(WorkflowMetric.pages)).toMatchObject({ kind: 'counter' });
    expect(exported.get(WorkflowMetric.tailLagSeconds)).toMatchObject({ kind: 'gauge' });
  });
});

describe('the Agent OpenMetrics check', () => {
  it("scrapes the worker's default metrics address", () => {
    const endpoint = new URL(instance.openmetrics_endpoint);
    expect(endpoint.port).toBe(DEFAULT_METRICS_ADDRESS.split(':').at(-1));
    expect(endpoint.pathname).toBe('/metrics');
  });

  it('maps every atlassian_audit_* metric the worker exports, and none it does not', () => {
    const mappedOwn = [...sentNames.keys()].filter((exposed) => exposed.startsWith('atlassian_audit_')).sort();
    expect(mappedOwn).toStrictEqual(namedInCode);
  });

  it("maps the SDK's temporal_* metrics under temporal., and sends every metric under a name of its own", () => {
    const temporal = [...sentNames].filter(([exposed]) => exposed.startsWith('temporal_'));
    expect(temporal.length).toBeGreaterThan(0);
    expect(temporal.filter(([, sent]) => !sent.startsWith('temporal.'))).toStrictEqual([]);
    expect([...sentNames.keys()].filter((exposed) => !/^(atlassian_audit|temporal)_/.test(exposed))).toStrictEqual([]);
    expect(new Set(sentNames.values()).size).toBe(sentNames.size);
  });

  it("renames only labels the worker sends, and leaves none that clashes with the check's own tags", () => {
    const labels = new Set([...exported.values()].flatMap((metric) => [...metric.labels.keys()]));
    expect(Object.keys(instance.rename_labels).filter((label) => !labels.has(label))).toStrictEqual([]);
    const tagKeys = [...exported.values()].flatMap((metric) =>
      [...metric.labels.keys()].filter((label) => !instance.exclude_labels.includes(label)).map((label) => instance.rename_labels[label] ?? label)
    );
    expect(tagKeys.filter((key) => CHECK_TAGS.includes(key) || configTagKeys.includes(key))).toStrictEqual([]);
    expect(tagKeys.filter((key) => !/^[a-z_]+$/.test(key))).toStrictEqual([]);
  });
});

describe('monitors', () => {
  it('have distinct names, and watch every phase that needs an operator, stalls included', () => {
    expect(new Set(monitors.map(([, monitor]) => monitor.name)).size).toBe(monitors.length);
    const watchedPhases = monitors.flatMap(([, monitor]) => [...monitor.query.matchAll(/\bphase:([\w-]+)/g)].map((match) => match[1]));
    expect(watchedPhases.sort()).toStrictEqual(
      [AuditPhase.AwaitingCredentials, AuditPhase.AwaitingEntitlement, AuditPhase.Stalled].sort()
    );
  });

  it.each(monitors)('%s names only metrics and tags the worker exports through the check', (_file, monitor) => {
    const problems = monitor.type === 'service check' ? problemsOfServiceCheckMonitor(monitor) : problemsOfMetricMonitor(monitor);
    const mentioned = [...monitor.message.matchAll(/`(atlassian_audit\.[\w.]+)`/g)].map((match) => match[1]!);
    expect([...problems, ...mentioned.filter((name) => !inDatadog.has(name)).map((name) => `message names ${name}`)]).toStrictEqual([]);
  });

  it('the checker catches a metric, tag, phase or threshold that would never fire', () => {
    const [, tailLag] = monitors.find(([file]) => file === 'tail-lag.json')!;
    const variant = (query: string, thresholds = tailLag.options.thresholds) => ({ ...tailLag, query, options: { ...tailLag.options, thresholds } });
    expect(problemsOfMetricMonitor(tailLag)).toStrictEqual([]);
    expect(problemsOfMetricMonitor(variant('min(last_15m):max:atlassian_audit.tail_lag{*} by {org_id} > 1800'))).toStrictEqual([
      'atlassian_audit.tail_lag is not a metric the worker exports through the check',
    ]);
    expect(problemsOfMetricMonitor(variant('max(last_5m):max:atlassian_audit.phase{phase:broken} by {org_id} >= 1', { critical: 1 }))).toStrictEqual([
      'filters on phase:broken, a value the worker never sends',
    ]);
    expect(problemsOfMetricMonitor(variant('sum(last_1h):sum:atlassian_audit.rate_limited.count{*} by {taskQueue} > 1800'))).toStrictEqual([
      'groups by taskQueue, which atlassian_audit.rate_limited.count does not carry',
      'does not alert per org (by {org_id})',
      'sums a counter without sum(…) and .as_count()',
      'message uses {{org_id.name}} but groups by taskQueue',
    ]);
    expect(problemsOfMetricMonitor(variant(tailLag.query, { critical: 1800, warning: 3600 }))).toStrictEqual([
      'warning threshold is not short of critical',
    ]);
  });
});
