/**
 * Jest's node environment, with the quiet output of test-log-level.ts: unless AUDIT_TEST_LOG_LEVEL is set, what a
 * test writes through console.log/info/debug (the SDK's logs among it, see sdk-log-setup.ts) is kept, and printed to
 * stderr only when that test fails, so a failure still comes with the logs that explain it.
 */
import { format } from 'node:util';
import type { Circus } from '@jest/types';
import { TestEnvironment } from 'jest-environment-node';
import { testLogLevel } from './test-log-level';

/** A failed test prints at most its last lines: those nearest the failure. */
const MAX_PRINTED_LINES = 300;

export default class TestOutputEnvironment extends TestEnvironment {
  private readonly quiet = testLogLevel() === undefined;
  private kept: string[] = [];

  override async setup(): Promise<void> {
    await super.setup();
    if (!this.quiet) return;
    const keep = (...args: unknown[]) => {
      this.kept.push(format(...args));
    };
    // Jest's console of this test file, set before setup; warn and error stay as they are.
    const console = this.global.console;
    console.log = keep;
    console.info = keep;
    console.debug = keep;
  }

  handleTestEvent(event: Circus.Event): void {
    if (!this.quiet) return;
    const everyTest = (hook: Circus.Hook) => hook.type === 'beforeAll' || hook.type === 'afterAll';
    if (event.name === 'test_start' || (event.name === 'hook_start' && everyTest(event.hook))) this.kept = [];
    else if (event.name === 'test_done' && event.test.errors.length > 0) this.print(`test "${fullName(event.test)}"`);
    else if (event.name === 'hook_failure' && everyTest(event.hook)) this.print(`${event.hook.type} hook`);
  }

  private print(what: string): void {
    if (this.kept.length === 0) return;
    const left = Math.max(0, this.kept.length - MAX_PRINTED_LINES);
    const header = `── output of the failed ${what}${left > 0 ? `, its last ${MAX_PRINTED_LINES} lines of ${this.kept.length}` : ''} ──`;
    process.stderr.write(`\n${header}\n${this.kept.slice(left).join('\n')}\n── end of that output ──\n\n`);
  }
}

function fullName(test: Circus.TestEntry): string {
  const names = [test.name];
  for (let block = test.parent; block.parent !== undefined; block = block.parent) names.unshift(block.name);
  return names.join(' › ');
}
