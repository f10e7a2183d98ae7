/**
 * The baseline for benchmark 1: the collector's own activity functions (poll with its validation, map, ship with
 * its gzip) called one after another in a plain loop in this process, with no Temporal at all. An activity context
 * is still needed by their heartbeats and cancellation signal; the SDK's in-memory mock provides it.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities, type ActivityDependencies } from '../../activities';
import type { PollOutcome } from '../../activities/poll';
import { DEFAULT_ATLASSIAN_CREDENTIAL, DEFAULT_DATADOG_CREDENTIAL } from '../../shared/credential-ref';

export interface PlainPageTiming {
  pollMs: number;
  mapMs: number;
  shipMs: number;
}

export interface PlainPipelineRun {
  events: number;
  pages: PlainPageTiming[];
}

/** Walks the org's stream from `since` to its end (an empty page), as the workflow's tail does. */
export async function runPlainPipeline(
  dependencies: ActivityDependencies,
  options: { orgId: string; since: number; pageSize: number }
): Promise<PlainPipelineRun> {
  const activities = createActivities(dependencies);
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
    });
    if (outcome.kind === 'rateLimited') throw new Error('the plain pipeline runs against an unlimited stand-in');
    const polled = performance.now();
    const logs = await inActivityContext(activities.mapEvents, {
      orgId: options.orgId,
      origin: 'tail',
      events: outcome.events,
      atlassianCredential,
    });
    const mapped = performance.now();
    if (logs.length > 0) await inActivityContext(activities.shipLogs, { orgId: options.orgId, credential: datadogCredential, logs });
    pages.push({ pollMs: polled - started, mapMs: mapped - polled, shipMs: performance.now() - mapped });
    events += outcome.events.length;
    cursor = outcome.nextCursor ?? cursor;
    limit = outcome.pageLimit;
    if (outcome.reachedEnd) return { events, pages };
  }
}
