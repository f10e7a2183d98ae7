/**
 * The baseline for benchmark 1: the collector's own activity functions (poll with its validation and its page
 * store, map, ship with its gzip) called one after another in a plain loop in this process, with no Temporal at all.
 * The poll keeps its batch in a PageStore, as on a worker, and map and ship take the batch's reference, so the loop
 * does the same work per event as the workflow's activities. An activity context is still needed by their
 * heartbeats and cancellation signal; the SDK's in-memory mock provides it.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities';
import { PageStore } from '../../activities/page-store';
import type { PollOutcome } from '../../activities/poll';
import { DEFAULT_ATLASSIAN_CREDENTIAL, DEFAULT_DATADOG_CREDENTIAL } from '../../shared/credential-ref';
import type { WorkerActivityDependencies } from '../../worker/create-worker';

export interface PlainPageTiming {
  pollMs: number;
  mapMs: number;
  shipMs: number;
  /** Events the poll read (a poll reads several pages when its budget allows). */
  events: number;
  /** Atlassian pages the poll read. */
  pages: number;
}

export interface PlainPipelineRun {
  events: number;
  /** One entry per poll → map → ship cycle. */
  pages: PlainPageTiming[];
}

/** Walks the org's stream from `since` to its end (an empty page), as the workflow's tail does. */
export async function runPlainPipeline(
  dependencies: WorkerActivityDependencies,
  options: { orgId: string; since: number; pageSize: number }
): Promise<PlainPipelineRun> {
  const pageStore = new PageStore({ taskQueue: 'plain-loop' });
  const activities = createActivities({ ...dependencies, pageStore });
  const environment = new MockActivityEnvironment();
  // The mock's `run` does not carry the activity's result type through; this does.
  const inActivityContext = <Input, Output>(activity: (input: Input) => Promise<Output>, input: Input): Promise<Output> =>
    environment.run(activity, input) as Promise<Output>;
  const atlassianCredential = { ref: DEFAULT_ATLASSIAN_CREDENTIAL, version: 1 };
  const datadogCredential = { ref: DEFAULT_DATADOG_CREDENTIAL, version: 1 };
  const pages: PlainPageTiming[] = [];
  let cursor: string | null = null;
  let limit = options.pageSize;
  let events = 0;
  for (;;) {
    const started = performance.now();
    const outcome: PollOutcome = await inActivityContext(activities.pollEventsPage, {
      orgId: options.orgId,
      credential: atlassianCredential,
      cursor,
      from: options.since,
      limit,
      // As the workflow asks (workflows/org-audit.ts MAX_PAGES_PER_POLL): the poll stops at 1000 events, one Datadog request.
      maxPages: 50,
    });
    if (outcome.kind === 'rateLimited') throw new Error('the plain pipeline runs against an unlimited stand-in');
    const polled = performance.now();
    let mapped = polled;
    if (outcome.stored !== null && outcome.stored.keys.length > 0) {
      const page = { ref: outcome.stored.ref, taskQueue: outcome.stored.taskQueue };
      const result = await inActivityContext(activities.mapEvents, { orgId: options.orgId, origin: 'tail', page, skipKeys: [], atlassianCredential });
      mapped = performance.now();
      if (result.logs > 0) await inActivityContext(activities.shipLogs, { orgId: options.orgId, credential: datadogCredential, page });
      pageStore.delete(page.ref);
    }
    pages.push({ pollMs: polled - started, mapMs: mapped - polled, shipMs: performance.now() - mapped, events: outcome.eventsRead, pages: outcome.pages });
    events += outcome.eventsRead;
    cursor = outcome.nextCursor ?? cursor;
    limit = outcome.pageLimit;
    if (outcome.reachedEnd) return { events, pages };
  }
}
