/**
 * Child-process entry that runs both stand-ins for a benchmark and answers ./standin-protocol.ts messages. It also
 * watches what reaches the Datadog stand-in, so that deliveries and end-to-end latencies are timed where they land.
 */
import { createDemoEventGenerator, generateDemoEvents, type DemoEventGenerator } from '../standins/demo-events';
import type { AtlassianEvent } from '../../activities/atlassian-schema';
import type {
  EventContent,
  EventJourney,
  OrgTraffic,
  StandinCommandName,
  StandinCommands,
  StandinHostConfig,
  StandinReadyMessage,
  StandinReplyMessage,
  StandinRequestMessage,
} from './standin-protocol';
import { addTestOrg, deliveryOf, startHarnessStandins } from '../harness/standins';

/** How often arrivals in the Datadog stand-in are looked for: far finer than any latency measured. */
const ARRIVAL_SCAN_MS = 5;

/** Logs searched for the content control: enough to hold every needle of the demo's small vocabulary. */
const CONTROL_LOGS = 2_000;
/** Shorter strings could occur in history by chance (a word in a summary), not because an event leaked. */
const MIN_NEEDLE_LENGTH = 5;
const ENTITY_TEXT_ATTRIBUTES = ['name', 'email', 'groupName', 'displayName', 'siteName', 'siteHostName'];

/** The audit content of one event: who did it, from where, what it touched, and what it says. */
function contentOf(event: AtlassianEvent): string[] {
  const { actor, context, container, location } = event.attributes;
  const entities = [...(context ?? []), ...(container ?? [])];
  const values: unknown[] = [
    actor.id,
    actor.name,
    actor.email,
    location?.ip,
    event.message?.content,
    ...entities.flatMap((entity) => ENTITY_TEXT_ATTRIBUTES.map((key) => entity.attributes?.[key])),
  ];
  return values.filter((value): value is string => typeof value === 'string' && value.length >= MIN_NEEDLE_LENGTH);
}

type Handlers = { [K in StandinCommandName]: (input: StandinCommands[K]['input']) => StandinCommands[K]['output'] };

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? '{}') as StandinHostConfig;
  const { atlassian, datadog } = await startHarnessStandins({ rateLimit: config.rateLimit });

  const addedAt = new Map<string, number>();
  const deliveries = new Map<string, { count: number; lastAt: number }>();
  /** Arrival times of each org's logs, in order: the window counts of the scale benchmark. */
  const arrivals = new Map<string, number[]>();
  const content = { needles: new Set<string>(), events: 0, eventBytes: 0 };
  const addEvents = (orgId: string, inputs: Parameters<typeof atlassian.addEvents>[1]) => {
    const added = atlassian.addEvents(orgId, inputs);
    for (const event of added) {
      content.events += 1;
      content.eventBytes += Buffer.byteLength(JSON.stringify(event));
      for (const needle of contentOf(event)) content.needles.add(needle);
    }
    return added;
  };
  const journeys = new Map<string, { orgId: string; journey: EventJourney }>();
  let scanned = 0;
  const arrivalScan = setInterval(() => {
    const received = datadog.received;
    if (scanned === received.length) return;
    const now = Date.now();
    for (; scanned < received.length; scanned++) {
      const delivery = deliveryOf(received[scanned]!);
      if (!delivery) continue;
      const delivered = deliveries.get(delivery.orgId) ?? { count: 0, lastAt: now };
      delivered.count += 1;
      delivered.lastAt = now;
      deliveries.set(delivery.orgId, delivered);
      const times = arrivals.get(delivery.orgId) ?? [];
      times.push(now);
      arrivals.set(delivery.orgId, times);
      const followed = journeys.get(delivery.eventId);
      if (followed && followed.journey.arrivedAt === null) followed.journey.arrivedAt = now;
    }
  }, ARRIVAL_SCAN_MS);

  const trickleTimers = new Set<NodeJS.Timeout>();
  let trickled = 0;
  const trickle = (orgId: string, generator: DemoEventGenerator, meanGapMs: number) => {
    // Exponential gaps: arrivals independent of the collector's poll phase, as real audit events are.
    const timer = setTimeout(() => {
      trickleTimers.delete(timer);
      const [event] = addEvents(orgId, [generator.next(Date.now())]);
      journeys.set(event!.id, { orgId, journey: { visibleAt: Date.now(), arrivedAt: null } });
      trickled += 1;
      trickle(orgId, generator, meanGapMs);
    }, -Math.log(1 - Math.random()) * meanGapMs);
    trickleTimers.add(timer);
  };

  const handlers: Handlers = {
    addOrgs({ orgIds }) {
      const now = Date.now();
      for (const orgId of orgIds) addedAt.set(addTestOrg(atlassian, orgId), now);
      return { addedAt: now };
    },
    seedEvents({ orgId, stream, seed, count, processedFrom, spacingMs }) {
      const events = generateDemoEvents({ seed, orgId: stream, count, startTime: processedFrom, spacingMs });
      addEvents(orgId, events);
      return { added: events.length };
    },
    startTrickle({ orgIds, meanGapMs, seed }) {
      for (const orgId of orgIds) trickle(orgId, createDemoEventGenerator({ seed, orgId }), meanGapMs);
      return { started: orgIds.length };
    },
    stopTrickle() {
      for (const timer of trickleTimers) clearTimeout(timer);
      trickleTimers.clear();
      return { added: trickled };
    },
    traffic({ orgIds }) {
      const wanted = new Set(orgIds);
      const traffic = new Map<string, OrgTraffic>(
        orgIds.map((orgId) => {
          const delivered = deliveries.get(orgId);
          return [
            orgId,
            {
              orgId,
              addedAt: addedAt.get(orgId) ?? Number.NaN,
              servedAt: [],
              rateLimitedAt: [],
              delivered: delivered?.count ?? 0,
              lastDeliveredAt: delivered?.lastAt ?? null,
            },
          ];
        })
      );
      for (const request of atlassian.requests) {
        if (request.endpoint !== 'events-stream' || !wanted.has(request.orgId)) continue;
        const org = traffic.get(request.orgId)!;
        if (request.status === 200) org.servedAt.push(request.at);
        else if (request.status === 429) org.rateLimitedAt.push(request.at);
      }
      return [...traffic.values()];
    },
    journeys({ orgId }) {
      return [...journeys.values()].filter((followed) => followed.orgId === orgId).map((followed) => followed.journey);
    },
    eventContent(): EventContent {
      const needles = [...content.needles];
      const sample = datadog.received.slice(0, CONTROL_LOGS).map((log) => JSON.stringify(log));
      const foundInDelivered = needles.filter((needle) => sample.some((log) => log.includes(JSON.stringify(needle).slice(1, -1)))).length;
      return { needles, events: content.events, eventBytes: content.eventBytes, foundInDelivered, deliveredSearched: sample.length };
    },
    deliveredBetween({ orgIds, from, to }) {
      return orgIds.map((orgId) => (arrivals.get(orgId) ?? []).filter((at) => at >= from && at < to).length);
    },
  };

  process.on('message', (message: StandinRequestMessage) => {
    let reply: StandinReplyMessage;
    try {
      const handler = handlers[message.command] as (input: unknown) => unknown;
      reply = { id: message.id, output: handler(message.input) };
    } catch (error) {
      reply = { id: message.id, error: error instanceof Error ? error.message : String(error) };
    }
    process.send!(reply);
  });
  // The parent going away (normally or not) ends the stand-ins too.
  process.on('disconnect', () => {
    clearInterval(arrivalScan);
    for (const timer of trickleTimers) clearTimeout(timer);
    void Promise.all([atlassian.close(), datadog.close()]).then(() => process.exit(0));
  });
  const ready: StandinReadyMessage = { ready: { atlassianUrl: atlassian.url, datadogIntakeUrl: datadog.url } };
  process.send!(ready);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
