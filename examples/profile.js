'use strict';
// Profile guest code: the CPU profile is Chrome's .cpuprofile format, which
// DevTools (Performance panel → "Load profile...") and speedscope open.
//
//   node examples/profile.js [out.cpuprofile]
const fs = require('fs');
const ivm = require('..');

async function main() {
  const isolate = new ivm.Isolate();
  const context = await isolate.createContext();
  await context.eval(
    [
      'function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }',
      'function sortMany() { const a = []; for (let i = 0; i < 2e5; i++) a.push((i * 7919) % 10007); return a.sort((x, y) => x - y).length; }',
    ].join('\n'),
    { filename: 'file:///workload.js' },
  );

  isolate.startCpuProfiler('workload'); // sampling starts before the next call runs
  await context.eval('fib(25); sortMany(); fib(24)');
  const [{ threadId, profile }] = await isolate.stopCpuProfiler('workload');

  // Self time per function: samples that landed in it.
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  for (const id of profile.samples) {
    const f = byId.get(id).callFrame;
    const key = `${f.functionName || '(anonymous)'} ${f.url}${f.url ? `:${f.lineNumber + 1}` : ''}`;
    self.set(key, (self.get(key) || 0) + 1);
  }
  const top = [...self].sort((a, b) => b[1] - a[1]).slice(0, 5);
  console.log(`isolate thread ${threadId}: ${profile.samples.length} samples over ${((profile.endTime - profile.startTime) / 1000).toFixed(1)} ms`);
  for (const [name, n] of top) console.log(`${String(n).padStart(6)}  ${name}`);

  const out = process.argv[2];
  if (out) {
    fs.writeFileSync(out, JSON.stringify(profile));
    console.log(`wrote ${out}`);
  }
  isolate.dispose();
}

main();
