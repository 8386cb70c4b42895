'use strict';
// Child process: runs one scenario against one implementation and prints
// one line `BENCH_RESULT <json>` to stdout.
//
//   node --no-node-snapshot --expose-gc bench/scenario.js <ours|ivm> <name> [--quick]

const path = require('path');
const scenarios = require('./scenarios');

const MARK = 'BENCH_RESULT ';

function load(impl) {
  if (impl === 'ours') return require(path.join(__dirname, '..', 'lib'));
  if (impl === 'ivm') return require(path.join(__dirname, 'node_modules', 'isolated-vm'));
  throw new Error(`unknown implementation '${impl}' (expected ours or ivm)`);
}

async function main() {
  const [impl, name, ...rest] = process.argv.slice(2);
  const scenario = scenarios.find((s) => s.name === name);
  if (!scenario) throw new Error(`unknown scenario '${name}'`);
  const ivm = load(impl);
  const result = await scenario.run(ivm, { impl, quick: rest.includes('--quick') });
  if (!result || typeof result.value !== 'number' || !Number.isFinite(result.value)) {
    throw new Error(`scenario '${name}' returned no finite value`);
  }
  return result;
}

main().then(
  (result) => {
    // Exit explicitly: isolates a scenario kept alive must not hold the process.
    process.stdout.write(MARK + JSON.stringify(result) + '\n', () => process.exit(0));
  },
  (err) => {
    process.stderr.write(`${(err && err.stack) || err}\n`, () => process.exit(1));
  },
);
