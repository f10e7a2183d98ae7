#!/usr/bin/env node
// `npx atlassian-audit …`: runs the TypeScript client through tsx, so no build step is needed.
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const tsx = require.resolve('tsx/cli');
const main = path.join(__dirname, '..', 'src', 'client', 'main.ts');
const result = spawnSync(process.execPath, [tsx, main, ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(result.status ?? 1);
