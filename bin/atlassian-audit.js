#!/usr/bin/env node
// `npx atlassian-audit …`: runs the TypeScript client through tsx, so no build step is needed. Signals are passed
// on, so `docker stop` or a supervisor's SIGTERM reaches long-running commands such as `codec-server`.
const { spawn } = require('node:child_process');
const path = require('node:path');
const tsx = require.resolve('tsx/cli');
const main = path.join(__dirname, '..', 'client', 'main.ts');
const child = spawn(process.execPath, [tsx, main, ...process.argv.slice(2)], { stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
