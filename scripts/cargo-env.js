'use strict';
// The environment for cargo: points the v8 crate at the offline V8 archive in
// ../shared/v8 when it exists (an absolute path: the crate's build script runs
// in its own directory).
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');

function cargoEnv() {
  const env = { ...process.env };
  const archive = path.resolve(root, '..', 'shared', 'v8', 'librusty_v8_release_x86_64-unknown-linux-gnu.a.gz');
  if (!env.RUSTY_V8_ARCHIVE && fs.existsSync(archive)) env.RUSTY_V8_ARCHIVE = archive;
  return env;
}

module.exports = { root, cargoEnv };
