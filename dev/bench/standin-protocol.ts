/**
 * The messages between a benchmark and the stand-ins it runs in a child process (./standin-host.ts). The stand-ins
 * live apart so that their work (building pages, inflating and parsing what the collector ships) is not charged to
 * the worker or to the plain loop that the worker is compared with, and so that the worker's CPU can be read alone.
 */
import type { RateLimitOptions } from '../standins/atlassian-standin';

/** The stand-ins accept the harness's keys (dev/harness/collector.ts TEST_KEYS), which the workers hold. */
export interface StandinHostConfig {
  /** Per-org token bucket of `events-stream`; none = unlimited. */
  rateLimit?: RateLimitOptions;
}

/** What the org's `events-stream` answered, by stand-in clock (epoch ms, the same clock as the benchmark's). */
export interface OrgTraffic {
  orgId: string;
  /** When the org (and its full token bucket) was created. */
  addedAt: number;
  servedAt: number[];
  rateLimitedAt: number[];
  /** Logs of this org that reached the Datadog stand-in, and when the last one did. */
  delivered: number;
  lastDeliveredAt: number | null;
}

/** One trickled event: when it became visible in the Atlassian stand-in and when it reached the Datadog stand-in. */
export interface EventJourney {
  visibleAt: number;
  arrivedAt: number | null;
}

export interface StandinCommands {
  addOrgs: { input: { orgIds: string[] }; output: { addedAt: number } };
  /**
   * Adds `count` demo events, processed from `processedFrom` every `spacingMs`. The same `stream` name (and seed)
   * gives the same events byte for byte, whichever org receives them.
   */
  seedEvents: {
    input: { orgId: string; stream: string; seed: number; count: number; processedFrom: number; spacingMs: number };
    output: { added: number };
  };
  /** Adds one event at a time to each org, at random gaps of mean `meanGapMs`, and follows each to Datadog. */
  startTrickle: { input: { orgIds: string[]; meanGapMs: number; seed: number }; output: { started: number } };
  stopTrickle: { input: Record<string, never>; output: { added: number } };
  traffic: { input: { orgIds: string[] }; output: OrgTraffic[] };
  journeys: { input: { orgId: string }; output: EventJourney[] };
  /** Audit content of every event added so far (./history-content.ts searches workflow histories for it). */
  eventContent: { input: Record<string, never>; output: EventContent };
  /** Logs of each org that reached the Datadog stand-in within [from, to) (stand-in clock). */
  deliveredBetween: { input: { orgIds: string[]; from: number; to: number }; output: number[] };
}

export interface EventContent {
  /** Distinct actor names, emails and IDs, IP addresses, context and container values, message texts. */
  needles: string[];
  events: number;
  /** Bytes of the events as Atlassian serves them (JSON), all events together. */
  eventBytes: number;
  /** The control: how many needles occur in the first logs Datadog received (the search finds content where it is). */
  foundInDelivered: number;
  deliveredSearched: number;
}

export type StandinCommandName = keyof StandinCommands;

export interface StandinRequestMessage {
  id: number;
  command: StandinCommandName;
  input: unknown;
}

export type StandinReplyMessage = { id: number; output: unknown } | { id: number; error: string };

export interface StandinReadyMessage {
  ready: { atlassianUrl: string; datadogIntakeUrl: string };
}
