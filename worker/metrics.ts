/**
 * Where the worker serves its metrics: the SDK's Prometheus endpoint (`GET /metrics`), which carries both the SDK's
 * own `temporal_*` metrics and the project's `atlassian_audit_*` metrics (recorded through the SDK's metric meter by
 * `workflows/workflow-metrics.ts` and `activities/activity-metrics.ts`).
 */
import { isIP } from 'node:net';
import type { MetricsExporterConfig } from '@temporalio/worker';
import { z } from 'zod';

export const METRICS_ADDRESS_VARIABLE = 'AUDIT_METRICS_ADDRESS';

/** All interfaces, on the port OpenTelemetry's Prometheus exporters use by default. */
export const DEFAULT_METRICS_ADDRESS = '0.0.0.0:9464';

/** The value that turns the endpoint off. */
export const METRICS_OFF = 'off';

const ADDRESS_HINT = `must be IP:port such as ${DEFAULT_METRICS_ADDRESS} or [::]:9464, or "${METRICS_OFF}"`;

/**
 * Core parses the bind address as a socket address, so a host name (`localhost:9464`) would only fail inside
 * `Runtime.install` with a message that does not name the variable: check the form here instead.
 */
export const metricsAddressSchema = z
  .string()
  .trim()
  .refine((value) => value.toLowerCase() === METRICS_OFF || isSocketAddress(value), { error: ADDRESS_HINT })
  .transform((value) => (value.toLowerCase() === METRICS_OFF ? null : value));

function isSocketAddress(value: string): boolean {
  const match = /^(?:\[(?<ipv6>[^\]]+)\]|(?<ipv4>[^:]+)):(?<port>\d{1,5})$/.exec(value);
  if (!match?.groups) return false;
  const port = Number(match.groups.port);
  const hostIsIp = match.groups.ipv6 !== undefined ? isIP(match.groups.ipv6) === 6 : isIP(match.groups.ipv4 ?? '') === 4;
  return hostIsIp && port >= 1 && port <= 65_535;
}

/** The Runtime's metrics exporter for a bind address; `undefined` (no exporter, a no-op meter) when switched off. */
export function prometheusExporter(bindAddress: string | null): MetricsExporterConfig | undefined {
  return bindAddress === null ? undefined : { prometheus: { bindAddress } };
}
