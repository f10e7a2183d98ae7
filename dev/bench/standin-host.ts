/**
 * Child-process entry that runs both stand-ins for a benchmark and answers ./standin-protocol.ts messages. It also
 * watches what reaches the Datadog stand-in, so that deliveries and end-to-end latencies are timed where they land.
 */
import { createDemoEventGenerator, generateDemoEvents, type DemoEventGenerator } from '../standins/demo-events';
import type {
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

type Handlers = { [K in StandinCommandName]: (input: StandinCommands[K]['input']) => StandinCommands[K]['output'] };

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? '{}') as StandinHostConfig;
  const { atlassian, datadog } = await startHarnessStandins({ rateLimit: config.rateLimit });

  const addedAt = new Map<string, number>();
  const deliveries = new Map<string, { count: number; lastAt: number }>();
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
      const [event] = atlassian.addEvents(orgId, [generator.next(Date.now())]);
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
      atlassian.addEvents(orgId, events);
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
