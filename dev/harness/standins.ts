/**
 * The two stand-ins as the harness runs them, in the caller's process: the Atlassian API (orgs accept TEST_KEYS) and
 * the Datadog intake (accepting TEST_KEYS.datadog), and which org and event each log that reached Datadog carries.
 */
import { randomUUID } from 'node:crypto';
import { AtlassianStandin, type AtlassianStandinOptions } from '../standins/atlassian-standin';
import { DatadogStandin, type ReceivedLog } from '../standins/datadog-standin';
import { TEST_KEYS } from './keys';

export interface HarnessStandins {
  atlassian: AtlassianStandin;
  datadog: DatadogStandin;
}

export async function startHarnessStandins(atlassianOptions: AtlassianStandinOptions = {}): Promise<HarnessStandins> {
  const atlassian = await AtlassianStandin.start(atlassianOptions);
  try {
    return { atlassian, datadog: await DatadogStandin.start({ apiKeys: [TEST_KEYS.datadog] }) };
  } catch (error) {
    await atlassian.close();
    throw error;
  }
}

/** A new org in the Atlassian stand-in, accepting the test key. */
export function addTestOrg(atlassian: AtlassianStandin, orgId: string = randomUUID()): string {
  atlassian.addOrg(orgId, { apiKeys: [TEST_KEYS.atlassian] });
  return orgId;
}

/** The org and event a log that reached the Datadog stand-in came from; undefined for a log without them. */
export function deliveryOf(log: ReceivedLog): { orgId: string; eventId: string } | undefined {
  const atlassian = log['atlassian'] as { org_id?: unknown; event_id?: unknown } | undefined;
  const orgId = atlassian?.org_id;
  const eventId = atlassian?.event_id;
  return typeof orgId === 'string' && typeof eventId === 'string' ? { orgId, eventId } : undefined;
}

/** Event IDs of one org that reached the Datadog stand-in, in arrival order (repeats kept). */
export function deliveredIds(datadog: DatadogStandin, orgId: string): string[] {
  return datadog.received.flatMap((log) => {
    const delivery = deliveryOf(log);
    return delivery?.orgId === orgId ? [delivery.eventId] : [];
  });
}
