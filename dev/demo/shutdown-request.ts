/**
 * Ctrl-C (SIGINT) and SIGTERM, turned into a request the demo acts on between steps: the worker finishes its
 * in-flight activities before the stand-ins and the Temporal dev server go away. A second signal means "now".
 */
export class ShutdownRequest {
  private readonly controller = new AbortController();
  /** Resolves with the first signal received. */
  readonly requested: Promise<NodeJS.Signals>;

  constructor() {
    this.requested = new Promise((resolve) => {
      const onSignal = (signal: NodeJS.Signals) => {
        if (this.controller.signal.aborted) {
          console.error(`demo: second ${signal}, exiting without waiting for the worker`);
          process.exit(130);
        }
        this.controller.abort();
        resolve(signal);
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
    });
  }

  get isRequested(): boolean {
    return this.controller.signal.aborted;
  }

  /** Aborted once shutdown is requested, for waits that should end early. */
  get abortSignal(): AbortSignal {
    return this.controller.signal;
  }
}
