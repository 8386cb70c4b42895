'use strict';
// Guests with the library: code in one isolate creates another isolate, runs
// code there, and hands it a Reference to call back into the first one.
//
//   node examples/nested.js
const ivm = require('..');

const isolate = new ivm.Isolate({ memoryLimit: 64 });
const context = isolate.createContextSync();
context.global.setSync('ivm', ivm); // the guest gets its own copy of the API

const report = context.evalSync(`
  const inner = new ivm.Isolate({ memoryLimit: 16 });   // its own thread, disposed with this isolate
  const innerContext = inner.createContextSync();

  // A Reference to a function of this isolate: calls from 'inner' hop back here.
  const seen = [];
  innerContext.global.setSync('report', new ivm.Reference((msg) => { seen.push(msg); return seen.length; }));

  const script = inner.compileScriptSync('report.applySync(undefined, ["hello from inner"]) * 10');
  const fromScript = script.runSync(innerContext);

  let timedOut;
  try { innerContext.evalSync('for (;;) {}', { timeout: 20 }); } catch (e) { timedOut = e.message; }

  JSON.stringify({ fromScript, seen, timedOut });
`);
console.log(JSON.parse(report));
// { fromScript: 10, seen: [ 'hello from inner' ], timedOut: 'Script execution timed out.' }

// Async variants return promises that settle inside the guest. Sync calls into
// another isolate are only allowed from code that Node called synchronously;
// from async code they throw, as in isolated-vm.
context
  .eval(
    `(async () => {
      const other = new ivm.Isolate();
      const c = await other.createContext();
      let refused;
      try { c.evalSync('1'); } catch (e) { refused = e.message.slice(0, 40) + '...'; }
      return { sum: await c.eval('20 + 22'), refused };
    })()`,
    { promise: true, copy: true },
  )
  .then((r) => {
    console.log(r);
    isolate.dispose(); // also disposes the isolates its guest code created
  });
