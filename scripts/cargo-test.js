#!/usr/bin/env node
'use strict';
// Runs the Rust unit tests with the offline V8 archive when present.
const { spawnSync } = require('child_process');
const path = require('path');
const { root, cargoEnv } = require('./cargo-env');

const env = cargoEnv();
const r = spawnSync('cargo', ['test', '--release', '--lib', '--manifest-path', path.join(root, 'Cargo.toml')], {
  stdio: 'inherit',
  env,
  cwd: root,
});
process.exit(r.status === null ? 1 : r.status);
