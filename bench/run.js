'use strict';
// Benchmark runner: v8-isolates ("ours") against isolated-vm ("ivm").
//
//   npm run bench                        all scenarios
//   node bench/run.js create timeout     a subset, by name
//   node bench/run.js --quick            fewer repetitions and iterations
//   node bench/run.js --reps 7           repetitions per implementation
//   node bench/run.js --list             list scenarios
//   node bench/run.js --report           print the table of the last run again
//
// Every repetition of every scenario runs in a fresh child process
// (`node --no-node-snapshot --expose-gc bench/scenario.js <impl> <name>`);
// isolated-vm needs --no-node-snapshot, and both implementations get the same
// flags. Repetitions alternate between the implementations (and which one
// goes first), and the median of each side is reported. Ratios are
// ours ÷ ivm. Results go to stdout and to bench/results.json.

const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawn, spawnSync } = require('child_process');
const scenarios = require('./scenarios');
const { median } = require('./util');

const BENCH_DIR = __dirname;
const ROOT = path.join(BENCH_DIR, '..');
const RESULTS = path.join(BENCH_DIR, 'results.json');
const CHILD = path.join(BENCH_DIR, 'scenario.js');
const NODE_FLAGS = ['--no-node-snapshot', '--expose-gc'];
const MARK = 'BENCH_RESULT ';
const CHILD_TIMEOUT_MS = 120000;
const IMPLS = ['ours', 'ivm'];

// ---------------------------------------------------------------------------
// Command line

function parseArgs(argv) {
  const opts = { quick: false, reps: undefined, names: [], list: false, report: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') opts.quick = true;
    else if (a === '--list') opts.list = true;
    else if (a === '--report') opts.report = true;
    else if (a === '--reps') opts.reps = Number(argv[++i]);
    else if (a.startsWith('--reps=')) opts.reps = Number(a.slice(7));
    else if (a === '--help' || a === '-h') opts.help = true;
    else if (a.startsWith('-')) throw new Error(`unknown option ${a}`);
    else opts.names.push(a);
  }
  if (opts.reps === undefined) opts.reps = opts.quick ? 3 : 5;
  if (!Number.isInteger(opts.reps) || opts.reps < 1) throw new Error('--reps needs a positive integer');
  return opts;
}

// ---------------------------------------------------------------------------
// Setup

// isolated-vm is a bench-only dependency (bench/package.json), installed on
// first use. It compiles with node-gyp, which takes a minute or two.
function ensureIsolatedVm() {
  const pkg = path.join(BENCH_DIR, 'node_modules', 'isolated-vm', 'package.json');
  if (fs.existsSync(pkg)) return;
  console.log('isolated-vm is not installed for the benchmarks; running');
  console.log('  npm install --prefix bench --no-audit --no-fund   (builds with node-gyp, ~1-2 min)\n');
  const win = process.platform === 'win32';
  const r = spawnSync(win ? 'npm.cmd' : 'npm', ['install', '--prefix', BENCH_DIR, '--no-audit', '--no-fund'], {
    cwd: ROOT,
    stdio: 'inherit',
    shell: win,
  });
  if (r.error || r.status !== 0 || !fs.existsSync(pkg)) {
    console.error('\nInstalling isolated-vm failed' + (r.error ? `: ${r.error.message}` : ` (exit ${r.status})`));
    console.error('It needs a C++ toolchain and Python for node-gyp.');
    process.exit(1);
  }
  console.log('');
}

function ensureAddon() {
  try {
    require.resolve(path.join(ROOT, 'lib'));
    if (!fs.existsSync(path.join(ROOT, 'build', 'v8_isolates.node')) && !process.env.V8_ISOLATES_ADDON) {
      throw new Error('build/v8_isolates.node is missing');
    }
  } catch (e) {
    console.error(`v8-isolates is not built (${e.message}); run \`npm run build\` first.`);
    process.exit(1);
  }
}

function versionOf(file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')).version;
  } catch {
    return undefined;
  }
}

// Which build was measured: the checkout's commit (+ "-dirty") and when the
// addon binary was written.
function gitCommit() {
  const r = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) return undefined;
  const dirty = spawnSync('git', ['status', '--porcelain', '--untracked-files=no', '--', 'native', 'lib'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  return r.stdout.trim() + (dirty.status === 0 && dirty.stdout.trim() ? '-dirty' : '');
}

function addonBuilt() {
  try {
    return fs.statSync(process.env.V8_ISOLATES_ADDON || path.join(ROOT, 'build', 'v8_isolates.node')).mtime.toISOString();
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------
// Children

function runChild(impl, name, quick) {
  return new Promise((resolve) => {
    const args = [...NODE_FLAGS, CHILD, impl, name];
    if (quick) args.push('--quick');
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const line = out.split('\n').find((l) => l.startsWith(MARK));
      if (code === 0 && line) {
        try {
          resolve({ ok: true, result: JSON.parse(line.slice(MARK.length)) });
          return;
        } catch {
          // fall through
        }
      }
      const why = signal ? `killed by ${signal}` : `exit ${code}`;
      resolve({ ok: false, error: `${impl} ${name}: ${why}\n${excerpt(err || out)}` });
    });
  });
}

// The start of a child's error output (the message and the top frames),
// without the flag warnings the bundled V8 prints at start-up.
function excerpt(text) {
  const noise = /^(Error: unrecognized flag|The remaining arguments were ignored|Try --help for options)/;
  return text
    .split('\n')
    .filter((l) => l.trim() && !noise.test(l))
    .slice(0, 6)
    .join('\n');
}

// One retry: a child can die for reasons outside the benchmark (for
// example the addon being rebuilt underneath the run).
async function runChildRetry(impl, name, quick) {
  const first = await runChild(impl, name, quick);
  if (first.ok) return first;
  const second = await runChild(impl, name, quick);
  if (second.ok) return second;
  return { ok: false, error: first.error };
}

// ---------------------------------------------------------------------------
// Judging and formatting

function judge(scenario, ours, ivm) {
  const t = scenario.target;
  const ratio = ours / ivm;
  if (!t) return { ratio, pass: undefined };
  const subject = t.on === 'ratio' ? ratio : ours;
  if (!Number.isFinite(subject)) return { ratio, pass: false };
  const pass = t.op === '<=' ? subject <= t.value : subject >= t.value;
  return { ratio, pass };
}

function fmtNumber(v) {
  if (!Number.isFinite(v)) return 'n/a';
  const a = Math.abs(v);
  if (a >= 10000) return Math.round(v).toLocaleString('en-US');
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

function fmtValue(v, unit) {
  if (!Number.isFinite(v)) return 'ERR';
  return unit === 'x' ? `${fmtNumber(v)}x` : `${fmtNumber(v)} ${unit}`;
}

// `s` is a scenario or a result row: both have unit, direction and target.
function fmtTarget(s) {
  const t = s.target;
  if (!t) return '-';
  const op = t.op === '<=' ? '≤' : '≥';
  const unit = t.on === 'ours' ? (s.unit === 'x' ? 'x' : ` ${s.unit}`) : '';
  return `${t.on === 'ratio' ? 'ratio' : 'ours'} ${op} ${t.value}${unit}`;
}

function fmtRatio(s, ratio) {
  if (!Number.isFinite(ratio)) return 'n/a';
  // Three decimals, so a ratio just over its target does not print as equal.
  const text = ratio < 10 ? ratio.toFixed(3) : ratio.toFixed(1);
  // For "higher is better" metrics (ops/s, speedup) the ratio reads the
  // other way round from the time ratios: above 1 means ours is better.
  return s.direction === 'higher' ? `${text} (higher=better)` : text;
}

function table(rows) {
  const header = ['scenario', 'ours', 'ivm', 'ratio ours/ivm', 'target', 'result'];
  const cells = rows.map((r) => [
    r.name,
    fmtValue(r.ours, r.unit),
    fmtValue(r.ivm, r.unit),
    fmtRatio(r, r.ratio),
    fmtTarget(r),
    r.pass === undefined ? (r.error ? 'ERROR' : '-') : r.pass ? 'PASS' : 'MISS',
  ]);
  const width = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c) => c.map((s, i) => (i === 0 ? s.padEnd(width[i]) : s.padStart(width[i]))).join('  ');
  return [line(header), width.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}

// ---------------------------------------------------------------------------

// `--report`: prints the table of the last run (bench/results.json) again.
function report() {
  const last = JSON.parse(fs.readFileSync(RESULTS, 'utf8'));
  const v = last.versions;
  console.log(`${last.date} | ${last.command} | v8-isolates ${v['v8-isolates']} (${v['v8-isolates-commit']}) vs isolated-vm ${v['isolated-vm']}`);
  console.log(`${last.machine.cpus} x ${last.machine.cpu}, ${last.machine.memoryGB} GB | node ${last.machine.node}\n`);
  console.log(table(last.results));
}

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(e.message);
    process.exit(2);
  }
  if (opts.help || opts.list) {
    if (opts.help) console.log('usage: node bench/run.js [--quick] [--reps N] [--list] [--report] [scenario ...]\n');
    for (const s of scenarios) console.log(`${s.name.padEnd(12)} ${s.title}  [${fmtTarget(s)}]`);
    return;
  }
  if (opts.report) {
    report();
    return;
  }
  const unknown = opts.names.filter((n) => !scenarios.some((s) => s.name === n));
  if (unknown.length) {
    console.error(`unknown scenario(s): ${unknown.join(', ')}; known: ${scenarios.map((s) => s.name).join(', ')}`);
    process.exit(2);
  }
  const selected = opts.names.length ? scenarios.filter((s) => opts.names.includes(s.name)) : scenarios;

  ensureAddon();
  ensureIsolatedVm();

  const cpus = os.cpus();
  const machine = {
    cpu: cpus.length ? cpus[0].model : 'unknown',
    cpus: cpus.length,
    memoryGB: +(os.totalmem() / 2 ** 30).toFixed(1),
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    node: process.version,
    hostV8: process.versions.v8,
  };
  const versions = {
    'v8-isolates': versionOf(path.join(ROOT, 'package.json')),
    'v8-isolates-commit': gitCommit(),
    'v8-isolates-addon-built': addonBuilt(),
    'isolated-vm': versionOf(path.join(BENCH_DIR, 'node_modules', 'isolated-vm', 'package.json')),
  };
  console.log(
    `v8-isolates ${versions['v8-isolates']} vs isolated-vm ${versions['isolated-vm']} | node ${machine.node} | ` +
      `${machine.cpus} x ${machine.cpu} | ${opts.reps} rep(s)${opts.quick ? ', quick' : ''}`,
  );
  const load = os.loadavg()[0];
  if (load > 0.5 * machine.cpus) {
    console.log(`warning: 1-min load average is ${load.toFixed(2)}; other work on the machine skews the numbers`);
  }
  console.log('');

  // A scenario's parts (`printExtras`): each numeric field's median, both
  // implementations and their ratio.
  function printExtras(extras, unit) {
    const keys = Object.keys(extras.ours[0] ?? extras.ivm[0] ?? {});
    for (const k of keys) {
      const o = median(extras.ours.map((e) => e[k]));
      const i = median(extras.ivm.map((e) => e[k]));
      if (!Number.isFinite(o) && !Number.isFinite(i)) continue;
      const ratio = Number.isFinite(o) && Number.isFinite(i) ? ` (${(o / i).toFixed(2)})` : '';
      console.log(`  ${k.padEnd(16)} ours ${fmtValue(o, unit)}, ivm ${fmtValue(i, unit)}${ratio}`);
    }
  }

  const started = Date.now();
  const rows = [];
  for (const scenario of selected) {
    const samples = { ours: [], ivm: [] };
    const extras = { ours: [], ivm: [] };
    const errors = [];
    const loadBefore = os.loadavg()[0];
    process.stdout.write(`${scenario.name.padEnd(12)} `);
    for (let rep = 0; rep < opts.reps; rep++) {
      // Alternate which implementation goes first.
      const order = rep % 2 ? [...IMPLS].reverse() : IMPLS;
      for (const impl of order) {
        const r = await runChildRetry(impl, scenario.name, opts.quick);
        if (r.ok) {
          const { value, ...extra } = r.result;
          samples[impl].push(value);
          extras[impl].push(extra);
          process.stdout.write('.');
        } else {
          errors.push(r.error);
          process.stdout.write('x');
        }
      }
    }
    const ours = median(samples.ours);
    const ivm = median(samples.ivm);
    const { ratio, pass } = judge(scenario, ours, ivm);
    const row = {
      name: scenario.name,
      title: scenario.title,
      unit: scenario.unit,
      direction: scenario.direction,
      target: scenario.target,
      ours,
      ivm,
      ratio,
      pass: Number.isFinite(ours) && Number.isFinite(ivm) ? pass : undefined,
      samples,
      extras,
      loadavg: { before: loadBefore, after: os.loadavg()[0] },
      scenario,
    };
    if (errors.length) row.error = errors;
    rows.push(row);
    console.log(
      ` ours ${fmtValue(ours, scenario.unit)}, ivm ${fmtValue(ivm, scenario.unit)}` +
        (row.pass === undefined ? '' : ` -> ${row.pass ? 'PASS' : 'MISS'}`),
    );
    if (scenario.printExtras) printExtras(extras, scenario.unit);
    for (const e of errors) console.log(`  ${e.replace(/\n/g, '\n  ')}`);
  }

  console.log(`\n${table(rows)}\n`);
  const missed = rows.filter((r) => r.pass === false).length;
  const passed = rows.filter((r) => r.pass === true).length;
  const broken = rows.filter((r) => r.pass === undefined && r.error).length;
  console.log(
    `${passed} pass, ${missed} miss${broken ? `, ${broken} error` : ''} ` +
      `in ${((Date.now() - started) / 1000).toFixed(0)} s. ` +
      'Ratios are ours ÷ ivm; for ops/s and speedups (marked higher=better) above 1 favours ours.',
  );

  const out = {
    date: new Date().toISOString(),
    command: `node bench/run.js ${process.argv.slice(2).join(' ')}`.trim(),
    quick: opts.quick,
    reps: opts.reps,
    machine,
    versions,
    results: rows.map(({ scenario, ...r }) => r),
  };
  fs.writeFileSync(RESULTS, JSON.stringify(out, null, 2) + '\n');
  console.log(`Wrote ${path.relative(process.cwd(), RESULTS) || RESULTS}`);
  // A MISS is a result; a scenario that could not run is a failure.
  if (broken) process.exitCode = 1;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
