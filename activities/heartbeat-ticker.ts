import { Context } from '@temporalio/activity';

/**
 * Heartbeats while `work` runs, so the activity can have a short heartbeat timeout: when a worker dies, Temporal
 * notices within that timeout and retries elsewhere, instead of waiting out the whole start-to-close timeout.
 */
export async function withHeartbeats<T>(work: () => Promise<T>, details: () => unknown = () => undefined, everyMs = 5_000): Promise<T> {
  const context = Context.current();
  const timer = setInterval(() => context.heartbeat(details()), everyMs);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}
