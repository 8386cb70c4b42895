'use strict';
// Guest sync calls into Node go through a one-slot lane (the calling
// thread's own call record) or, when the lane is taken, through the queue.
// These cover the lane's edges: a caller that parks before Node answers,
// calls nested through it, and several guests contending for it.
const test = require('node:test');
const assert = require('node:assert/strict');
const ivm = require('../lib');
const { setup } = require('./support/isolate');

// Blocks Node's thread for `ms` (the guest waiting on it runs out of
// spinning and parks).
function block(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

test('a guest parked on a slow Node function is woken by its answer', { timeout: 30000 }, (t) => {
  const { context, global } = setup(t);
  global.setSync('slow', new ivm.Callback((x) => {
    block(5);
    return x * 2;
  }));
  global.setSync('slowRef', new ivm.Reference((x) => {
    block(5);
    return x + 1;
  }));
  for (let i = 0; i < 20; i++) {
    assert.equal(context.evalSync(`slow(${i}) + slowRef.applySync(undefined, [${i}])`), i * 2 + i + 1);
  }
});

test('a parked guest is woken under an async outer call too', { timeout: 30000 }, async (t) => {
  const { context, global } = setup(t);
  global.setSync('slow', new ivm.Callback((x) => {
    block(3);
    return x + 1;
  }));
  assert.equal(await context.eval('let s = 0; for (let i = 0; i < 20; i++) s += slow(i); s'), 210);
});

test('calls nest through the lane: Node -> guest -> Node -> guest -> Node', { timeout: 30000 }, (t) => {
  const { context, global } = setup(t);
  const down = new ivm.Callback((n) => (n === 0 ? 'bottom' : `${n}:${context.evalSync(`walk(${n - 1})`)}`));
  global.setSync('down', down);
  context.evalSync('globalThis.walk = (n) => "g" + down(n)');
  for (let i = 0; i < 50; i++) {
    assert.equal(context.evalSync('walk(4)'), 'g4:g3:g2:g1:gbottom');
  }
});

test('guests of several isolates calling Node at once all get their own answers', { timeout: 60000 }, async (t) => {
  const isolates = Array.from({ length: 4 }, () => setup(t));
  const echo = new ivm.Reference((tag, i) => `${tag}-${i}`);
  for (const [k, { global }] of isolates.entries()) {
    global.setSync('echo', echo);
    global.setSync('tag', `iso${k}`);
  }
  const code = `
    let bad = 0;
    for (let i = 0; i < 3000; i++) if (echo.applySync(undefined, [tag, i]) !== tag + '-' + i) bad++;
    bad`;
  const results = await Promise.all(isolates.map(({ context }) => context.eval(code)));
  assert.deepEqual(results, [0, 0, 0, 0]);
});

test('a Node function that throws through the lane gives the guest its error', (t) => {
  const { context, global } = setup(t);
  global.setSync('boom', new ivm.Callback((m) => {
    throw new TypeError(`boom ${m}`);
  }));
  for (let i = 0; i < 100; i++) {
    assert.equal(context.evalSync(`try { boom(${i}) } catch (e) { e instanceof TypeError && e.message }`), `boom ${i}`);
  }
});
