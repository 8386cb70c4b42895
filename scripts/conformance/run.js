'use strict';
// Differential conformance run for the transfer model (References, Callbacks,
// ExternalCopy, TransferOptions in every direction: Node <-> guest, guest <->
// guest): every case of cases.js against isolated-vm 5.0.4 and against
// v8-isolates; prints each case whose outcome differs. (core.js is the battery
// for Isolate/Context/Script/Module/errors.) Differences kept on purpose are
// listed in docs/DECISIONS.md.
// usage: node scripts/conformance/run.js [name-regexp] [--all]
const { spawn } = require('child_process');
const path = require('path');
const cases = require('./cases');

const filter = process.argv[2] && !process.argv[2].startsWith('--') ? process.argv[2] : '';
const showAll = process.argv.includes('--all');
const CASE_MS = 8000;

function runLib(which) {
  return new Promise((resolve) => {
    const results = new Map();
    const go = (start) => {
      const child = spawn(process.execPath, ['--no-node-snapshot', path.join(__dirname, 'worker.js'), which, String(start), filter], { stdio: ['ignore', 'pipe', 'pipe'] });
      let buf = '';
      let last = start - 1;
      let stderr = '';
      let timer;
      const arm = () => {
        clearTimeout(timer);
        timer = setTimeout(() => child.kill('SIGKILL'), CASE_MS);
      };
      arm();
      child.stderr.on('data', (d) => { stderr += d; });
      child.stdout.on('data', (d) => {
        buf += d;
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          let o;
          try { o = JSON.parse(line); } catch { continue; }
          if (o.done) { last = cases.length; continue; }
          results.set(o.name, o.r);
          last = o.i;
          arm();
        }
      });
      child.on('exit', (code, signal) => {
        clearTimeout(timer);
        if (last >= cases.length - 1) return resolve(results);
        // find the next case that matches the filter
        let next = last + 1;
        const re = filter ? new RegExp(filter) : null;
        while (next < cases.length && re && !re.test(cases[next].name)) next++;
        if (next >= cases.length) return resolve(results);
        const why = signal === 'SIGKILL' ? 'HANG (killed)' : `CRASH (${signal || code}) ${stderr.split('\n').filter(Boolean).slice(-2).join(' | ').slice(0, 200)}`;
        results.set(cases[next].name, why);
        go(next + 1);
      });
    };
    go(0);
  });
}

(async () => {
  const [a, b] = await Promise.all([runLib('ivm'), runLib('ours')]);
  let diffs = 0;
  let n = 0;
  for (const c of cases) {
    if (!a.has(c.name) && !b.has(c.name)) continue;
    n++;
    const x = a.get(c.name);
    const y = b.get(c.name);
    if (x !== y) {
      diffs++;
      console.log(`DIFF ${c.name}\n   ivm:  ${x}\n   ours: ${y}`);
    } else if (showAll) {
      console.log(`same ${c.name}: ${x}`);
    }
  }
  console.log(`${n} cases, ${diffs} differences`);
})();
