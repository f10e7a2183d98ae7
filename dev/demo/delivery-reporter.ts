/**
 * One line whenever logs reach the Datadog stand-in, so that someone watching the demo sees collection happen
 * without opening the delivered-logs file.
 */
import type { DatadogStandin } from '../standins/datadog-standin';

const REPORT_EVERY_MS = 2_000;

/** Starts reporting; the returned function stops it. */
export function reportDeliveries(datadog: DatadogStandin, startedAt: number): () => void {
  let reported = 0;
  const timer = setInterval(() => {
    const received = datadog.received.length;
    if (received === reported) return;
    const elapsed = ((Date.now() - startedAt) / 1000).toFixed(1);
    const count = received - reported;
    console.log(`Datadog stand-in: ${count} new log${count === 1 ? '' : 's'} (${received} this run, ${elapsed} s after start)`);
    reported = received;
  }, REPORT_EVERY_MS);
  return () => clearInterval(timer);
}
