'use strict';
// ICU's memory counts against the isolate's memory limit. The ICU objects
// behind Intl live outside the V8 heap and V8 reports none of their size (an
// Intl.DateTimeFormat is ~150 bytes of heap and ~26 KB of ICU memory), so
// without native/src/engine/icu_memory.rs a guest within its heap limit
// could hold gigabytes of the host's memory in formatters.
const test = require('node:test');
const assert = require('node:assert/strict');
const ivm = require('../lib');

const { setup } = require('./support/isolate');

const MiB = 1 << 20;

for (const [ctor, args, count] of [
  ['DateTimeFormat', "'en', { dateStyle: 'full' }", 8000],
  ['Segmenter', "'en', { granularity: 'word' }", 8000],
  ['Collator', "'de'", 20000],
]) {
  test(`holding many Intl.${ctor} objects ends the isolate with MemoryLimitError`, { timeout: 60000 }, (t) => {
    const { isolate, context } = setup(t, { memoryLimit: 8 });
    const rss0 = process.memoryUsage.rss();
    // They hold 18 - 200 MB of ICU memory and under 3 MB of heap.
    assert.throws(
      () => context.evalSync(`globalThis.keep = []; for (let i = 0; i < ${count}; i++) keep.push(new Intl.${ctor}(${args})); keep.length`),
      (e) => e instanceof ivm.MemoryLimitError && e.message === 'Isolate was disposed during execution due to memory limit',
    );
    assert.equal(isolate.isDisposed, true);
    assert.ok(process.memoryUsage.rss() - rss0 < 64 * MiB, 'the host did not hold the objects');
  });
}

test('formatters made and dropped in a loop do not end the isolate', { timeout: 60000 }, (t) => {
  // Their ICU memory is garbage once the JS objects are: a collection runs
  // before the limit is judged.
  const { isolate, context } = setup(t, { memoryLimit: 8 });
  const n = context.evalSync(`
    let s = 0;
    for (let i = 0; i < 4000; i++) {
      s += new Intl.DateTimeFormat('de', { minute: i % 2 ? 'numeric' : '2-digit' }).format(i).length > 0 ? 1 : 0;
    }
    s;
  `);
  assert.equal(n, 4000);
  assert.equal(isolate.isDisposed, false);
});

test('ICU memory shows in externally_allocated_size and the isolate keeps working', { timeout: 30000 }, (t) => {
  const { isolate, context } = setup(t, { memoryLimit: 32 });
  const before = isolate.getHeapStatisticsSync().externally_allocated_size;
  context.evalSync("globalThis.keep = []; for (let i = 0; i < 200; i++) keep.push(new Intl.DateTimeFormat('en', { dateStyle: 'full' })); 1");
  const after = isolate.getHeapStatisticsSync().externally_allocated_size;
  assert.ok(after - before > 2 * MiB, `${after - before} bytes for 200 formatters`);
  assert.equal(context.evalSync("keep[199].format(0).length > 10 && 'abc'.localeCompare('abd', 'de')"), -1);
  assert.equal(isolate.isDisposed, false);
});
