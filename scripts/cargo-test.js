#!/usr/bin/env node
'use strict';
// Runs the Rust unit tests with the offline V8 archive when present.
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const env = { ...process.env };
const archive = path.resolve(root, '..', 'shared', 'v8', 'librusty_v8_release_x86_64-unknown-linux-gnu.a.gz');
if (!env.RUSTY_V8_ARCHIVE && fs.existsSync(archive)) env.RUSTY_V8_ARCHIVE = archive;
const r = spawnSync('cargo', ['test', '--release', '--lib', '--manifest-path', path.join(root, 'Cargo.toml')], {
  stdio: 'inherit',
  env,
  cwd: root,
});
process.exit(r.status === null ? 1 : r.status);
