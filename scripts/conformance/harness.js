'use strict';
// Differential testing against isolated-vm: runs one battery of cases against
// both libraries, each in child processes (a hang or crash loses one case,
// not the run), and prints every case whose observed outcome differs.
//
//   node scripts/conformance/core.js [filter]
//
// isolated-vm 5.0.4 is looked up at $IVM_PATH or
// /tmp/ivmbench/node_modules/isolated-vm; children run with
// --no-node-snapshot (isolated-vm needs it on Node 20+).
const { spawn } = require('node:child_process');
const path = require('node:path');
const util = require('node:util');

const IVM_PATH = process.env.IVM_PATH || '/tmp/ivmbench/node_modules/isolated-vm';
const OURS_PATH = path.join(__dirname, '..', '..', 'lib');
const CASE_TIMEOUT = 4000; // ms without output before a case counts as hung

// ---------------------------------------------------------------------------
// Describing outcomes (also sent into guests as source text)

function describe(v, depth = 0) {
  if (v === null) return 'null';
  const t = typeof v;
  if (t === 'undefined') return 'undefined';
  if (t === 'number') return Object.is(v, -0) ? 'number:-0' : `number:${v}`;
  if (t === 'bigint') return `bigint:${v}`;
  if (t === 'string') return `string:${JSON.stringify(v.length > 200 ? v.slice(0, 200) + '…' : v)}`;
  if (t === 'boolean') return `boolean:${v}`;
  if (t === 'symbol') return `symbol:${String(v)}`;
  let ctor;
  try {
    const p = Object.getPrototypeOf(v);
    ctor = p === null ? 'null-proto' : (p.constructor && p.constructor.name) || '?';
  } catch (e) {
    ctor = '!proto';
  }
  if (t === 'function') return { fn: ctor, name: v.name, length: v.length };
  if (v instanceof Error || (typeof v.stack === 'string' && typeof v.message === 'string')) return describeError(v, false);
  if (depth > 2) return `object:${ctor}`;
  if (Array.isArray(v)) return { array: v.map((x) => describe(x, depth + 1)) };
  const out = { ctor };
  let keys;
  try {
    keys = Reflect.ownKeys(v).map(String);
  } catch (e) {
    keys = ['!keys'];
  }
  if (keys.length) out.keys = keys.join(',');
  if (ctor === 'Object' || ctor === 'null-proto') {
    for (const k of keys.slice(0, 30)) {
      try {
        out['.' + k] = describe(v[k], depth + 1);
      } catch (e) {
        out['.' + k] = '!get';
      }
    }
  }
  if (ctor === 'ArrayBuffer') out.byteLength = v.byteLength;
  if (ArrayBuffer.isView(v)) out.view = Array.from(new Uint8Array(v.buffer, v.byteOffset, v.byteLength)).join(',');
  if (ctor === 'Date') out.time = v.getTime();
  if (ctor === 'Map') out.entries = describe([...v], depth + 1);
  if (ctor === 'Set') out.values = describe([...v], depth + 1);
  return out;
}

// Stack shape: the first line, then one letter per frame: G (guest code,
// named by the file names cases use), B (the boundary), H (host; runs
// collapsed).
function stackShape(stack) {
  if (typeof stack !== 'string') return `stack:${typeof stack}`;
  const lines = stack.split('\n');
  const out = [lines[0]];
  for (const l of lines.slice(1)) {
    let k;
    if (l === '    at (<isolated-vm boundary>)') k = 'B';
    else if (!l.startsWith('    at ')) k = `?${l}`;
    else if (/#walk|Array\.map|\(\/|\(node:/.test(l)) k = 'H';
    else if (/<isolated-vm>|guest\.js|<anonymous>|g\d\.js|\bmod\.js|snap\.js|<warm-up>/.test(l)) k = `G[${l.trim().replace(/^at /, '')}]`;
    else k = 'H';
    if (k === 'H' && out[out.length - 1] === 'H') continue;
    out.push(k);
  }
  // isolated-vm runs sync calls on Node's thread, so errors made there (compile
  // errors, disposal) carry Node's frames before the boundary as well: an
  // artifact, compared as if absent.
  if (out[1] === 'H' && out[2] === 'B') out.splice(1, 1);
  return out.join(' | ');
}

function describeError(e, thrown = true) {
  let ctor;
  try {
    ctor = Object.getPrototypeOf(e).constructor.name;
  } catch (x) {
    ctor = '?';
  }
  const own = Reflect.ownKeys(e).map(String).filter((k) => k !== 'stack' && k !== 'message' && k !== 'code');
  // Documented extras: our host-failure subclasses (named "Error") compare as
  // Error; isolated-vm's "Isolated is disposed" typo as the fixed text.
  if (/^(TimeoutError|IsolateDisposedError|MemoryLimitError)$/.test(ctor) && e.name === 'Error') ctor = 'Error';
  // isolated-vm 5.0.4 names methods `undefined` in argument errors.
  const fix = (s) =>
    typeof s === 'string' ? s.replace('Isolated is disposed', 'Isolate is disposed').replace(/`\w+` requires/g, '`METHOD` requires') : s;
  return {
    [thrown ? 'threw' : 'error']: ctor,
    isErrorInstance: e instanceof Error,
    name: e.name,
    message: fix(e.message),
    stack: fix(stackShape(e.stack)),
    ...(own.length ? { own: own.join(',') } : {}),
  };
}

function describeThrown(e) {
  if (e !== null && typeof e === 'object') return describeError(e);
  return { threwPrimitive: describe(e) };
}

const GUEST_HELPERS = `${describe}\n${stackShape}\n${describeError}\n${describeThrown}\n`;

// ---------------------------------------------------------------------------
// Child side

const HANG = Symbol('hang');

function makeHelpers(lib, isolates) {
  const h = {
    lib,
    // Outcome of fn: described value, or described throw (sync or async).
    async out(fn) {
      let v;
      try {
        v = fn();
      } catch (e) {
        return describeThrown(e);
      }
      if (v && typeof v.then === 'function' && v instanceof Promise) {
        let timer;
        const hang = new Promise((r) => {
          timer = setTimeout(() => r(HANG), 2500);
        });
        try {
          const r = await Promise.race([v, hang]);
          if (r === HANG) return 'HANG(async)';
          return { resolved: describe(r) };
        } catch (e) {
          return { rejected: describeThrown(e) };
        } finally {
          clearTimeout(timer);
        }
      }
      return describe(v);
    },
    iso(opts) {
      const i = new lib.Isolate(opts);
      isolates.push(i);
      return i;
    },
    ctx(opts) {
      const iso = h.iso(opts);
      const ctx = iso.createContextSync();
      return { iso, ctx, global: ctx.global };
    },
    // Runs `code` (a function body using out(fn) / ivm) in a guest that has
    // the library as `ivm`, during a sync call; returns its parsed result.
    guestSync(code, opts) {
      const { ctx } = h.ctx(opts);
      ctx.global.setSync('ivm', lib);
      const src = `${GUEST_HELPERS}
        function out(fn) { try { return describe(fn()); } catch (e) { return describeThrown(e); } }
        JSON.stringify((function () { ${code} })());`;
      try {
        return JSON.parse(ctx.evalSync(src, { filename: 'harness.js' }));
      } catch (e) {
        return { harnessThrew: describeThrown(e) };
      }
    },
    async guestAsync(code, opts) {
      const { ctx } = h.ctx(opts);
      ctx.global.setSync('ivm', lib);
      const src = `${GUEST_HELPERS}
        async function out(fn) {
          try { return { resolved: describe(await fn()) }; } catch (e) { return { rejected: describeThrown(e) }; }
        }
        (async function () { ${code} })().then(JSON.stringify);`;
      let timer;
      const hang = new Promise((r) => {
        timer = setTimeout(() => r(HANG), 2500);
      });
      try {
        const r = await Promise.race([ctx.eval(src, { filename: 'harness.js', promise: true }), hang]);
        if (r === HANG) return 'HANG(async guest)';
        return typeof r === 'string' ? JSON.parse(r) : { harness: describe(r) };
      } catch (e) {
        return { harnessThrew: describeThrown(e) };
      } finally {
        clearTimeout(timer);
      }
    },
  };
  return h;
}

async function runChild(cases, which, from) {
  const lib = require(which === 'ivm' ? IVM_PATH : OURS_PATH);
  const write = (o) => require('fs').writeSync(1, JSON.stringify(o) + '\n');
  for (let i = from; i < cases.length; i++) {
    const [name, fn] = cases[i];
    write({ i, start: name });
    const isolates = [];
    const h = makeHelpers(lib, isolates);
    let r;
    try {
      r = await fn(h, lib);
    } catch (e) {
      r = { caseThrew: describeThrown(e) };
    }
    for (const iso of isolates) {
      try {
        if (!iso.isDisposed) iso.dispose();
      } catch (e) {
        /* already gone */
      }
    }
    write({ i, name, r });
  }
  write({ done: true });
  process.exit(0);
}

// ---------------------------------------------------------------------------
// Parent side

function runLib(which, total, filterIdx) {
  return new Promise((resolve) => {
    const results = new Map();
    const go = (from) => {
      while (from < total && !filterIdx.has(from)) from++;
      if (from >= total) return resolve(results);
      const child = spawn(process.execPath, ['--no-node-snapshot', '--expose-gc', process.argv[1], '--child', which, String(from), [...filterIdx].join(',')], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let buf = '';
      let current = from;
      let stderr = '';
      let timer;
      let done = false;
      const arm = () => {
        clearTimeout(timer);
        timer = setTimeout(() => {
          results.set(current, 'HANG(sync or process)');
          child.kill('SIGKILL');
        }, CASE_TIMEOUT);
      };
      arm();
      child.stderr.on('data', (d) => {
        stderr += d;
      });
      child.stdout.on('data', (d) => {
        buf += d;
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          let o;
          try {
            o = JSON.parse(line);
          } catch (e) {
            continue;
          }
          if (o.done) done = true;
          else if (o.start !== undefined) current = o.i;
          else if (o.name !== undefined) results.set(o.i, o.r);
          arm();
        }
      });
      child.on('exit', (code, signal) => {
        clearTimeout(timer);
        if (!results.has(current)) {
          results.set(current, `CRASH(code=${code} signal=${signal}) ${stderr.split('\n').slice(0, 3).join(' / ')}`);
        }
        if (done) return resolve(results);
        go(current + 1);
      });
    };
    go(0);
  });
}

function main(cases) {
  if (process.argv[2] === '--child') {
    const only = new Set((process.argv[5] || '').split(',').filter(Boolean).map(Number));
    const list = cases.map((c, i) => (only.has(i) ? c : [c[0], async () => 'skipped']));
    return runChild(list, process.argv[3], Number(process.argv[4]));
  }
  const filter = process.argv[2] ? new RegExp(process.argv[2]) : null;
  const idx = new Set(cases.map((c, i) => i).filter((i) => !filter || filter.test(cases[i][0])));
  const verbose = process.env.VERBOSE === '1';
  return Promise.all([runLib('ivm', cases.length, idx), runLib('ours', cases.length, idx)]).then(([a, b]) => {
    let diffs = 0;
    for (const i of [...idx].sort((x, y) => x - y)) {
      const sa = util.inspect(a.get(i), { depth: 20, breakLength: 120 });
      const sb = util.inspect(b.get(i), { depth: 20, breakLength: 120 });
      if (sa !== sb) {
        diffs++;
        const va = a.get(i);
        const vb = b.get(i);
        const isObj = (v) => v && typeof v === 'object' && !Array.isArray(v);
        const show = (x) => util.inspect(x, { depth: 20, breakLength: Infinity, compact: true });
        if (isObj(va) && isObj(vb) && !va.threw && !va.rejected && !va.resolved) {
          console.log(`\n### DIFF ${cases[i][0]}`);
          for (const k of new Set([...Object.keys(va), ...Object.keys(vb)])) {
            if (show(va[k]) === show(vb[k])) continue;
            console.log(`  [${k}]\n  ivm:  ${show(va[k])}\n  ours: ${show(vb[k])}`);
          }
          continue;
        }
        console.log(`\n### DIFF ${cases[i][0]}\n  ivm:  ${show(va)}\n  ours: ${show(vb)}`);
      } else if (verbose) {
        console.log(`\n=== same ${cases[i][0]}\n  ${sa.replace(/\n/g, '\n  ')}`);
      }
    }
    console.log(`\n${idx.size} cases, ${diffs} differ`);
  });
}

module.exports = { main, describe };
