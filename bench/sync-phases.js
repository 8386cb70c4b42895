'use strict';
// Probe: applySync timed in 200 ms windows next to the machine's steal time
// (from /proc/stat) and the isolate threads' park count. Shows whether slow
// phases of sync calls come from the hypervisor (steal) or from the threads
// parking. `node bench/sync-phases.js [windows]`; V8_ISOLATES_ADDON picks
// another build of the addon.
const fs = require('fs');
const ivm = require('..');
const native = require('../lib/native.js');

const windows = Number(process.argv[2] || 20);
const isolate = new ivm.Isolate();
const fn = isolate.createContextSync().evalSync('(a, b) => a + b', { reference: true });
const args = [1, 2];
const ticks = () => {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].split(/\s+/);
  return { user: +f[1], idle: +f[4], steal: +f[8] };
};
let t0 = ticks();
let p0 = native.parkCount();
for (let w = 0; w < windows; w++) {
  const start = process.hrtime.bigint();
  let n = 0;
  while (process.hrtime.bigint() - start < 200_000_000n) {
    for (let i = 0; i < 100; i++) fn.applySync(undefined, args);
    n += 100;
  }
  const t1 = ticks();
  const p1 = native.parkCount();
  console.log(
    `${(200_000 / n).toFixed(2)} us/call  steal ${t1.steal - t0.steal}  idle ${t1.idle - t0.idle}  ` +
      `user ${t1.user - t0.user}  isolate parks ${p1 - p0}`,
  );
  t0 = t1;
  p0 = p1;
}
isolate.dispose();
