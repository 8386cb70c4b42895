'use strict';
// The V8 inspector: sessions, pausing without blocking Node, and DevTools
// over a WebSocket (examples/inspector.js).
const { test } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const path = require('node:path');
const { spawn } = require('node:child_process');
const ivm = require('../lib');
const { serveInspector } = require('../examples/inspector');
const { Cdp } = require('./support/cdp');

async function inspected(t, options) {
  const isolate = new ivm.Isolate({ inspector: true, ...options });
  t.after(() => {
    if (!isolate.isDisposed) isolate.dispose();
  });
  const context = await isolate.createContext({ inspector: true });
  return { isolate, context };
}

function getJson(port, path) {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(JSON.parse(body)));
    }).on('error', reject);
  });
}

const GUEST = [
  'function compute(a) {',
  '  const local = a * 2;',
  '  const label = "value:" + local;',
  '  return local + label.length;',
  '}',
].join('\n');

test('inspector: bad arguments and disabled inspector', async (t) => {
  const plain = new ivm.Isolate();
  t.after(() => plain.dispose());
  assert.throws(() => plain.createInspectorSession(), { message: 'Inspector is not enabled for this isolate' });
  assert.throws(() => plain.createContextSync({ inspector: true }), { message: 'Inspector is not enabled for this isolate' });
  await assert.rejects(plain.createContext({ inspector: true }), { message: 'Inspector is not enabled for this isolate' });
  assert.throws(() => new ivm.Isolate({ onCatastrophicError: 1 }), { name: 'TypeError', message: /onCatastrophicError/ });

  const { isolate } = await inspected(t);
  const session = isolate.createInspectorSession();
  assert.throws(() => session.dispatchProtocolMessage(1), { name: 'TypeError', message: /`dispatchProtocolMessage` requires parameter 1/ });
  assert.throws(() => session.dispatchProtocolMessage(), { name: 'TypeError' });
  session.dispose();
  assert.throws(() => session.dispose(), { message: 'Session is dead' });
  assert.throws(() => session.dispatchProtocolMessage('{}'), { message: 'Session is dead' });
  isolate.dispose();
  assert.throws(() => isolate.createInspectorSession(), { message: 'Isolate is disposed' });
});

test('inspector: a session evaluates in an inspected context and reports bad messages', async (t) => {
  const { isolate, context } = await inspected(t);
  await context.eval('var answer = 42');
  const cdp = Cdp.session(isolate.createInspectorSession());
  t.after(() => cdp.session.dispose());
  await cdp.send('Runtime.enable');
  const created = await cdp.once('Runtime.executionContextCreated');
  assert.equal(created.context.auxData.isDefault, true);
  const r = await cdp.send('Runtime.evaluate', { expression: 'answer + 1' });
  assert.equal(r.result.value, 43);
  await assert.rejects(cdp.send('No.suchMethod'), { message: /wasn't found/ });
  // Not JSON at all: V8 answers with a notification carrying the error.
  cdp.session.dispatchProtocolMessage('not json');
  const bad = await new Promise((resolve) => {
    const check = () => {
      const e = cdp.events.find((m) => m.error);
      if (e) resolve(e);
      else setImmediate(check);
    };
    check();
  });
  assert.equal(bad.error.code, -32700);
});

test('inspector: console calls in the guest reach the session', async (t) => {
  const { isolate, context } = await inspected(t);
  const cdp = Cdp.session(isolate.createInspectorSession());
  t.after(() => cdp.session.dispose());
  await cdp.send('Runtime.enable');
  await context.eval('console.log("hello", 6 * 7)');
  const call = await cdp.once('Runtime.consoleAPICalled');
  assert.equal(call.type, 'log');
  assert.deepEqual(call.args.map((a) => a.value), ['hello', 42]);
});

test('inspector: a breakpoint pauses the guest while Node keeps running; locals are readable', async (t) => {
  const { isolate, context } = await inspected(t);
  await context.eval(GUEST, { filename: 'file:///compute.js' });
  const cdp = Cdp.session(isolate.createInspectorSession());
  t.after(() => cdp.session.dispose());
  await cdp.send('Debugger.enable');
  const bp = await cdp.send('Debugger.setBreakpointByUrl', { url: 'file:///compute.js', lineNumber: 2 });
  assert.ok(bp.breakpointId);
  const run = context.evalClosure('return compute($0)', [20]);
  const paused = await cdp.once('Debugger.paused');
  assert.deepEqual(paused.hitBreakpoints, [bp.breakpointId]);
  // Node's event loop runs while the guest is paused.
  await new Promise((r) => setTimeout(r, 20));
  const frame = paused.callFrames[0];
  assert.equal(frame.functionName, 'compute');
  const local = frame.scopeChain.find((s) => s.type === 'local');
  const props = await cdp.send('Runtime.getProperties', { objectId: local.object.objectId, ownProperties: true });
  assert.equal(props.result.find((p) => p.name === 'local').value.value, 40);
  assert.equal(props.result.find((p) => p.name === 'a').value.value, 20);
  const v = await cdp.send('Debugger.evaluateOnCallFrame', { callFrameId: frame.callFrameId, expression: 'local * 10' });
  assert.equal(v.result.value, 400);
  await cdp.send('Debugger.resume');
  assert.equal(await run, 40 + 'value:40'.length);
});

test('inspector: sync calls from Node are served while the guest is paused', async (t) => {
  const { isolate, context } = await inspected(t);
  const cdp = Cdp.session(isolate.createInspectorSession());
  t.after(() => cdp.session.dispose());
  await cdp.send('Debugger.enable');
  const run = context.eval('globalThis.before = 1; debugger; 2');
  await cdp.once('Debugger.paused');
  assert.equal(context.evalSync('before + 1'), 2);
  await cdp.send('Debugger.resume');
  assert.equal(await run, 2);
});

test('inspector: Debugger.pause interrupts a running loop', async (t) => {
  const { isolate, context } = await inspected(t);
  const cdp = Cdp.session(isolate.createInspectorSession());
  t.after(() => cdp.session.dispose());
  await cdp.send('Debugger.enable');
  let started;
  const running = new Promise((r) => (started = r));
  await context.global.set('started', () => started());
  const run = context.eval('globalThis.stop = false; let n = 0; started(); while (!stop) n++; n > 0', { timeout: 20000 });
  await running;
  // The loop calls nothing and never yields: this message is handled from
  // an interrupt.
  await cdp.send('Debugger.pause');
  const paused = await cdp.once('Debugger.paused');
  await cdp.send('Debugger.evaluateOnCallFrame', { callFrameId: paused.callFrames[0].callFrameId, expression: 'stop = true' });
  await cdp.send('Debugger.resume');
  assert.equal(await run, true);
});

test('inspector: disposing the session while paused resumes the guest', async (t) => {
  const { isolate, context } = await inspected(t);
  const cdp = Cdp.session(isolate.createInspectorSession());
  await cdp.send('Debugger.enable');
  const run = context.eval('debugger; "resumed"');
  await cdp.once('Debugger.paused');
  cdp.session.dispose();
  assert.equal(await run, 'resumed');
  // The isolate still works, and a new session can pause it again.
  const again = Cdp.session(isolate.createInspectorSession());
  t.after(() => again.session.dispose());
  await again.send('Debugger.enable');
  const run2 = context.eval('debugger; "again"');
  await again.once('Debugger.paused');
  await again.send('Debugger.resume');
  assert.equal(await run2, 'again');
});

test('inspector: two sessions at once', async (t) => {
  const { isolate, context } = await inspected(t);
  const a = Cdp.session(isolate.createInspectorSession());
  const b = Cdp.session(isolate.createInspectorSession());
  t.after(() => {
    a.session.dispose();
    b.session.dispose();
  });
  await Promise.all([a.send('Debugger.enable'), b.send('Debugger.enable')]);
  const run = context.eval('const shared = "both"; debugger; shared', { filename: 'two.js' });
  const [pa, pb] = await Promise.all([a.once('Debugger.paused'), b.once('Debugger.paused')]);
  assert.deepEqual(pa.callFrames[0].location, pb.callFrames[0].location);
  // Either session may inspect and resume; the other is told.
  const v = await a.send('Debugger.evaluateOnCallFrame', { callFrameId: pa.callFrames[0].callFrameId, expression: 'shared' });
  assert.equal(v.result.value, 'both');
  await b.send('Debugger.resume');
  await Promise.all([a.once('Debugger.resumed'), b.once('Debugger.resumed')]);
  assert.equal(await run, 'both');
});

test('inspector: disposing the isolate while paused fails the call and does not hang', async (t) => {
  const { isolate, context } = await inspected(t);
  const cdp = Cdp.session(isolate.createInspectorSession());
  await cdp.send('Debugger.enable');
  const run = context.eval('debugger; 1');
  await cdp.once('Debugger.paused');
  isolate.dispose();
  await assert.rejects(run, { message: /disposed/ });
  assert.throws(() => cdp.session.dispatchProtocolMessage('{"id":99,"method":"Debugger.resume"}'), { message: 'Session is dead' });
});

test('inspector: a timeout expires while paused (timeouts are wall-clock deadlines)', async (t) => {
  const { isolate, context } = await inspected(t);
  const cdp = Cdp.session(isolate.createInspectorSession());
  t.after(() => cdp.session.dispose());
  await cdp.send('Debugger.enable');
  const run = context.eval('debugger; 1', { timeout: 200 });
  await cdp.once('Debugger.paused');
  await assert.rejects(run, { message: 'Script execution timed out.' });
  // The isolate survives a timeout, as always.
  assert.equal(await context.eval('2'), 2);
});

test('inspector: DevTools protocol over a WebSocket (examples/inspector.js)', async (t) => {
  const { isolate, context } = await inspected(t);
  const server = await serveInspector(isolate, { port: 0 });
  t.after(() => server.close());
  const list = await getJson(server.port, '/json/list');
  assert.equal(list.length, 1);
  assert.equal(list[0].webSocketDebuggerUrl, server.url);
  assert.match(list[0].devtoolsFrontendUrl, /^devtools:\/\/devtools\/bundled\/.*ws=127\.0\.0\.1:\d+\//);
  const version = await getJson(server.port, '/json/version');
  assert.equal(version['Protocol-Version'], '1.3');

  const cdp = await Cdp.websocket(list[0].webSocketDebuggerUrl);
  await cdp.send('Runtime.enable');
  await cdp.send('Debugger.enable');
  const run = context.eval(GUEST + '\ncompute(5);\nfunction outer() { const x = "from-guest"; debugger; return x; }\nouter()', {
    filename: 'file:///ws-guest.js',
  });
  const parsed = await cdp.once('Debugger.scriptParsed', (p) => p.url === 'file:///ws-guest.js');
  const paused = await cdp.once('Debugger.paused');
  assert.equal(paused.reason, 'other');
  assert.equal(paused.callFrames[0].location.scriptId, parsed.scriptId);
  const local = paused.callFrames[0].scopeChain.find((s) => s.type === 'local');
  const props = await cdp.send('Runtime.getProperties', { objectId: local.object.objectId, ownProperties: true });
  assert.equal(props.result.find((p) => p.name === 'x').value.value, 'from-guest');
  const src = await cdp.send('Debugger.getScriptSource', { scriptId: parsed.scriptId });
  assert.match(src.scriptSource, /function compute/);
  await cdp.send('Debugger.resume');
  assert.equal(await run, 'from-guest');
  // Closing the socket disposes the session (resuming the guest if paused).
  const again = context.eval('debugger; 3');
  await cdp.once('Debugger.paused');
  cdp.ws.close();
  assert.equal(await again, 3);
});

test('inspector: the example program stops at a breakpoint set from a client', async (t) => {
  const child = spawn(process.execPath, [path.join(__dirname, '..', 'examples', 'inspector.js'), '0'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise((r) => child.once('exit', r));
  t.after(async () => {
    child.kill('SIGKILL');
    await exited;
  });
  let out = '';
  const url = await new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => {
      out += d;
      const m = /ws=(127\.0\.0\.1:\d+\/[\w-]+)/.exec(out);
      if (m) resolve(`ws://${m[1]}`);
    });
    child.once('exit', (code) => reject(new Error(`example exited (${code}): ${out}`)));
  });
  const cdp = await Cdp.websocket(url);
  await cdp.send('Debugger.enable');
  await cdp.send('Debugger.setBreakpointByUrl', { url: 'file:///guest-app.js', lineNumber: 1 });
  const paused = await cdp.once('Debugger.paused');
  assert.equal(paused.callFrames[0].functionName, 'tick');
  const n = await cdp.send('Debugger.evaluateOnCallFrame', { callFrameId: paused.callFrames[0].callFrameId, expression: 'typeof n' });
  assert.equal(n.result.value, 'number');
  await cdp.send('Debugger.resume');
  cdp.ws.close();
});

test('inspector: code a client evaluates between calls runs its microtasks and can be stopped by dispose', { timeout: 20_000 }, async (t) => {
  const { isolate } = await inspected(t);
  const cdp = Cdp.session(isolate.createInspectorSession());
  const r = await cdp.send('Runtime.evaluate', { expression: 'Promise.resolve(5).then((v) => v + 1)', awaitPromise: true });
  assert.equal(r.result.value, 6);
  // An endless loop evaluated while no call runs: dispose still stops it.
  const stuck = cdp.send('Runtime.evaluate', { expression: 'for (;;);' }).then(
    (v) => v,
    (e) => e,
  );
  await new Promise((resolve) => setTimeout(resolve, 50));
  isolate.dispose();
  const answer = await stuck;
  assert.ok(answer, 'the evaluation ended');
});

test('inspector: disposing a session paused inside its own request resumes the guest', { timeout: 20_000 }, async (t) => {
  const { isolate, context } = await inspected(t);
  const cdp = Cdp.session(isolate.createInspectorSession());
  await cdp.send('Debugger.enable');
  // The pause happens inside the session's own Runtime.evaluate.
  cdp.send('Runtime.evaluate', { expression: 'globalThis.reached = 1; debugger; globalThis.reached = 2' });
  await cdp.once('Debugger.paused');
  cdp.session.dispose();
  // The guest resumed and finished the evaluation; the isolate still works.
  assert.equal(await context.eval('reached'), 2);
  const other = Cdp.session(isolate.createInspectorSession());
  t.after(() => other.session.dispose());
  const r = await other.send('Runtime.evaluate', { expression: 'reached * 21' });
  assert.equal(r.result.value, 42);
});
