import { randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../shared/failure-types';
import type { DatadogLog } from './datadog-log';
import type { PolledEvent } from './polled-event';

/**
 * Where a poll's events wait, on the worker that read them, for the map and ship activities that the workflow runs
 * on this worker's own task queue (Temporal's claim check with worker-specific task queues). Workflow history
 * carries only the page's reference and its events' dedupe keys, never an event.
 */
export interface StoredPage {
  ref: string;
  /** The task queue that only this worker process polls: map and ship of this page must run there. */
  taskQueue: string;
}

export interface PageStoreOptions {
  /** This worker process's own task queue. */
  taskQueue: string;
  /**
   * Bytes of pages kept at most; past it the least recently used page goes (its workflow polls it again from its
   * unchanged cursor). @default 512 MiB
   */
  maxBytes?: number;
  /** A page nobody used for this long goes: its workflow is gone, or found nothing new in it. @default 1 h */
  idleExpiryMs?: number;
  /** @default Date.now */
  now?: () => number;
}

/**
 * A page's logs take up to 2.75 times the bytes of the bodies their events came from (poll.ts, `MAX_BATCH_BYTES`):
 * a mapped page is counted at that much, so the bound holds for what the store really keeps.
 */
const LOG_BYTES_PER_BODY_BYTE = 2.75;

/** What the map made of a page: its logs, and how many came from malformed elements. */
export interface MappedPage {
  logs: DatadogLog[];
  malformed: number;
}

interface Entry {
  orgId: string;
  content: { kind: 'events'; events: PolledEvent[]; bodyBytes: number } | ({ kind: 'logs' } & MappedPage);
  bytes: number;
  usedAt: number;
}

/**
 * Pages held in this process's memory, in the order they were last used. A page is lost with its process (a
 * restart, a SIGKILL): the workflow then learns it from a schedule-to-start timeout or a `PageNotStored` failure,
 * and reads the page again from its cursor, which has not moved.
 */
export class PageStore {
  readonly taskQueue: string;
  private readonly maxBytes: number;
  private readonly idleExpiryMs: number;
  private readonly now: () => number;
  private readonly entries = new Map<string, Entry>();
  private bytes = 0;

  constructor(options: PageStoreOptions) {
    this.taskQueue = options.taskQueue;
    this.maxBytes = options.maxBytes ?? 512 * 1024 * 1024;
    this.idleExpiryMs = options.idleExpiryMs ?? 60 * 60_000;
    this.now = options.now ?? Date.now;
  }

  /** Keeps a poll's events; `bytes` is the size of the page bodies they came from. */
  putEvents(orgId: string, events: PolledEvent[], bytes: number): StoredPage {
    const ref = randomUUID();
    this.set(ref, { orgId, content: { kind: 'events', events, bodyBytes: bytes }, bytes, usedAt: this.now() });
    return { ref, taskQueue: this.taskQueue };
  }

  /** The events of a page not mapped yet. */
  events(orgId: string, ref: string): PolledEvent[] {
    const entry = this.use(orgId, ref);
    if (entry.content.kind !== 'events') throw pageNotStored(ref, 'holds the logs of this page, not its events');
    return entry.content.events;
  }

  /** Replaces a page's events with their logs. */
  putLogs(orgId: string, ref: string, mapped: MappedPage): void {
    const entry = this.use(orgId, ref);
    const bodyBytes = entry.content.kind === 'events' ? entry.content.bodyBytes : entry.bytes / LOG_BYTES_PER_BODY_BYTE;
    this.set(ref, { ...entry, content: { kind: 'logs', ...mapped }, bytes: Math.ceil(bodyBytes * LOG_BYTES_PER_BODY_BYTE) });
  }

  /** The logs of a page mapped already (a map attempt whose result was lost is answered from them), else undefined. */
  mapped(orgId: string, ref: string): MappedPage | undefined {
    const entry = this.use(orgId, ref);
    return entry.content.kind === 'logs' ? { logs: entry.content.logs, malformed: entry.content.malformed } : undefined;
  }

  /** The logs of a mapped page. */
  logs(orgId: string, ref: string): DatadogLog[] {
    const mapped = this.mapped(orgId, ref);
    if (mapped === undefined) throw pageNotStored(ref, 'holds the events of this page, which were not mapped');
    return mapped.logs;
  }

  /** Forgets a page once Datadog has it. */
  delete(ref: string): void {
    const entry = this.entries.get(ref);
    if (entry === undefined) return;
    this.entries.delete(ref);
    this.bytes -= entry.bytes;
  }

  get size(): { pages: number; bytes: number } {
    return { pages: this.entries.size, bytes: this.bytes };
  }

  private use(orgId: string, ref: string): Entry {
    this.expire();
    const entry = this.entries.get(ref);
    if (entry === undefined || entry.orgId !== orgId) throw pageNotStored(ref, 'does not hold it (restarted, or let it go to stay within its memory bound)');
    // Re-inserted: a Map iterates in insertion order, so the first entry is always the least recently used.
    this.entries.delete(ref);
    entry.usedAt = this.now();
    this.entries.set(ref, entry);
    return entry;
  }

  private set(ref: string, entry: Entry): void {
    this.delete(ref);
    this.entries.set(ref, entry);
    this.bytes += entry.bytes;
    this.expire();
    for (const [oldest] of this.entries) {
      if (this.bytes <= this.maxBytes || oldest === ref) break;
      this.delete(oldest);
    }
  }

  private expire(): void {
    const before = this.now() - this.idleExpiryMs;
    for (const [ref, entry] of this.entries) {
      if (entry.usedAt >= before) break;
      this.delete(ref);
    }
  }
}

/** Non-retryable: another attempt on this worker would not find the page either; the workflow polls it again. */
function pageNotStored(ref: string, why: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(`This worker's page store ${why}: page ${ref}`, FailureType.PageNotStored);
}
