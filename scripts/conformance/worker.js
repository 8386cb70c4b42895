'use strict';
// Runs the battery of cases.js against one library, from case index `start`,
// printing one JSON line per case. run.js restarts it after a hang or crash.
const { __d, source } = require('./describe');
const cases = require('./cases');

const which = process.argv[2];
const start = Number(process.argv[3] || 0);
const filter = process.argv[4] ? new RegExp(process.argv[4]) : null;
const ivm = which === 'ivm' ? require('/tmp/ivmbench/node_modules/isolated-vm') : require('../../lib');
const HANG_MS = 2000;

class Described {
  constructor(text) { this.text = text; }
}

function makeEnv() {
  const iso = new ivm.Isolate({ memoryLimit: 64 });
  const ctx = iso.createContextSync();
  const global = ctx.global;
  global.setSync('ivm', ivm);
  ctx.evalSync(source);
  const env = {
    iso, ctx, global, ivm, Described,
    // Guest code (a function body) run by a sync eval, described in the guest.
    gs(body) {
      return new Described(ctx.evalSync(`(function () { try { return __d((function () { ${body}\n })()); } catch (e) { return __d.err(e); } })()`));
    },
    // The same, run by an async eval (guest code running asynchronously).
    async ga(body) {
      return new Described(await ctx.eval(`(async function () { try { return __d(await (async function () { ${body}\n })()); } catch (e) { return __d.err(e); } })()`, { promise: true }));
    },
  };
  return env;
}

function timeout(ms) {
  return new Promise((resolve) => { const t = setTimeout(() => resolve('HANG'), ms); t.unref && false; });
}

async function describeResult(r) {
  if (r instanceof Described) return r.text;
  if (r !== null && typeof r === 'object' && Object.prototype.toString.call(r) === '[object Promise]') {
    try {
      const settled = await Promise.race([r.then((x) => ({ x })), timeout(HANG_MS)]);
      if (settled === 'HANG') return 'Promise->HANG';
      return 'Promise->' + (await describeResult(settled.x));
    } catch (e) {
      return 'Promise->' + __d.err(e);
    }
  }
  return __d(r);
}

let current = '';
process.on('uncaughtException', (e) => { process.stderr.write(`uncaught during/after ${current}: ${e && e.stack}\n`); });
process.on('unhandledRejection', (e) => { process.stderr.write(`unhandled rejection during/after ${current}: ${e && e.message}\n`); });

async function main() {
  for (let i = start; i < cases.length; i++) {
    const c = cases[i];
    if (filter && !filter.test(c.name)) continue;
    current = c.name;
    let env;
    let out;
    try {
      env = makeEnv();
      let r;
      try {
        r = c.fn(ivm, env);
      } catch (e) {
        r = new Described(__d.err(e));
      }
      out = await describeResult(r);
      if (out.startsWith('Promise->') && !c.keepPromise && !(r instanceof Described)) {
        // an async method: say it was a promise only when the case wants that
        out = c.async ? out : out;
      }
    } catch (e) {
      out = 'HARNESS ' + __d.err(e);
    }
    process.stdout.write(JSON.stringify({ i, name: c.name, r: out }) + '\n');
    try { if (env && !env.iso.isDisposed) env.iso.dispose(); } catch (e) { /* ignore */ }
  }
  process.stdout.write(JSON.stringify({ done: true }) + '\n');
  process.exit(0);
}
main();
