'use strict';
// A pool of isolates made ahead of time: acquire() hands out a ready isolate
// with a context, and the pool refills on background threads.
//   node examples/pool.js
const ivm = require('..');

const snapshot = ivm.Isolate.createSnapshot([
  { code: 'globalThis.handle = (req) => ({ status: 200, body: "hello " + req.name })', filename: 'handler.js' },
]);
const pool = new ivm.IsolatePool({ size: 4, snapshot, memoryLimit: 32 });

function serve(req) {
  const { isolate, context } = pool.acquire(); // a fraction of a millisecond
  try {
    context.global.setSync('req', req, { copy: true });
    return context.evalSync('handle(req)', { timeout: 50, copy: true });
  } finally {
    isolate.dispose(); // one isolate per request: nothing leaks between them
  }
}

async function main() {
  // Wait until the pool is warm (it fills on background threads).
  while (pool.available < 4) await new Promise((r) => setTimeout(r, 5));
  for (const name of ['ada', 'grace', 'linus']) {
    const t0 = process.hrtime.bigint();
    const res = serve({ name });
    const us = Number(process.hrtime.bigint() - t0) / 1000;
    console.log(res.status, res.body, `(${us.toFixed(0)} µs including acquire and dispose)`);
  }
  pool.dispose();
}
main();
