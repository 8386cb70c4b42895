#!/usr/bin/env node
'use strict';
// `npm test`: the Rust unit tests, then every node:test file under test/.
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
function run(cmd, args) {
  console.log(`\n> ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root });
  return r.status === null ? 1 : r.status;
}

let status = run(process.execPath, [path.join(__dirname, 'cargo-test.js')]);
const files = fs
  .readdirSync(path.join(root, 'test'))
  .filter((f) => f.endsWith('.test.js'))
  .sort()
  .map((f) => path.join('test', f));
const js = run(process.execPath, ['--test', '--test-concurrency=1', ...files]);
process.exit(status || js);
