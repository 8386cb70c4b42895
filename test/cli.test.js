'use strict';
// bin/v8-isolates.js: `run <file>` output, errors and exit codes.
const { test, before, after } = require('node:test');
const assert = require('node:assert');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.join(__dirname, '..');
const bin = path.join(root, 'bin', 'v8-isolates.js');
let dir;

function write(name, source) {
  const file = path.join(dir, name);
  fs.writeFileSync(file, source);
  return file;
}

function cli(args, options = {}) {
  const r = spawnSync(process.execPath, [bin, ...args], {
    cwd: options.cwd || dir,
    encoding: 'utf8',
    timeout: options.timeout || 60_000,
  });
  assert.ifError(r.error);
  return r;
}

function show(r) {
  return `exit ${r.status} (signal ${r.signal})\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'v8-isolates-cli-'));
});

after(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

test('the bin file is executable and has a node shebang', { skip: process.platform === 'win32' }, () => {
  const st = fs.statSync(bin);
  assert.ok(st.mode & 0o111, 'executable bit set');
  assert.match(fs.readFileSync(bin, 'utf8'), /^#!\/usr\/bin\/env node\n/);
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  assert.strictEqual(pkg.bin['v8-isolates'], 'bin/v8-isolates.js');
});

test('run prints the completion value copied out of the isolate', () => {
  const file = write('ok.js', 'const xs = [1, 2, 3];\nxs.map((x) => x * 2).concat([{ sum: xs.reduce((a, b) => a + b) }])\n');
  const r = cli(['run', file]);
  assert.strictEqual(r.status, 0, show(r));
  assert.strictEqual(r.stdout, "[ 2, 4, 6, { sum: 6 } ]\n");
});

test('strings print raw, undefined prints undefined', () => {
  let r = cli(['run', write('str.js', '"hello " + "world"')]);
  assert.strictEqual(r.status, 0, show(r));
  assert.strictEqual(r.stdout, 'hello world\n');
  r = cli(['run', write('undef.js', 'var x = 1;')]);
  assert.strictEqual(r.status, 0, show(r));
  assert.strictEqual(r.stdout, 'undefined\n');
});

test('the guest has no Node APIs', () => {
  const r = cli(['run', write('globals.js', '[typeof require, typeof process, typeof globalThis.Array]')]);
  assert.strictEqual(r.status, 0, show(r));
  assert.strictEqual(r.stdout, "[ 'undefined', 'undefined', 'function' ]\n");
});

test('a value that cannot be cloned falls back to a description', () => {
  let r = cli(['run', write('fn.js', '(function namedFn() {})')]);
  assert.strictEqual(r.status, 0, show(r));
  assert.strictEqual(r.stdout, '[Function: namedFn]\n');
  r = cli(['run', write('sym.js', 'Symbol("s")')]);
  assert.strictEqual(r.status, 0, show(r));
  assert.strictEqual(r.stdout, 'undefined\n');
  assert.match(r.stderr, /could not be copied out/);
});

test('options may come before or after the file, with = or a separate value', () => {
  const file = write('opts.js', '6 * 7');
  for (const args of [
    ['run', file, '--timeout', '5000', '--memory-limit', '32'],
    ['--memory-limit=32', 'run', '--timeout=5000', file],
  ]) {
    const r = cli(args);
    assert.strictEqual(r.status, 0, show(r));
    assert.strictEqual(r.stdout, '42\n');
  }
});

test('a thrown error prints its stack, with the file name, and exits 1', () => {
  const file = write('throws.js', 'function explode() {\n  throw new TypeError("kaboom");\n}\nexplode();\n');
  const r = cli(['run', file]);
  assert.strictEqual(r.status, 1, show(r));
  assert.strictEqual(r.stdout, '');
  assert.match(r.stderr, /TypeError: kaboom/);
  // Frames point into the script by path, line and column.
  assert.ok(r.stderr.includes(`at explode (${file}:2:9)`), show(r));
  assert.ok(r.stderr.includes(`${file}:4:1`), show(r));
  // Host frames of the CLI itself are not shown.
  assert.ok(!r.stderr.includes('isolated-vm boundary'), show(r));
  assert.ok(!r.stderr.includes(bin), show(r));
});

test('a relative path is shown resolved in stacks', () => {
  write('rel.js', 'null.x');
  const r = cli(['run', 'rel.js']);
  assert.strictEqual(r.status, 1, show(r));
  assert.match(r.stderr, /TypeError: Cannot read properties of null/);
  assert.ok(r.stderr.includes(path.join(dir, 'rel.js')), show(r));
});

test('a syntax error names the file and exits 1', () => {
  const file = write('syntax.js', 'let x = ;\n');
  const r = cli(['run', file]);
  assert.strictEqual(r.status, 1, show(r));
  assert.match(r.stderr, /SyntaxError: /);
  assert.ok(r.stderr.includes(file), show(r));
});

test('a thrown primitive is reported and exits 1', () => {
  const r = cli(['run', write('prim.js', 'throw 42')]);
  assert.strictEqual(r.status, 1, show(r));
  assert.strictEqual(r.stderr.trim().split('\n').pop(), 'Uncaught 42');
});

test('--timeout stops an endless loop with exit code 2', () => {
  const file = write('loop.js', 'for (;;) {}');
  const started = Date.now();
  const r = cli(['run', file, '--timeout', '100']);
  assert.strictEqual(r.status, 2, show(r));
  assert.match(r.stderr, /timed out after 100 ms/);
  assert.match(r.stderr, /Script execution timed out\./);
  assert.ok(Date.now() - started < 30_000);
});

test('--memory-limit stops an allocation loop with exit code 3', () => {
  const file = write('alloc.js', 'const keep = [];\nfor (;;) keep.push([keep.length, { n: keep.length }]);\n');
  const r = cli(['run', file, '--memory-limit', '16'], { timeout: 120_000 });
  assert.strictEqual(r.status, 3, show(r));
  assert.match(r.stderr, /exceeded the memory limit of 16 MB/);
  assert.match(r.stderr, /memory limit/);
});

test('usage errors exit 64 with a usage line', () => {
  const cases = [
    [],
    ['run'],
    ['frobnicate', 'x.js'],
    ['run', 'a.js', 'b.js'],
    ['run', 'a.js', '--timeout'],
    ['run', 'a.js', '--timeout', 'soon'],
    ['run', 'a.js', '--timeout=-1'],
    ['run', 'a.js', '--memory-limit', '4'],
    ['run', 'a.js', '--memory-limit', '1.5'],
    ['run', 'a.js', '--bogus'],
  ];
  for (const args of cases) {
    const r = cli(args);
    assert.strictEqual(r.status, 64, `${JSON.stringify(args)}\n${show(r)}`);
    assert.match(r.stderr, /^Usage: v8-isolates run <file\.js>/m, JSON.stringify(args));
    assert.strictEqual(r.stdout, '');
  }
});

test('an unreadable file exits 66', () => {
  const r = cli(['run', path.join(dir, 'missing.js')]);
  assert.strictEqual(r.status, 66, show(r));
  assert.match(r.stderr, /cannot read .*missing\.js: ENOENT/);
});

test('--help prints usage and the exit codes', () => {
  for (const flag of ['--help', '-h']) {
    const r = cli([flag]);
    assert.strictEqual(r.status, 0, show(r));
    assert.match(r.stdout, /^Usage: v8-isolates run <file\.js> \[--memory-limit MB\] \[--timeout ms\]/);
    assert.match(r.stdout, /2 +the script timed out/);
    assert.match(r.stdout, /3 +the script exceeded the memory limit/);
    assert.match(r.stdout, /64 +usage error/);
  }
});

test('--version prints the package version', () => {
  const r = cli(['--version']);
  assert.strictEqual(r.status, 0, show(r));
  assert.strictEqual(r.stdout.trim(), require('../package.json').version);
});

test('console.log/info print to stdout and warn/error to stderr, in order', () => {
  const file = write('console.js', [
    "console.log('hello', 1, { a: [1, 2] });",
    "console.info('%d items', 3);",
    "console.error('bad', new Error('x').message);",
    "console.warn('careful');",
    "console.log('fn', function foo() {}, Symbol('s'), { f() {} });",
    "'done'",
  ].join('\n'));
  const r = cli(['run', file]);
  assert.strictEqual(r.status, 0, show(r));
  assert.strictEqual(r.stdout, "hello 1 { a: [ 1, 2 ] }\n3 items\nfn [Function: foo] Symbol(s) {}\ndone\n");
  assert.strictEqual(r.stderr, 'bad x\ncareful\n');
});

test('a guest may replace its console', () => {
  const r = cli(['run', write('console2.js', "console = { log() {} }; console.log('hidden'); 1")]);
  assert.strictEqual(r.status, 0, show(r));
  assert.strictEqual(r.stdout, '1\n');
});
