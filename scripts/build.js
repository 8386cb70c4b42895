#!/usr/bin/env node
'use strict';
// Builds the native addon in release mode and copies it to build/.
// Uses the offline V8 archive in ../shared/v8 when it exists.
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const { root, cargoEnv } = require('./cargo-env');

const env = cargoEnv();

const args = ['build', '--release', '--manifest-path', path.join(root, 'Cargo.toml'), ...process.argv.slice(2)];
const r = spawnSync('cargo', args, { stdio: 'inherit', env, cwd: root });
if (r.error) {
  console.error(`v8-isolates: could not run cargo (${r.error.message}). Install Rust from https://rustup.rs.`);
  process.exit(1);
}
if (r.status !== 0) process.exit(r.status || 1);

const ext = process.platform === 'darwin' ? 'dylib' : process.platform === 'win32' ? 'dll' : 'so';
const prefix = process.platform === 'win32' ? '' : 'lib';
const src = path.join(root, 'target', 'release', `${prefix}v8_isolates.${ext}`);
const dst = path.join(root, 'build', 'v8_isolates.node');
fs.mkdirSync(path.dirname(dst), { recursive: true });
// Copy to a temp name and rename, so a running process keeps its mapping.
const tmp = `${dst}.${process.pid}.tmp`;
fs.copyFileSync(src, tmp);
fs.renameSync(tmp, dst);
console.log(`v8-isolates: built ${path.relative(root, dst)}`);
