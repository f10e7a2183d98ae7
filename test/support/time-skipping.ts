/**
 * Temporal's time-skipping test server (the Java one, from dev/temporal-test-server.sh) for workflow tests whose
 * waits are minutes or hours long: a 5-minute retry, a rate-limit wait, a key that waits hours for rotation. Server
 * time jumps ahead only while a test sleeps through `skip` (or awaits a workflow result); otherwise it runs at the
 * pace of real time. The dev server of the global setup stays the reference for everything else.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { temporal } from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { projectSearchAttributes } from '../../shared/search-attributes';

export class TimeSkippingEnvironment {
  private offsetMs = 0;

  private constructor(readonly env: TestWorkflowEnvironment) {}

  /**
   * Starts a test server of its own. The server checks search attributes as the real one does, and knows none of the
   * project's until they are registered: without them `startOrg` and the workflow's phase upserts would be refused.
   */
  static async start(): Promise<TimeSkippingEnvironment> {
    const env = await TestWorkflowEnvironment.createTimeSkipping({
      server: { executable: { type: 'existing-path', path: testServerPath() } },
    });
    try {
      const searchAttributes = Object.fromEntries(
        projectSearchAttributes.map((key) => [key.name, temporal.api.enums.v1.IndexedValueType[`INDEXED_VALUE_TYPE_${key.type}`]])
      );
      await env.connection.operatorService.addSearchAttributes({ namespace: env.namespace ?? 'default', searchAttributes });
      const started = new TimeSkippingEnvironment(env);
      await started.sync();
      return started;
    } catch (err) {
      await env.teardown();
      throw err;
    }
  }

  /**
   * The server's clock, read synchronously: real time plus the time skipped so far. The activities and the stand-ins
   * must use it rather than `Date.now`. The workflow hands the poll activity absolute times of its own clock (send not
   * before, stop after) and the stand-ins' rate-limit resets are absolute times too: on the real clock, hours skipped
   * would look like a future the activity sleeps towards in real time, and a reset would look long past.
   */
  readonly now = (): number => Date.now() + this.offsetMs;

  /**
   * Lets `ms` of server time pass. Skipped time must end before the workflow's next timer fires: an activity started
   * during the jump would read `now` before it is aligned. So a test skips to just before a deadline it knows and
   * lets the last seconds pass in real time.
   */
  async skip(ms: number): Promise<void> {
    await this.env.sleep(ms);
    await this.sync();
  }

  /** Aligns `now` with the server's clock; after `skip` it is done already, after awaiting a result it is not. */
  async sync(): Promise<void> {
    const before = Date.now();
    const serverTime = await this.env.currentTimeMs();
    this.offsetMs = serverTime - Math.round((before + Date.now()) / 2);
  }

  teardown(): Promise<void> {
    return this.env.teardown();
  }
}

/** `TEMPORAL_TEST_SERVER_PATH` when `npm test` has set it; otherwise the script gets the server (cached after once). */
function testServerPath(): string {
  return execFileSync('bash', [join(__dirname, '../../dev/temporal-test-server.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
}
