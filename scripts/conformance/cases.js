'use strict';
// The battery: each case is { name, fn(ivm, env) } and returns a value (or a
// promise), or env.gs()/env.ga() text described inside the guest. The same
// cases run against isolated-vm and v8-isolates (see run.js).
const cases = [];
const add = (name, fn, extra) => cases.push(Object.assign({ name, fn }, extra));

// Values, as source text usable in Node and in guests.
const V = {
  undef: 'undefined', null: 'null', num: '1.5', negz: '-0', nan: 'NaN', str: '"s"', bool: 'true', big: '10n',
  sym: 'Symbol("q")', obj: '({a:1, b:[2]})', arr: '[1,,3]', fn: '(function f(a,b){return 7})', arrow: '((x)=>x)',
  cls: '(class K{})', date: 'new Date(5)', map: 'new Map([[1,{x:2}]])', set: 'new Set([1])', re: '/x/g',
  err: 'new RangeError("m")', cerr: '(()=>{class MyE extends Error{}; return new MyE("c")})()',
  prom: 'Promise.resolve(3)', ab: 'new Uint8Array([1,2,3,4]).buffer', u8: 'new Uint8Array([1,2,3])',
  u8off: 'new Uint8Array(new Uint8Array([0,1,2,3,4,5,6,7]).buffer, 2, 3)', f64: 'new Float64Array([1.5])',
  dv: 'new DataView(new ArrayBuffer(4),1,2)', sab: 'new SharedArrayBuffer(4)', proxy: 'new Proxy({a:1}, {})',
  boxed: 'new Number(3)', nullproto: 'Object.assign(Object.create(null), {z:1})', nested: '({d:new Date(1), m:new Map(), f:1})',
  longstr: '"x".repeat(2000)',
};
const VK = Object.keys(V);
const nodeVal = (k) => (0, eval)(V[k]);

const TO = {
  none: undefined, copy: { copy: true }, ext: { externalCopy: true }, ref: { reference: true },
  prom: { promise: true }, copyprom: { copy: true, promise: true }, refprom: { reference: true, promise: true },
  conflict: { copy: true, reference: true },
};
const TOK = Object.keys(TO);
const optSrc = (o) => (o === undefined ? 'undefined' : JSON.stringify(o));

// ---------------------------------------------------------------- typeof
for (const k of VK) {
  add(`typeof node-ref ${k}`, (ivm) => new ivm.Reference(nodeVal(k)).typeof);
  add(`typeof guest-ref-from-node ${k}`, (ivm, e) => e.ctx.evalSync(V[k], { reference: true }).typeof);
  add(`typeof guest-ref-in-guest ${k}`, (ivm, e) => e.gs(`return new ivm.Reference(${V[k]}).typeof`));
}

// ---------------------------------------------------------------- eval / run / evalClosure results
for (const k of VK) {
  for (const o of TOK) {
    add(`evalSync ${k} ${o}`, (ivm, e) => e.ctx.evalSync(V[k], TO[o]));
    add(`evalClosureSync result ${k} ${o}`, (ivm, e) => e.ctx.evalClosureSync(`return ${V[k]}`, [], { result: TO[o] }));
    add(`getSync ${k} ${o}`, (ivm, e) => { e.ctx.evalSync(`globalThis.x = ${V[k]}`); return e.global.getSync('x', TO[o]); });
    add(`applySync result ${k} ${o}`, (ivm, e) => e.ctx.evalSync(`(function () { return ${V[k]} })`, { reference: true }).applySync(undefined, [], { result: TO[o] }));
    add(`setSync value ${k} ${o}`, (ivm, e) => {
      const r = e.global.setSync('x', nodeVal(k), TO[o]);
      return __dd(r, e) + ' / ' + e.ctx.evalSync('__d(globalThis.x)');
    });
    add(`applySync arg ${k} ${o}`, (ivm, e) => {
      const f = e.ctx.evalSync('(function (a) { return __d(a) + "|" + arguments.length })', { reference: true });
      return f.applySync(undefined, [nodeVal(k)], { arguments: TO[o] });
    });
    add(`evalClosureSync arg ${k} ${o}`, (ivm, e) => e.ctx.evalClosureSync('return __d($0)', [nodeVal(k)], { arguments: TO[o] }));
  }
  add(`eval async ${k}`, (ivm, e) => e.ctx.eval(V[k]));
  add(`eval async ${k} copy`, (ivm, e) => e.ctx.eval(V[k], { copy: true }));
  add(`eval async ${k} ref`, (ivm, e) => e.ctx.eval(V[k], { reference: true }));
  add(`evalClosure async ${k}`, (ivm, e) => e.ctx.evalClosure(`return ${V[k]}`));
  add(`get async ${k}`, (ivm, e) => { e.ctx.evalSync(`globalThis.x = ${V[k]}`); return e.global.get('x'); });
  add(`apply async result ${k}`, (ivm, e) => e.ctx.evalSync(`(function () { return ${V[k]} })`, { reference: true }).apply(undefined, []));
  add(`apply async arg ${k}`, (ivm, e) => e.ctx.evalSync('(function (a) { return __d(a) })', { reference: true }).apply(undefined, [nodeVal(k)]));
  add(`set async ${k}`, (ivm, e) => e.global.set('x', nodeVal(k)).then((r) => __dd(r, e) + ' / ' + e.ctx.evalSync('__d(globalThis.x)')));
  add(`script runSync ${k}`, (ivm, e) => e.iso.compileScriptSync(V[k]).runSync(e.ctx));
  add(`script runSync ${k} copy`, (ivm, e) => e.iso.compileScriptSync(V[k]).runSync(e.ctx, { copy: true }));
  add(`evalIgnored ${k}`, (ivm, e) => e.ctx.evalIgnored(V[k]));
  add(`copySync guest ${k}`, (ivm, e) => e.ctx.evalSync(V[k], { reference: true }).copySync());
  add(`copy async guest ${k}`, (ivm, e) => e.ctx.evalSync(V[k], { reference: true }).copy());
  add(`copySync node-ref ${k}`, (ivm) => new ivm.Reference(nodeVal(k)).copySync());
  add(`deref node-ref ${k}`, (ivm) => new ivm.Reference(nodeVal(k)).deref());
  add(`derefInto node-ref into guest ${k}`, (ivm, e) => { e.global.setSync('y', new ivm.Reference(nodeVal(k)).derefInto()); return e.ctx.evalSync('__d(y)'); });
  add(`derefInto guest-ref into guest ${k}`, (ivm, e) => { const r = e.ctx.evalSync(V[k], { reference: true }); e.global.setSync('y', r.derefInto()); return e.ctx.evalSync('__d(y)'); });
  add(`deref guest-ref in node ${k}`, (ivm, e) => e.ctx.evalSync(V[k], { reference: true }).deref());
}
function __dd(v) { return require('./describe').__d(v); }

// ---------------------------------------------------------------- guest -> node via a Reference to a Node object
for (const k of VK) {
  for (const o of TOK) {
    add(`guest getSync node ${k} ${o}`, (ivm, e) => {
      e.global.setSync('nref', new ivm.Reference({ x: nodeVal(k) }));
      return e.gs(`return nref.getSync('x', ${optSrc(TO[o])})`);
    });
    add(`guest applySync node result ${k} ${o}`, (ivm, e) => {
      e.global.setSync('nref', new ivm.Reference(() => nodeVal(k)));
      return e.gs(`return nref.applySync(undefined, [], { result: ${optSrc(TO[o])} })`);
    });
    add(`guest applySync node arg ${k} ${o}`, (ivm, e) => {
      e.global.setSync('nref', new ivm.Reference((a) => __dd(a)));
      return e.gs(`return nref.applySync(undefined, [${V[k]}], { arguments: ${optSrc(TO[o])} })`);
    });
    add(`guest setSync node ${k} ${o}`, (ivm, e) => {
      const obj = {};
      e.global.setSync('nref', new ivm.Reference(obj));
      const r = e.gs(`return nref.setSync('x', ${V[k]}, ${optSrc(TO[o])})`);
      return r.text + ' / ' + ('x' in obj ? __dd(obj.x) : 'absent');
    });
  }
  add(`guest copySync node ${k}`, (ivm, e) => { e.global.setSync('nref', new ivm.Reference(nodeVal(k))); return e.gs('return nref.copySync()'); });
  add(`guest typeof node ${k}`, (ivm, e) => { e.global.setSync('nref', new ivm.Reference(nodeVal(k))); return e.gs('return nref.typeof'); });
  add(`guest deref node ${k}`, (ivm, e) => { e.global.setSync('nref', new ivm.Reference(nodeVal(k))); return e.gs('return nref.deref()'); });
  add(`guest applySync node async-eval ${k}`, (ivm, e) => {
    e.global.setSync('nref', new ivm.Reference((a) => __dd(a)));
    return e.ga(`return nref.applySync(undefined, [${V[k]}])`);
  });
  add(`guest apply async node ${k}`, (ivm, e) => {
    e.global.setSync('nref', new ivm.Reference(() => nodeVal(k)));
    return e.ga('return nref.apply(undefined, [])');
  });
  add(`guest get async node ${k}`, (ivm, e) => {
    e.global.setSync('nref', new ivm.Reference({ x: nodeVal(k) }));
    return e.ga("return nref.get('x')");
  });
  add(`guest applySyncPromise node ${k}`, (ivm, e) => {
    e.global.setSync('nref', new ivm.Reference(async () => nodeVal(k)));
    return e.ga('return nref.applySyncPromise(undefined, [])');
  });
}

// ---------------------------------------------------------------- guest -> guest (the library inside)
const NEST = 'const i2 = new ivm.Isolate(); const c2 = i2.createContextSync();';
for (const k of VK) {
  add(`g2g evalSync ${k}`, (ivm, e) => e.gs(`${NEST} return c2.evalSync(${JSON.stringify(V[k])})`));
  add(`g2g evalSync ${k} copy`, (ivm, e) => e.gs(`${NEST} return c2.evalSync(${JSON.stringify(V[k])}, {copy:true})`));
  add(`g2g evalSync ${k} ref`, (ivm, e) => e.gs(`${NEST} return c2.evalSync(${JSON.stringify(V[k])}, {reference:true})`));
  add(`g2g global getSync ${k}`, (ivm, e) => e.gs(`${NEST} c2.evalSync("globalThis.x = " + ${JSON.stringify(V[k])}); return c2.global.getSync('x')`));
  add(`g2g global setSync ${k}`, (ivm, e) => e.gs(`${NEST} const r = c2.global.setSync('x', ${V[k]}); return String(r) + ' ' + c2.evalSync('typeof x')`));
  add(`g2g applySync arg ${k}`, (ivm, e) => e.gs(`${NEST} const f = c2.evalSync('(a) => typeof a', {reference:true}); return f.applySync(undefined, [${V[k]}])`));
  add(`g2g evalClosureSync result ${k}`, (ivm, e) => e.gs(`${NEST} return c2.evalClosureSync(${JSON.stringify('return ' + V[k])})`));
  add(`g2g ExternalCopy ${k}`, (ivm, e) => e.gs(`return new ivm.ExternalCopy(${V[k]}).copy()`));
  add(`g2g eval async ${k}`, (ivm, e) => e.ga(`${NEST} return c2.eval(${JSON.stringify(V[k])})`));
}

// ---------------------------------------------------------------- Callback
for (const k of VK) {
  add(`callback arg ${k}`, (ivm, e) => { e.global.setSync('cb', new ivm.Callback((a) => __dd(a))); return e.gs(`return cb(${V[k]})`); });
  add(`callback result ${k}`, (ivm, e) => { e.global.setSync('cb', new ivm.Callback(() => nodeVal(k))); return e.gs('return cb()'); });
  add(`callback async result ${k}`, (ivm, e) => { e.global.setSync('cb', new ivm.Callback(async () => nodeVal(k), { async: true })); return e.ga('return cb()'); });
  add(`callback ignored ${k}`, (ivm, e) => { e.global.setSync('cb', new ivm.Callback(() => nodeVal(k), { ignored: true })); return e.gs('return cb()'); });
  add(`plain fn setSync call ${k}`, (ivm, e) => { e.global.setSync('pf', (a) => __dd(a)); return e.gs(`return pf(${V[k]})`); });
  add(`guest callback to node ${k}`, (ivm, e) => {
    const r = e.ctx.evalSync(`new ivm.Callback(function gcb(a) { return ${V[k]} })`);
    return typeof r === 'function' ? r(1) : r;
  });
}
add('callback shape', (ivm, e) => { e.global.setSync('cb', new ivm.Callback(function named(a, b, c) {})); return e.gs('return [cb.name, cb.length, typeof cb.prototype, Object.getPrototypeOf(cb) === Function.prototype, Object.isFrozen(cb)]'); });
add('callback new', (ivm, e) => { e.global.setSync('cb', new ivm.Callback(function named() { return 1; })); return e.gs('return new cb()'); });
add('callback this', (ivm, e) => { e.global.setSync('cb', new ivm.Callback(function () { return typeof this; })); return e.gs('return cb.call({})'); });
add('callback throws TypeError', (ivm, e) => { e.global.setSync('cb', new ivm.Callback(() => { throw new TypeError('boom'); })); return e.gs('return cb()'); });
add('callback throws custom', (ivm, e) => { e.global.setSync('cb', new ivm.Callback(() => { class MyErr extends Error {} throw new MyErr('boom'); })); return e.gs('try { cb() } catch (x) { return [x.name, x.message, x.constructor.name, Object.keys(x)] }'); });
add('callback throws string', (ivm, e) => { e.global.setSync('cb', new ivm.Callback(() => { throw 'str'; })); return e.gs('return cb()'); });
add('callback throws object', (ivm, e) => { e.global.setSync('cb', new ivm.Callback(() => { throw { a: 1 }; })); return e.gs('return cb()'); });
add('callback stack boundary', (ivm, e) => { e.global.setSync('cb', new ivm.Callback(function hostFn() { throw new Error('boom'); })); return e.gs('try { cb() } catch (x) { return x.stack.split("\\n").map(l => l.replace(/\\(.*\\)$/, "").trim()).filter(l => !l.includes("node:") ).slice(0, 4) }'); });
add('callback async throws', (ivm, e) => { e.global.setSync('cb', new ivm.Callback(async () => { throw new RangeError('r'); }, { async: true })); return e.ga('return cb()'); });
add('callback async returns promise shape', (ivm, e) => { e.global.setSync('cb', new ivm.Callback(async () => 1, { async: true })); return e.gs('const p = cb(); return Object.prototype.toString.call(p)'); });
add('callback ignored throws', (ivm, e) => { e.global.setSync('cb', new ivm.Callback(() => { throw new Error('x'); }, { ignored: true })); return e.gs('return cb()'); });
add('callback async+ignored', (ivm, e) => { e.global.setSync('cb', new ivm.Callback(() => 1, { async: true, ignored: true })); return e.gs('const p = cb(); return Object.prototype.toString.call(p)'); });
add('callback sync+async', (ivm, e) => { e.global.setSync('cb', new ivm.Callback(() => 1, { async: true, sync: true })); return e.gs('const p = cb(); return Object.prototype.toString.call(p)'); });
add('callback non-function', (ivm) => new ivm.Callback(1));
add('callback no new', (ivm) => ivm.Callback(() => 1));
add('callback bad options', (ivm) => new ivm.Callback(() => 1, 5));
add('callback node-side shape', (ivm) => { const c = new ivm.Callback(() => 1); return [Object.isFrozen(c), Object.keys(c), Object.getOwnPropertyNames(Object.getPrototypeOf(c))]; });
add('callback copy', (ivm) => new ivm.ExternalCopy(new ivm.Callback(() => 1)).copy());
add('callback returns fn', (ivm, e) => { e.global.setSync('cb', new ivm.Callback(() => () => 1)); return e.gs('return cb()'); });
add('callback many args', (ivm, e) => { e.global.setSync('cb', new ivm.Callback((...a) => a.length)); return e.gs('return cb(1,2,3,4,5,6,7)'); });
add('callback in guest fn args', (ivm, e) => { e.global.setSync('cb', new ivm.Callback((a) => typeof a)); return e.gs('return cb(new ivm.Reference(1))'); });
add('callback reentrant', (ivm, e) => { e.global.setSync('cb', new ivm.Callback(() => e.ctx.evalSync('1+1'))); return e.gs('return cb()'); });
add('callback guest→guest', (ivm, e) => e.gs(`${NEST} c2.global.setSync('cb', new ivm.Callback((a) => typeof a + a)); return c2.evalSync('cb(5)')`));
add('callback guest async mode', (ivm, e) => e.gs(`${NEST} c2.global.setSync('cb', new ivm.Callback((a) => 1, {async:true})); return c2.evalSync('typeof cb')`));

// ---------------------------------------------------------------- Reference misuse and bad arguments
const bad = {
  'apply non-array args': (ivm, e) => e.global.applySync(undefined, 'x'),
  'apply array-like args': (ivm, e) => e.ctx.evalSync('(function(){return arguments.length})', { reference: true }).applySync(undefined, { length: 2 }),
  'apply null args': (ivm, e) => e.ctx.evalSync('(function(){return arguments.length})', { reference: true }).applySync(undefined, null),
  'apply undefined args': (ivm, e) => e.ctx.evalSync('(function(){return arguments.length})', { reference: true }).applySync(undefined, undefined),
  'apply non-function': (ivm, e) => e.global.applySync(undefined, []),
  'apply async non-function': (ivm, e) => e.global.apply(undefined, []),
  'apply opts number': (ivm, e) => e.ctx.evalSync('(function(){return 1})', { reference: true }).applySync(undefined, [], 5),
  'apply opts arguments number': (ivm, e) => e.ctx.evalSync('(function(){return 1})', { reference: true }).applySync(undefined, [], { arguments: 5 }),
  'apply opts result string': (ivm, e) => e.ctx.evalSync('(function(){return 1})', { reference: true }).applySync(undefined, [], { result: 'x' }),
  'apply opts timeout string': (ivm, e) => e.ctx.evalSync('(function(){return 1})', { reference: true }).applySync(undefined, [], { timeout: 'x' }),
  'apply opts conflict result': (ivm, e) => e.ctx.evalSync('(function(){return 1})', { reference: true }).applySync(undefined, [], { result: { copy: true, externalCopy: true } }),
  'apply receiver obj': (ivm, e) => e.ctx.evalSync('(function(){return typeof this})', { reference: true }).applySync({}, []),
  'apply receiver ref': (ivm, e) => e.ctx.evalSync('(function(){return __d(this)})', { reference: true }).applySync(e.ctx.evalSync('({q:1})', { reference: true }), []),
  'apply receiver fn': (ivm, e) => e.ctx.evalSync('(function(){return __d(this)})', { reference: true }).applySync(() => 1, []),
  'apply receiver null': (ivm, e) => e.ctx.evalSync('(function(){"use strict"; return __d(this)})', { reference: true }).applySync(null, []),
  'apply receiver undefined sloppy': (ivm, e) => e.ctx.evalSync('(function(){return this === globalThis})', { reference: true }).applySync(undefined, []),
  'apply constructor class': (ivm, e) => e.ctx.evalSync('(class A{})', { reference: true }).applySync(undefined, []),
  'apply throws': (ivm, e) => e.ctx.evalSync('(function(){throw new SyntaxError("s")})', { reference: true }).applySync(undefined, []),
  'apply throws number': (ivm, e) => e.ctx.evalSync('(function(){throw 5})', { reference: true }).applySync(undefined, []),
  'apply throws object': (ivm, e) => e.ctx.evalSync('(function(){throw {a:1}})', { reference: true }).applySync(undefined, []),
  'apply throws custom': (ivm, e) => { try { e.ctx.evalSync('(function(){class Q extends TypeError{}; throw new Q("s")})', { reference: true }).applySync(undefined, []); } catch (x) { return [x.constructor.name, x.name, x.message, Object.keys(x), Object.getOwnPropertyNames(x)]; } },
  'apply throws with props': (ivm, e) => { try { e.ctx.evalSync('(function(){const x = new Error("s"); x.code = "E1"; throw x})', { reference: true }).applySync(undefined, []); } catch (x) { return [x.code, Object.keys(x)]; } },
  'apply error cause': (ivm, e) => { try { e.ctx.evalSync('(function(){throw new Error("s", {cause: 1})})', { reference: true }).applySync(undefined, []); } catch (x) { return ['cause' in x, x.cause]; } },
  'apply returns ignored': (ivm, e) => e.ctx.evalSync('(function(){return 1})', { reference: true }).applyIgnored(undefined, []),
  'apply ignored throws': (ivm, e) => e.ctx.evalSync('(function(){throw 1})', { reference: true }).applyIgnored(undefined, []),
  'apply extra args': (ivm, e) => e.ctx.evalSync('(function(){return 1})', { reference: true }).applySync(undefined, [], {}, 5),
  'apply no args at all': (ivm, e) => e.ctx.evalSync('(function(){return arguments.length})', { reference: true }).applySync(),
  'apply sparse': (ivm, e) => e.ctx.evalSync('(function(){return __d([...arguments])})', { reference: true }).applySync(undefined, [1, , 3]),
  'apply 100 args': (ivm, e) => e.ctx.evalSync('(function(){return arguments.length})', { reference: true }).applySync(undefined, Array(100).fill(1)),
  'apply timeout': (ivm, e) => e.ctx.evalSync('(function(){for(;;);})', { reference: true }).applySync(undefined, [], { timeout: 20 }),
  'apply timeout 0': (ivm, e) => e.ctx.evalSync('(function(){return 1})', { reference: true }).applySync(undefined, [], { timeout: 0 }),
  'apply timeout negative': (ivm, e) => e.ctx.evalSync('(function(){return 1})', { reference: true }).applySync(undefined, [], { timeout: -1 }),
  'apply timeout float': (ivm, e) => e.ctx.evalSync('(function(){return 1})', { reference: true }).applySync(undefined, [], { timeout: 1.5 }),
  'apply node fn in node': (ivm) => new ivm.Reference((a) => a + 1).applySync(undefined, [1]),
  'apply node fn in node obj arg': (ivm) => new ivm.Reference((a) => a).applySync(undefined, [{ a: 1 }]),
  'apply node fn in node obj result': (ivm) => new ivm.Reference(() => ({ a: 1 })).applySync(undefined, []),
  'apply node fn in node fn result': (ivm) => new ivm.Reference(() => () => 1).applySync(undefined, []),
  'apply node fn async in node': (ivm) => new ivm.Reference((a) => a + 1).apply(undefined, [1]),
  'apply node fn throws in node': (ivm) => new ivm.Reference(() => { throw new TypeError('t'); }).applySync(undefined, []),
  'get node obj in node': (ivm) => new ivm.Reference({ a: { b: 1 } }).getSync('a'),
  'get node obj fn in node': (ivm) => new ivm.Reference({ a() {} }).getSync('a'),
  'get node obj async in node': (ivm) => new ivm.Reference({ a: 1 }).get('a'),
  'set node obj in node': (ivm) => { const o = {}; const r = new ivm.Reference(o).setSync('a', { b: 1 }); return [r, o]; },
  'set node obj fn in node': (ivm) => { const o = {}; const r = new ivm.Reference(o).setSync('a', () => 1); return [r, typeof o.a]; },
  'delete node obj in node': (ivm) => { const o = { a: 1 }; const r = new ivm.Reference(o).deleteSync('a'); return [r, o]; },
  'get symbol key': (ivm, e) => e.global.getSync(Symbol('x')),
  'get object key': (ivm, e) => e.global.getSync({}),
  'get float key': (ivm, e) => e.global.getSync(1.5),
  'get negative key': (ivm, e) => e.global.getSync(-1),
  'get int key': (ivm, e) => { e.ctx.evalSync('globalThis[3] = "three"'); return e.global.getSync(3); },
  'get huge int key': (ivm, e) => e.global.getSync(2 ** 32),
  'get no key': (ivm, e) => e.global.getSync(),
  'get null key': (ivm, e) => e.global.getSync(null),
  'get bool key': (ivm, e) => e.global.getSync(true),
  'get missing': (ivm, e) => e.global.getSync('nope'),
  'get inherited': (ivm, e) => e.global.getSync('toString'),
  'get inherited unsafeInherit': (ivm, e) => e.ctx.evalSync('Object.create({p: 5})', { reference: true }).getSync('p'),
  'get inherited unsafeInherit guest': (ivm, e) => e.gs('return new ivm.Reference(Object.create({p: 5}), {unsafeInherit:true}).getSync("p")'),
  'get inherited no unsafeInherit guest': (ivm, e) => e.gs('return new ivm.Reference(Object.create({p: 5})).getSync("p")'),
  'get inherited getter unsafeInherit guest': (ivm, e) => e.gs('return new ivm.Reference(Object.create({get p() { return 5 }}), {unsafeInherit:true}).getSync("p")'),
  'get node unsafeInherit': (ivm) => new ivm.Reference(Object.create({ p: 5 }), { unsafeInherit: true }).getSync('p'),
  'get node no unsafeInherit': (ivm) => new ivm.Reference(Object.create({ p: 5 })).getSync('p'),
  'get getter': (ivm, e) => e.ctx.evalSync('({get g() { return 1 }})', { reference: true }).getSync('g'),
  'get getter accessors': (ivm, e) => e.ctx.evalSync('({get g() { return 1 }})', { reference: true }).getSync('g', { accessors: true }),
  'get getter node': (ivm) => new ivm.Reference({ get g() { return 1; } }).getSync('g'),
  'get getter node accessors': (ivm) => new ivm.Reference({ get g() { return 1; } }).getSync('g', { accessors: true }),
  'get proxy': (ivm, e) => e.ctx.evalSync('new Proxy({a:1}, {})', { reference: true }).getSync('a'),
  'get proxy in chain': (ivm, e) => e.ctx.evalSync('Object.create(new Proxy({}, {}))', { reference: true }).getSync('a'),
  'get proxy node': (ivm) => new ivm.Reference(new Proxy({ a: 1 }, {})).getSync('a'),
  'get on primitive': (ivm, e) => e.ctx.evalSync('5', { reference: true }).getSync('a'),
  'get on string': (ivm, e) => e.ctx.evalSync('"abc"', { reference: true }).getSync('length'),
  'get on function': (ivm, e) => e.ctx.evalSync('(function f(){})', { reference: true }).getSync('name'),
  'get on array length': (ivm, e) => e.ctx.evalSync('[1,2]', { reference: true }).getSync('length'),
  'get on array index': (ivm, e) => e.ctx.evalSync('[1,2]', { reference: true }).getSync(1),
  'get opts number': (ivm, e) => e.global.getSync('x', 5),
  'get opts accessors string': (ivm, e) => e.ctx.evalSync('({a:1})', { reference: true }).getSync('a', { accessors: 'yes' }),
  'set getter prop': (ivm, e) => { const r = e.ctx.evalSync('globalThis.o = {get g() { return 1 }, set g(v) { globalThis.called = 1 }}', { reference: true }); r.setSync('g', 2); return e.ctx.evalSync('__d([Object.getOwnPropertyDescriptor(o, "g").value, globalThis.called])'); },
  'set frozen': (ivm, e) => e.ctx.evalSync('Object.freeze({a:1})', { reference: true }).setSync('a', 2),
  'set frozen new': (ivm, e) => e.ctx.evalSync('Object.freeze({a:1})', { reference: true }).setSync('b', 2),
  'set nonconfigurable': (ivm, e) => e.ctx.evalSync('Object.defineProperty({}, "a", {value: 1, writable: true})', { reference: true }).setSync('a', 2),
  'set on primitive': (ivm, e) => e.ctx.evalSync('5', { reference: true }).setSync('a', 1),
  'set proxy': (ivm, e) => e.ctx.evalSync('new Proxy({}, {})', { reference: true }).setSync('a', 1),
  'set symbol key': (ivm, e) => e.global.setSync(Symbol('x'), 1),
  'set no value': (ivm, e) => { const r = e.global.setSync('zz'); return [r, e.ctx.evalSync('"zz" in globalThis'), e.ctx.evalSync('typeof zz')]; },
  'set no args': (ivm, e) => e.global.setSync(),
  'set opts number': (ivm, e) => e.global.setSync('a', 1, 5),
  'set ignored': (ivm, e) => e.global.setIgnored('a', 1),
  'set ignored bad value': (ivm, e) => e.global.setIgnored('a', {}),
  'set async bad value': (ivm, e) => e.global.set('a', {}),
  'set array index': (ivm, e) => { const r = e.ctx.evalSync('globalThis.arr = [1,2]', { reference: true }); r.setSync(0, 'z'); return e.ctx.evalSync('__d(arr)'); },
  'delete': (ivm, e) => { e.ctx.evalSync('globalThis.q = 1'); return [e.global.deleteSync('q'), e.ctx.evalSync('typeof q')]; },
  'delete missing': (ivm, e) => e.global.deleteSync('nope'),
  'delete nonconfigurable': (ivm, e) => e.ctx.evalSync('Object.defineProperty({}, "a", {value: 1})', { reference: true }).deleteSync('a'),
  'delete on primitive': (ivm, e) => e.ctx.evalSync('5', { reference: true }).deleteSync('a'),
  'delete proxy': (ivm, e) => e.ctx.evalSync('new Proxy({a:1}, {})', { reference: true }).deleteSync('a'),
  'delete async': (ivm, e) => e.global.delete('nope'),
  'delete ignored': (ivm, e) => e.global.deleteIgnored('nope'),
  'delete symbol key': (ivm, e) => e.global.deleteSync(Symbol('x')),
  'delete no key': (ivm, e) => e.global.deleteSync(),
  'reference no args': (ivm) => new ivm.Reference(),
  'reference no new': (ivm) => ivm.Reference(1),
  'reference bad opts': (ivm) => new ivm.Reference(1, 5),
  'reference shape': (ivm) => { const r = new ivm.Reference(1); return [Object.isFrozen(r), Object.keys(r), Object.getOwnPropertyNames(Object.getPrototypeOf(r)).sort()]; },
  'reference toString': (ivm) => String(new ivm.Reference(1)),
  'reference JSON': (ivm) => JSON.stringify(new ivm.Reference(1)),
  'reference release twice': (ivm) => { const r = new ivm.Reference(1); return [r.release(), (() => { try { return r.release(); } catch (x) { return x.message; } })()]; },
  'released typeof': (ivm) => { const r = new ivm.Reference(1); r.release(); return r.typeof; },
  'released getSync': (ivm, e) => { const r = e.ctx.evalSync('({a:1})', { reference: true }); r.release(); return r.getSync('a'); },
  'released get async': (ivm, e) => { const r = e.ctx.evalSync('({a:1})', { reference: true }); r.release(); return r.get('a'); },
  'released applySync': (ivm, e) => { const r = e.ctx.evalSync('(()=>1)', { reference: true }); r.release(); return r.applySync(undefined, []); },
  'released applyIgnored': (ivm, e) => { const r = e.ctx.evalSync('(()=>1)', { reference: true }); r.release(); return r.applyIgnored(undefined, []); },
  'released copySync': (ivm, e) => { const r = e.ctx.evalSync('1', { reference: true }); r.release(); return r.copySync(); },
  'released deref': (ivm) => { const r = new ivm.Reference(1); r.release(); return r.deref(); },
  'released derefInto': (ivm) => { const r = new ivm.Reference(1); r.release(); return r.derefInto(); },
  'released setSync': (ivm, e) => { const r = e.ctx.evalSync('({})', { reference: true }); r.release(); return r.setSync('a', 1); },
  'released as arg': (ivm, e) => { const r = new ivm.Reference(1); r.release(); return e.global.setSync('x', r); },
  'released as apply arg': (ivm, e) => { const r = new ivm.Reference(1); r.release(); return e.ctx.evalSync('(a)=>1', { reference: true }).applySync(undefined, [r]); },
  'deref release option': (ivm) => { const r = new ivm.Reference(1); const v = r.deref({ release: true }); return [v, (() => { try { return r.typeof; } catch (x) { return x.message; } })()]; },
  'derefInto release option': (ivm, e) => { const r = new ivm.Reference({ a: 1 }); const d = r.derefInto({ release: true }); return (() => { try { return r.typeof; } catch (x) { return x.message; } })(); },
  'derefInto twice': (ivm, e) => { const r = e.ctx.evalSync('({a:1})', { reference: true }); const d = r.derefInto(); e.global.setSync('y1', d); return e.global.setSync('y2', d); },
  'derefInto wrong isolate': (ivm, e) => { const r = new ivm.Reference({ a: 1 }); return e.global.setSync('y', r.derefInto()); },
  'derefInto shape': (ivm, e) => { const d = e.ctx.evalSync('({a:1})', { reference: true }).derefInto(); return [d.constructor.name, Object.keys(d)]; },
  'derefInto copyInto shape': (ivm, e) => { const d = new ivm.ExternalCopy(1).copyInto(); return [d.constructor.name, Object.keys(d)]; },
  'derefInto as node value': (ivm, e) => { const d = e.ctx.evalSync('({a:1})', { reference: true }).derefInto(); return new ivm.Reference(d).typeof; },
  'derefInto eval closure arg': (ivm, e) => { const d = e.ctx.evalSync('({a:1})', { reference: true }).derefInto(); return e.ctx.evalClosureSync('return __d($0)', [d]); },
  'derefInto apply arg': (ivm, e) => { const d = e.ctx.evalSync('({a:1})', { reference: true }).derefInto(); return e.ctx.evalSync('(a)=>__d(a)', { reference: true }).applySync(undefined, [d]); },
  'derefInto apply arg copy opt': (ivm, e) => { const d = e.ctx.evalSync('({a:1})', { reference: true }).derefInto(); return e.ctx.evalSync('(a)=>__d(a)', { reference: true }).applySync(undefined, [d], { arguments: { copy: true } }); },
  'wrong isolate deref': (ivm, e) => e.ctx.evalSync('({a:1})', { reference: true }).deref(),
  'wrong isolate guest deref': (ivm, e) => e.gs(`${NEST} return c2.evalSync('({})', {reference:true}).deref()`),
  'guest deref own': (ivm, e) => e.gs('return new ivm.Reference({a:1}).deref()'),
  'guest derefInto own into nested': (ivm, e) => e.gs(`${NEST} return c2.global.setSync('q', new ivm.Reference({a:1}).derefInto())`),
  'guest derefInto nested into nested': (ivm, e) => e.gs(`${NEST} const r = c2.evalSync('({a:1})', {reference:true}); c2.global.setSync('q', r.derefInto()); return c2.evalSync('typeof q')`),
  'reference typeof of released context value': (ivm, e) => { const r = e.ctx.evalSync('({a:1})', { reference: true }); e.ctx.release(); return [r.typeof, r.getSync('a')]; },
  'reference after dispose': (ivm, e) => { const r = e.ctx.evalSync('({a:1})', { reference: true }); e.iso.dispose(); return r.getSync('a'); },
  'reference typeof after dispose': (ivm, e) => { const r = e.ctx.evalSync('({a:1})', { reference: true }); e.iso.dispose(); return r.typeof; },
  'reference async after dispose': (ivm, e) => { const r = e.ctx.evalSync('({a:1})', { reference: true }); e.iso.dispose(); return r.get('a'); },
  'reference ignored after dispose': (ivm, e) => { const r = e.ctx.evalSync('({a:1})', { reference: true }); e.iso.dispose(); return r.setIgnored('a', 1); },
  'guest ref copySync guest obj': (ivm, e) => e.gs('return new ivm.Reference({a: new Date(3)}).copySync()'),
  'guest ref copy fn': (ivm, e) => e.gs('return new ivm.Reference(function(){}).copySync()'),
  'guest ref applySync own fn': (ivm, e) => e.gs('return new ivm.Reference((a) => a * 2).applySync(undefined, [4])'),
  'guest ref applySync own fn obj arg': (ivm, e) => e.gs('return new ivm.Reference((a) => a).applySync(undefined, [{}])'),
  'guest ref applySync own fn obj result': (ivm, e) => e.gs('return new ivm.Reference(() => ({})).applySync(undefined, [])'),
  'guest ref getSync own': (ivm, e) => e.gs('return new ivm.Reference({a: {}}).getSync("a")'),
  'guest ref setSync own': (ivm, e) => e.gs('const o = {}; const r = new ivm.Reference(o).setSync("a", 1); return [r, o.a]'),
  'guest ref apply async own': (ivm, e) => e.ga('return new ivm.Reference((a) => a * 2).apply(undefined, [4])'),
  'guest ref applySyncPromise own': (ivm, e) => e.ga('return new ivm.Reference(async (a) => a * 2).applySyncPromise(undefined, [4])'),
  'guest applySyncPromise in sync eval': (ivm, e) => { e.global.setSync('nref', new ivm.Reference(async () => 1)); return e.gs('return nref.applySyncPromise(undefined, [])'); },
  'node applySyncPromise': (ivm, e) => e.ctx.evalSync('async () => 1', { reference: true }).applySyncPromise(undefined, []),
  'applySyncPromise result opts': (ivm, e) => { e.global.setSync('nref', new ivm.Reference(async () => 1)); return e.ga('return nref.applySyncPromise(undefined, [], {result: {copy: true}})'); },
  'applySyncPromise non-promise': (ivm, e) => { e.global.setSync('nref', new ivm.Reference(() => 5)); return e.ga('return nref.applySyncPromise(undefined, [])'); },
  'applySyncPromise obj result': (ivm, e) => { e.global.setSync('nref', new ivm.Reference(async () => ({ a: 1 }))); return e.ga('return nref.applySyncPromise(undefined, [])'); },
  'applySyncPromise rejects': (ivm, e) => { e.global.setSync('nref', new ivm.Reference(async () => { throw new RangeError('rr'); })); return e.ga('return nref.applySyncPromise(undefined, [])'); },
  'guest node ref apply throws': (ivm, e) => { e.global.setSync('nref', new ivm.Reference(() => { throw new RangeError('rr'); })); return e.gs('return nref.applySync(undefined, [])'); },
  'guest node ref apply throws string': (ivm, e) => { e.global.setSync('nref', new ivm.Reference(() => { throw 'ss'; })); return e.gs('return nref.applySync(undefined, [])'); },
  'guest node ref apply throws obj': (ivm, e) => { e.global.setSync('nref', new ivm.Reference(() => { throw { a: 1 }; })); return e.gs('return nref.applySync(undefined, [])'); },
  'guest node ref get getter': (ivm, e) => { e.global.setSync('nref', new ivm.Reference({ get g() { return 1; } })); return e.gs('return nref.getSync("g")'); },
  'guest node ref get proxy': (ivm, e) => { e.global.setSync('nref', new ivm.Reference(new Proxy({}, {}))); return e.gs('return nref.getSync("g")'); },
  'guest node ref get symbol': (ivm, e) => { e.global.setSync('nref', new ivm.Reference({})); return e.gs('return nref.getSync(Symbol())'); },
  'guest node ref delete': (ivm, e) => { const o = { a: 1 }; e.global.setSync('nref', new ivm.Reference(o)); return e.gs('return nref.deleteSync("a")').text + ('a' in o); },
  'guest node ref apply non-fn': (ivm, e) => { e.global.setSync('nref', new ivm.Reference({})); return e.gs('return nref.applySync(undefined, [])'); },
  'guest node ref apply bad args': (ivm, e) => { e.global.setSync('nref', new ivm.Reference(() => 1)); return e.gs('return nref.applySync(undefined, 5)'); },
  'guest node ref apply recv obj': (ivm, e) => { e.global.setSync('nref', new ivm.Reference(function () { return typeof this; })); return e.gs('return nref.applySync({}, [])'); },
  'guest node ref apply recv undefined': (ivm, e) => { e.global.setSync('nref', new ivm.Reference(function () { return this === undefined ? 'undef' : typeof this; })); return e.gs('return nref.applySync(undefined, [])'); },
  'guest node ref set getter': (ivm, e) => { const o = { set s(v) { o.called = 1; } }; e.global.setSync('nref', new ivm.Reference(o)); e.gs('nref.setSync("s", 1)'); return [o.called, Object.getOwnPropertyDescriptor(o, 's').value]; },
  'guest node ref get unsafeInherit': (ivm, e) => { e.global.setSync('nref', new ivm.Reference(Object.create({ p: 1 }), { unsafeInherit: true })); return e.gs('return nref.getSync("p")'); },
  'guest node ref release': (ivm, e) => { e.global.setSync('nref', new ivm.Reference({})); return e.gs('return [nref.release(), (() => { try { return nref.typeof } catch (x) { return x.message } })()]'); },
  'guest node ref timeout': (ivm, e) => { e.global.setSync('nref', new ivm.Reference(() => 1)); return e.gs('return nref.applySync(undefined, [], {timeout: 10})'); },
  'node ref in guest async fn result': (ivm, e) => { e.global.setSync('nref', new ivm.Reference(async () => 1)); return e.gs('return nref.applySync(undefined, [])'); },
};
for (const [n, f] of Object.entries(bad)) add(n, f);

// ---------------------------------------------------------------- ExternalCopy
for (const k of VK) {
  add(`ExternalCopy copy ${k}`, (ivm) => new ivm.ExternalCopy(nodeVal(k)).copy());
  add(`ExternalCopy into guest ${k}`, (ivm, e) => { e.global.setSync('y', new ivm.ExternalCopy(nodeVal(k)).copyInto()); return e.ctx.evalSync('__d(y)'); });
  add(`ExternalCopy as set value ${k}`, (ivm, e) => { e.global.setSync('y', new ivm.ExternalCopy(nodeVal(k))); return e.ctx.evalSync('__d(y) + " " + __d(y.copy())'); });
  add(`ExternalCopy guest made ${k}`, (ivm, e) => { const c = e.ctx.evalSync(`new ivm.ExternalCopy(${V[k]})`); return c instanceof ivm.ExternalCopy ? c.copy() : c; });
  add(`ExternalCopy guest copy ${k}`, (ivm, e) => e.gs(`const c = new ivm.ExternalCopy(${V[k]}); return c.copy()`));
}
const ec = {
  'EC no args': (ivm) => new ivm.ExternalCopy(),
  'EC no new': (ivm) => ivm.ExternalCopy(1),
  'EC bad opts': (ivm) => new ivm.ExternalCopy(1, 5),
  'EC fn': (ivm) => new ivm.ExternalCopy(function f() {}),
  'EC nested fn': (ivm) => new ivm.ExternalCopy({ a() {} }),
  'EC promise': (ivm) => new ivm.ExternalCopy(Promise.resolve(1)),
  'EC symbol nested': (ivm) => new ivm.ExternalCopy({ a: Symbol('x') }),
  'EC weakmap': (ivm) => new ivm.ExternalCopy(new WeakMap()),
  'EC shape': (ivm) => { const c = new ivm.ExternalCopy(1); return [Object.isFrozen(c), Object.keys(c), Object.getOwnPropertyNames(Object.getPrototypeOf(c)).sort()]; },
  'EC static': (ivm) => [typeof ivm.ExternalCopy.totalExternalSize, Object.getOwnPropertyNames(ivm.ExternalCopy).sort()],
  'EC size string': (ivm) => { const b = ivm.ExternalCopy.totalExternalSize; const c = new ivm.ExternalCopy('x'.repeat(1000)); const d = ivm.ExternalCopy.totalExternalSize - b; c.release(); return [d, ivm.ExternalCopy.totalExternalSize - b]; },
  'EC size ab': (ivm) => { const b = ivm.ExternalCopy.totalExternalSize; const c = new ivm.ExternalCopy(new ArrayBuffer(1000)); const d = ivm.ExternalCopy.totalExternalSize - b; c.release(); return [d, ivm.ExternalCopy.totalExternalSize - b]; },
  'EC size u8off': (ivm) => { const b = ivm.ExternalCopy.totalExternalSize; const c = new ivm.ExternalCopy(new Uint8Array(new ArrayBuffer(1000), 10, 20)); const d = ivm.ExternalCopy.totalExternalSize - b; c.release(); return d; },
  'EC size obj': (ivm) => { const b = ivm.ExternalCopy.totalExternalSize; const c = new ivm.ExternalCopy({ a: 'x'.repeat(100) }); const d = ivm.ExternalCopy.totalExternalSize - b; c.release(); return d > 0; },
  'EC size number': (ivm) => { const b = ivm.ExternalCopy.totalExternalSize; const c = new ivm.ExternalCopy(5); const d = ivm.ExternalCopy.totalExternalSize - b; c.release(); return d; },
  'EC size transferIn': (ivm) => { const b = ivm.ExternalCopy.totalExternalSize; const c = new ivm.ExternalCopy(new ArrayBuffer(1000)); c.copy({ transferIn: true }); return ivm.ExternalCopy.totalExternalSize - b; },
  'EC transferOut': (ivm) => { const ab = new ArrayBuffer(8); const c = new ivm.ExternalCopy(ab, { transferOut: true }); return [ab.byteLength, c.copy()]; },
  'EC transferOut view': (ivm) => { const u = new Uint8Array(8); const c = new ivm.ExternalCopy(u, { transferOut: true }); return [u.byteLength, c.copy()]; },
  'EC transferOut obj': (ivm) => new ivm.ExternalCopy({ a: 1 }, { transferOut: true }).copy(),
  'EC transferList': (ivm) => { const ab = new ArrayBuffer(8); const c = new ivm.ExternalCopy({ ab }, { transferList: [ab] }); return [ab.byteLength, c.copy()]; },
  'EC transferList bad': (ivm) => new ivm.ExternalCopy({}, { transferList: [{}] }),
  'EC transferList not array': (ivm) => new ivm.ExternalCopy({}, { transferList: 5 }),
  'EC transferList view': (ivm) => { const u = new Uint8Array(4); return new ivm.ExternalCopy({ u }, { transferList: [u] }); },
  'EC transferList sab': (ivm) => new ivm.ExternalCopy({}, { transferList: [new SharedArrayBuffer(4)] }),
  'EC transferOut primitive': (ivm) => new ivm.ExternalCopy(5, { transferOut: true }).copy(),
  'EC copy transferIn': (ivm) => { const c = new ivm.ExternalCopy(new ArrayBuffer(8)); const a = c.copy({ transferIn: true }); return [a, (() => { try { return c.copy(); } catch (x) { return x.message; } })()]; },
  'EC copy transferIn view': (ivm) => { const c = new ivm.ExternalCopy(new Uint8Array([1, 2])); const a = c.copy({ transferIn: true }); return [a, (() => { try { return c.copy(); } catch (x) { return x.message; } })()]; },
  'EC copy transferIn obj': (ivm) => { const c = new ivm.ExternalCopy({ a: 1 }); const a = c.copy({ transferIn: true }); return [a, c.copy()]; },
  'EC copy release': (ivm) => { const c = new ivm.ExternalCopy(1); const a = c.copy({ release: true }); return [a, (() => { try { return c.copy(); } catch (x) { return x.message; } })()]; },
  'EC copy bad opts': (ivm) => new ivm.ExternalCopy(1).copy(5),
  'EC copyInto release': (ivm, e) => { const c = new ivm.ExternalCopy(1); const a = c.copyInto({ release: true }); e.global.setSync('y', a); return [e.ctx.evalSync('y'), (() => { try { return c.copy(); } catch (x) { return x.message; } })()]; },
  'EC copyInto twice': (ivm, e) => { const c = new ivm.ExternalCopy(1).copyInto(); e.global.setSync('y', c); return e.global.setSync('z', c); },
  'EC copyInto transferIn': (ivm, e) => { const c = new ivm.ExternalCopy(new ArrayBuffer(4)); e.global.setSync('y', c.copyInto({ transferIn: true })); return [e.ctx.evalSync('__d(y)'), (() => { try { return c.copy(); } catch (x) { return x.message; } })()]; },
  'EC copyInto in node': (ivm) => new ivm.Reference(new ivm.ExternalCopy(1).copyInto()).typeof,
  'EC copyInto as apply arg': (ivm, e) => e.ctx.evalSync('(a) => __d(a)', { reference: true }).applySync(undefined, [new ivm.ExternalCopy({ a: 1 }).copyInto()]),
  'EC copyInto closure arg': (ivm, e) => e.ctx.evalClosureSync('return __d($0)', [new ivm.ExternalCopy({ a: 1 }).copyInto()]),
  'EC release twice': (ivm) => { const c = new ivm.ExternalCopy(1); return [c.release(), (() => { try { return c.release(); } catch (x) { return x.message; } })()]; },
  'EC released copy': (ivm) => { const c = new ivm.ExternalCopy(1); c.release(); return c.copy(); },
  'EC released copyInto': (ivm) => { const c = new ivm.ExternalCopy(1); c.release(); return c.copyInto(); },
  'EC released set': (ivm, e) => { const c = new ivm.ExternalCopy(1); c.release(); return e.global.setSync('y', c); },
  'EC nested EC': (ivm) => { const c = new ivm.ExternalCopy({ inner: new ivm.ExternalCopy(5) }); const v = c.copy(); return [v, v.inner.copy()]; },
  'EC nested ref': (ivm) => { const c = new ivm.ExternalCopy({ r: new ivm.Reference(5) }); return c.copy(); },
  'EC nested in guest': (ivm, e) => { const c = new ivm.ExternalCopy({ r: new ivm.Reference(5), n: 1 }); e.global.setSync('y', c.copyInto()); return e.ctx.evalSync('__d(y)'); },
  'EC guest transferOut': (ivm, e) => e.gs('const ab = new ArrayBuffer(8); const c = new ivm.ExternalCopy(ab, {transferOut: true}); return [ab.byteLength, c.copy()]'),
  'EC guest transferList': (ivm, e) => e.gs('const ab = new ArrayBuffer(8); const c = new ivm.ExternalCopy({ab}, {transferList: [ab]}); return [ab.byteLength, c.copy()]'),
  'EC guest copy transferIn': (ivm, e) => e.gs('const c = new ivm.ExternalCopy(new ArrayBuffer(8)); const a = c.copy({transferIn: true}); return [a, (() => { try { return c.copy() } catch (x) { return x.message } })()]'),
  'EC guest bad': (ivm, e) => e.gs('return new ivm.ExternalCopy(function f(){})'),
  'EC guest symbol': (ivm, e) => e.gs('return new ivm.ExternalCopy(Symbol())'),
  'EC guest shape': (ivm, e) => e.gs('const c = new ivm.ExternalCopy(1); return [Object.isFrozen(c), Object.getOwnPropertyNames(Object.getPrototypeOf(c)).sort()]'),
  'EC guest totalExternalSize': (ivm, e) => e.gs('return typeof ivm.ExternalCopy.totalExternalSize'),
  'EC guest released': (ivm, e) => e.gs('const c = new ivm.ExternalCopy(1); c.release(); return c.copy()'),
  'EC guest no new': (ivm, e) => e.gs('return ivm.ExternalCopy(1)'),
  'EC guest copyInto twice': (ivm, e) => e.gs(`${NEST} const c = new ivm.ExternalCopy(1).copyInto(); c2.global.setSync('a', c); return c2.global.setSync('b', c)`),
  'EC sab shared with guest': (ivm, e) => { const s = new SharedArrayBuffer(4); e.global.setSync('y', new ivm.ExternalCopy(s).copyInto()); e.ctx.evalSync('new Uint8Array(y)[0] = 9'); return new Uint8Array(s)[0]; },
  'EC sab shared guests': (ivm, e) => e.gs(`${NEST} const s = new SharedArrayBuffer(4); c2.global.setSync('y', new ivm.ExternalCopy(s).copyInto()); c2.evalSync('new Uint8Array(y)[0] = 9'); return new Uint8Array(s)[0]`),
  'EC resizable ab': (ivm) => new ivm.ExternalCopy(new ArrayBuffer(4, { maxByteLength: 8 })).copy(),
  'EC detached ab': (ivm) => { const ab = new ArrayBuffer(4); structuredClone(ab, { transfer: [ab] }); return new ivm.ExternalCopy(ab).copy(); },
  'EC big obj copy': (ivm) => new ivm.ExternalCopy({ a: [1, 2, { b: 'c' }], d: new Date(0) }).copy(),
  'EC error copy': (ivm) => { const c = new ivm.ExternalCopy(new TypeError('tt')).copy(); return [c.constructor.name, c.message, typeof c.stack]; },
  'EC error in guest': (ivm, e) => { e.global.setSync('y', new ivm.ExternalCopy(new TypeError('tt')).copyInto()); return e.ctx.evalSync('__d(y) + (y instanceof TypeError)'); },
  'EC string copy is string': (ivm) => typeof new ivm.ExternalCopy(new String('x')).copy(),
  'EC copy twice distinct': (ivm) => { const c = new ivm.ExternalCopy({ a: 1 }); return c.copy() !== c.copy(); },
  'EC copy ab twice': (ivm) => { const c = new ivm.ExternalCopy(new Uint8Array([1]).buffer); const a = c.copy(); new Uint8Array(a)[0] = 5; return c.copy(); },
  'EC toString': (ivm) => String(new ivm.ExternalCopy(1)),
  'EC copyInto shape': (ivm) => { const c = new ivm.ExternalCopy(1).copyInto(); return [Object.isFrozen(c), Object.getOwnPropertyNames(Object.getPrototypeOf(c))]; },
  'EC apply arg': (ivm, e) => e.ctx.evalSync('(a) => __d(a) + " " + __d(a.copy())', { reference: true }).applySync(undefined, [new ivm.ExternalCopy({ a: 1 })]),
  'EC from guest result': (ivm, e) => { const c = e.ctx.evalSync('({a:1})', { externalCopy: true }); return [c.constructor.name, c.copy()]; },
  'EC from guest fn result': (ivm, e) => e.ctx.evalSync('(function(){})', { externalCopy: true }),
  'EC from guest promise ext': (ivm, e) => e.ctx.evalSync('Promise.resolve({a:1})', { externalCopy: true, promise: true }).then((c) => [c.constructor.name, c.copy()]),
};
for (const [n, f] of Object.entries(ec)) add(n, f);

// ---------------------------------------------------------------- options / defaults / misc transfer
const misc = {
  'eval opts number': (ivm, e) => e.ctx.evalSync('1', 5),
  'eval opts null': (ivm, e) => e.ctx.evalSync('1', null),
  'eval copy false': (ivm, e) => e.ctx.evalSync('({a:1})', { copy: false }),
  'eval copy string': (ivm, e) => e.ctx.evalSync('({a:1})', { copy: 'yes' }),
  'eval copy 1': (ivm, e) => e.ctx.evalSync('({a:1})', { copy: 1 }),
  'eval reference 0': (ivm, e) => e.ctx.evalSync('({a:1})', { reference: 0 }),
  'eval promise nonpromise copy': (ivm, e) => e.ctx.evalSync('({a:1})', { promise: true, copy: true }),
  'eval promise rejected': (ivm, e) => e.ctx.evalSync('Promise.reject(new TypeError("x"))', { promise: true }),
  'eval promise rejected obj': (ivm, e) => e.ctx.evalSync('Promise.reject({a:1})', { promise: true }),
  'eval promise pending then resolved': (ivm, e) => e.ctx.evalSync('new Promise((r) => globalThis.res = r)', { promise: true }),
  'eval promise resolved obj no copy': (ivm, e) => e.ctx.evalSync('Promise.resolve({a:1})', { promise: true }),
  'eval promise resolved fn': (ivm, e) => e.ctx.evalSync('Promise.resolve(() => 1)', { promise: true }),
  'eval promise abandoned': (ivm, e) => { const p = e.ctx.evalSync('new Promise(() => {})', { promise: true }); e.iso.dispose(); return p; },
  'eval thenable': (ivm, e) => e.ctx.evalSync('({then(r) { r(5) }})', { promise: true }),
  'evalClosure no args param': (ivm, e) => e.ctx.evalClosureSync('return arguments.length'),
  'evalClosure args not array': (ivm, e) => e.ctx.evalClosureSync('return 1', 5),
  'evalClosure args null': (ivm, e) => e.ctx.evalClosureSync('return arguments.length', null),
  'evalClosure obj arg no opts': (ivm, e) => e.ctx.evalClosureSync('return 1', [{}]),
  'evalClosure fn arg': (ivm, e) => e.ctx.evalClosureSync('return $0(2)', [(x) => x * 3]),
  'evalClosure fn arg shape': (ivm, e) => e.ctx.evalClosureSync('return __d($0)', [function hi(a, b) {}]),
  'evalClosure this': (ivm, e) => e.ctx.evalClosureSync('return this === globalThis'),
  'evalClosure ref arg': (ivm, e) => e.ctx.evalClosureSync('return __d($0)', [new ivm.Reference({})]),
  'evalClosure isolate arg': (ivm, e) => e.ctx.evalClosureSync('return __d($0)', [e.iso]),
  'evalClosure context arg': (ivm, e) => e.ctx.evalClosureSync('return __d($0)', [e.ctx]),
  'evalClosure script arg': (ivm, e) => e.ctx.evalClosureSync('return __d($0)', [e.iso.compileScriptSync('1')]),
  'evalClosure library arg': (ivm, e) => e.ctx.evalClosureSync('return __d(typeof $0.Isolate)', [ivm]),
  'evalClosure returns context': (ivm, e) => e.ctx.evalClosureSync('return $0', [e.ctx]),
  'evalClosure returns isolate': (ivm, e) => e.ctx.evalClosureSync('return $0', [e.iso]),
  'eval returns ref': (ivm, e) => e.ctx.evalSync('new ivm.Reference({})'),
  'eval returns ec': (ivm, e) => e.ctx.evalSync('new ivm.ExternalCopy({a:1})'),
  'eval returns callback': (ivm, e) => e.ctx.evalSync('new ivm.Callback(() => 1)'),
  'eval returns library': (ivm, e) => typeof e.ctx.evalSync('ivm'),
  'eval returns isolate': (ivm, e) => e.ctx.evalSync('new ivm.Isolate()'),
  'eval returns derefInto': (ivm, e) => e.ctx.evalSync('new ivm.Reference({}).derefInto()'),
  'eval returns copyInto': (ivm, e) => e.ctx.evalSync('new ivm.ExternalCopy(1).copyInto()'),
  'eval returns ref copy opt': (ivm, e) => e.ctx.evalSync('new ivm.Reference({})', { copy: true }),
  'eval returns ref ref opt': (ivm, e) => e.ctx.evalSync('new ivm.Reference({})', { reference: true }).typeof,
  'eval returns ec ext opt': (ivm, e) => e.ctx.evalSync('new ivm.ExternalCopy(1)', { externalCopy: true }),
  'eval returns fn then call': (ivm, e) => { const f = e.ctx.evalSync('(function f(a){ return a * 2 })'); return [f(4), f.name, f.length]; },
  'eval fn call obj arg': (ivm, e) => e.ctx.evalSync('(function f(a){ return __d(a) })')({ a: 1 }),
  'eval fn call obj result': (ivm, e) => e.ctx.evalSync('(function f(){ return {a:1} })')(),
  'eval fn call throws': (ivm, e) => e.ctx.evalSync('(function f(){ throw new RangeError("r") })')(),
  'eval fn call new': (ivm, e) => { const F = e.ctx.evalSync('(function f(){ this.a = 1 })'); return new F(); },
  'eval fn call this': (ivm, e) => e.ctx.evalSync('(function f(){ return __d(this) })').call(5),
  'eval fn call fn arg': (ivm, e) => e.ctx.evalSync('(function f(g){ return g(3) })')((x) => x + 1),
  'eval fn call after dispose': (ivm, e) => { const f = e.ctx.evalSync('(function f(){ return 1 })'); e.iso.dispose(); return f(); },
  'eval fn shape': (ivm, e) => { const f = e.ctx.evalSync('(function f(){ return 1 })'); return [Object.isFrozen(f), typeof f.prototype, Object.keys(f)]; },
  'eval fn into other guest': (ivm, e) => { const f = e.ctx.evalSync('(function f(a){ return a + 1 })'); const i2 = new ivm.Isolate(); const c2 = i2.createContextSync(); c2.global.setSync('f', f); const r = c2.evalSync('f(1)'); i2.dispose(); return r; },
  'node fn into guest via set': (ivm, e) => { e.global.setSync('nf', function nf(a, b) { return a + b; }); return e.gs('return [__d(nf), nf(1, 2)]'); },
  'node fn into guest via set obj arg': (ivm, e) => { e.global.setSync('nf', (a) => __dd(a)); return e.gs('return nf({a: new Date(2)})'); },
  'node fn into guest via set promise arg': (ivm, e) => { e.global.setSync('nf', (a) => __dd(a)); return e.gs('return nf(Promise.resolve(1))'); },
  'node fn into guest result obj': (ivm, e) => { e.global.setSync('nf', () => ({ d: new Date(2) })); return e.gs('return nf()'); },
  'node fn into guest result fn': (ivm, e) => { e.global.setSync('nf', () => () => 1); return e.gs('return nf()'); },
  'node fn into guest result promise': (ivm, e) => { e.global.setSync('nf', () => Promise.resolve(1)); return e.gs('return nf()'); },
  'node fn into guest result symbol': (ivm, e) => { e.global.setSync('nf', () => Symbol('s')); return e.gs('return nf()'); },
  'node fn into guest async-eval': (ivm, e) => { e.global.setSync('nf', (a) => a + 1); return e.ga('return nf(1)'); },
  'node class into guest': (ivm, e) => { e.global.setSync('K', class K {}); return e.gs('return __d(K)'); },
  'node bound fn into guest': (ivm, e) => { e.global.setSync('bf', function z(a) { return a; }.bind(null)); return e.gs('return __d(bf)'); },
  'set value library': (ivm, e) => { e.global.setSync('L', ivm); return e.gs('return [typeof L.Isolate, Object.isFrozen(L), L === ivm]'); },
  'library keys': (ivm, e) => Object.keys(ivm).sort(),
  'guest library keys': (ivm, e) => e.gs('return Object.keys(ivm).sort()'),
  'guest library frozen': (ivm, e) => e.gs('return [Object.isFrozen(ivm), Object.isFrozen(ivm.Reference.prototype)]'),
  'guest ref shape': (ivm, e) => e.gs('const r = new ivm.Reference(1); return [Object.isFrozen(r), Object.getOwnPropertyNames(Object.getPrototypeOf(r)).sort()]'),
  'guest ref no new': (ivm, e) => e.gs('return ivm.Reference(1)'),
  'guest callback non-fn': (ivm, e) => e.gs('return new ivm.Callback(1)'),
  'guest callback shape': (ivm, e) => e.gs('const c = new ivm.Callback(function g(a){}); return [Object.isFrozen(c), Object.getOwnPropertyNames(Object.getPrototypeOf(c))]'),
  'set value promise default': (ivm, e) => e.global.setSync('p', Promise.resolve(1)),
  'set value promise opt': (ivm, e) => { e.global.setSync('p', Promise.resolve({ a: 1 }), { promise: true, copy: true }); return e.ga('return p'); },
  'set value promise opt noncopy': (ivm, e) => { e.global.setSync('p', Promise.resolve({ a: 1 }), { promise: true }); return e.ga('return p'); },
  'set value nonpromise promise opt': (ivm, e) => { e.global.setSync('p', 5, { promise: true }); return e.gs('return Object.prototype.toString.call(p)'); },
  'set value externalCopy': (ivm, e) => { e.global.setSync('p', { a: 1 }, { externalCopy: true }); return e.gs('return [__d(p), p.copy()]'); },
  'set value reference': (ivm, e) => { e.global.setSync('p', { a: 1 }, { reference: true }); return e.gs('return [__d(p), p.getSync("a")]'); },
  'set value ref deref in guest': (ivm, e) => { e.global.setSync('p', { a: 1 }, { reference: true }); return e.gs('return p.deref()'); },
  'apply arg promise opt': (ivm, e) => e.ctx.evalSync('(async (p) => __d(await p))', { reference: true }).apply(undefined, [Promise.resolve(4)], { arguments: { promise: true }, result: { promise: true } }),
  'apply result promise opt sync': (ivm, e) => e.ctx.evalSync('(async () => 4)', { reference: true }).applySync(undefined, [], { result: { promise: true } }),
  'apply result promise default': (ivm, e) => e.ctx.evalSync('(async () => 4)', { reference: true }).applySync(undefined, []),
  'apply async result promise default': (ivm, e) => e.ctx.evalSync('(async () => 4)', { reference: true }).apply(undefined, []),
  'apply result promise copy': (ivm, e) => e.ctx.evalSync('(async () => ({a:1}))', { reference: true }).applySync(undefined, [], { result: { promise: true, copy: true } }),
  'apply result promise rejects': (ivm, e) => e.ctx.evalSync('(async () => { throw new RangeError("q") })', { reference: true }).applySync(undefined, [], { result: { promise: true } }),
  'eval async promise': (ivm, e) => e.ctx.eval('Promise.resolve(6)', { promise: true }),
  'eval async promise copy obj': (ivm, e) => e.ctx.eval('Promise.resolve({a:1})', { promise: true, copy: true }),
  'evalClosure promise': (ivm, e) => e.ctx.evalClosureSync('return Promise.resolve(7)', [], { result: { promise: true } }),
  'evalClosure promise default': (ivm, e) => e.ctx.evalClosureSync('return Promise.resolve(7)'),
  'eval timeout': (ivm, e) => e.ctx.evalSync('for(;;);', { timeout: 20 }),
  'guest node ref apply arg handles': (ivm, e) => { e.global.setSync('nref', new ivm.Reference((...a) => a.map((x) => (x === null ? 'null' : typeof x === 'object' ? x.constructor.name : typeof x)))); return e.gs(`${NEST} return nref.applySync(undefined, [i2, c2, new ivm.ExternalCopy(1), i2.compileScriptSync('1')], {result: {copy: true}})`); },
  'guest node ref apply result handles': (ivm, e) => { e.global.setSync('nref', new ivm.Reference(() => [new ivm.Reference(1)])); return e.gs('return nref.applySync(undefined, [], {result: {copy: true}})'); },
  'guest node ref apply result ref': (ivm, e) => { e.global.setSync('nref', new ivm.Reference(() => new ivm.Reference({ a: 1 }))); return e.gs('return nref.applySync(undefined, [])'); },
  'guest node ref apply result ec': (ivm, e) => { e.global.setSync('nref', new ivm.Reference(() => new ivm.ExternalCopy({ a: 1 }))); return e.gs('const c = nref.applySync(undefined, []); return [__d(c), c.copy()]'); },
  'guest node ref apply result callback': (ivm, e) => { e.global.setSync('nref', new ivm.Reference(() => new ivm.Callback(() => 3))); return e.gs('const c = nref.applySync(undefined, []); return [__d(c), c()]'); },
  'guest node ref apply fn result call': (ivm, e) => { e.global.setSync('nref', new ivm.Reference(() => (a) => a * 3)); return e.gs('const c = nref.applySync(undefined, []); return [__d(c), c(2)]'); },
  'guest node ref get fn call': (ivm, e) => { e.global.setSync('nref', new ivm.Reference({ f: (a) => a * 3 })); return e.gs('const c = nref.getSync("f"); return [__d(c), c(2)]'); },
  'guest fn arg called by node': (ivm, e) => { let got; e.global.setSync('nref', new ivm.Reference((f) => { got = f; return f(5); })); return [e.gs('return nref.applySync(undefined, [(x) => x * 2])').text, typeof got, got && got.name, got && got.length]; },
  'guest fn arg called by node obj': (ivm, e) => { e.global.setSync('nref', new ivm.Reference((f) => f({ a: 1 }))); return e.gs('return nref.applySync(undefined, [(x) => __d(x)])'); },
  'guest fn arg called by node returns obj': (ivm, e) => { e.global.setSync('nref', new ivm.Reference((f) => __dd(f()))); return e.gs('return nref.applySync(undefined, [() => ({a: 1})])'); },
  'guest fn arg called by node later': (ivm, e) => { let got; e.global.setSync('nref', new ivm.Reference((f) => { got = f; })); e.gs('nref.applySync(undefined, [(x) => x * 2])'); return got(4); },
  'guest fn arg async mode called': (ivm, e) => { let got; e.global.setSync('nref', new ivm.Reference((f) => { got = f; })); e.gs('nref.applySync(undefined, [(x) => x * 2])'); return [typeof got(4)]; },
};
for (const [n, f] of Object.entries(misc)) add(n, f);

// ---------------------------------------------------------------- second battery: guest -> guest options, round trips
const G2 = `${NEST} c2.evalSync(${JSON.stringify(require('./describe').source)});`;
for (const k of ['num', 'str', 'obj', 'fn', 'date', 'u8', 'sym', 'prom', 'big']) {
  for (const o of TOK) {
    add(`b2 g2g setSync ${k} ${o}`, (ivm, e) => e.gs(`${G2} const r = c2.global.setSync('x', ${V[k]}, ${optSrc(TO[o])}); return String(r) + ' ' + c2.evalSync('__d(x)')`));
    add(`b2 g2g applySync arg ${k} ${o}`, (ivm, e) => e.gs(`${G2} const f = c2.evalSync('(a) => __d(a)', {reference:true}); return f.applySync(undefined, [${V[k]}], {arguments: ${optSrc(TO[o])}})`));
    add(`b2 g2g applySync result ${k} ${o}`, (ivm, e) => e.gs(`${G2} const f = c2.evalSync(${JSON.stringify('(function () { return ' + V[k] + ' })')}, {reference:true}); return f.applySync(undefined, [], {result: ${optSrc(TO[o])}})`));
    add(`b2 g2g getSync ${k} ${o}`, (ivm, e) => e.gs(`${G2} c2.evalSync(${JSON.stringify('globalThis.x = ' + V[k])}); return c2.global.getSync('x', ${optSrc(TO[o])})`));
    add(`b2 g2g evalSync ${k} ${o}`, (ivm, e) => e.gs(`${G2} return c2.evalSync(${JSON.stringify(V[k])}, ${optSrc(TO[o])})`));
    add(`b2 g2g evalClosureSync ${k} ${o}`, (ivm, e) => e.gs(`${G2} return c2.evalClosureSync('return __d($0)', [${V[k]}], {arguments: ${optSrc(TO[o])}})`));
  }
}
const b2 = {
  'b2 node ref round trip': (ivm, e) => { const o = { a: 1 }; const r = new ivm.Reference(o); e.global.setSync('r', r); const back = e.global.getSync('r'); return [back === r, back instanceof ivm.Reference, back.deref() === o, back.typeof]; },
  'b2 guest ref round trip': (ivm, e) => { const r = e.ctx.evalSync('globalThis.o = {a: 1}', { reference: true }); e.global.setSync('r', r); return e.ctx.evalSync('__d(r) + " " + (r.deref() === o)'); },
  'b2 guest ref derefInto as arg': (ivm, e) => { const r = e.ctx.evalSync('globalThis.o = {a: 1}', { reference: true }); return e.ctx.evalSync('(x) => x === o', { reference: true }).applySync(undefined, [r.derefInto()]); },
  'b2 guest ref derefInto as recv': (ivm, e) => { const r = e.ctx.evalSync('globalThis.o = {a: 1}', { reference: true }); return e.ctx.evalSync('(function () { return this === o })', { reference: true }).applySync(r.derefInto(), []); },
  'b2 guest ref as recv': (ivm, e) => { const r = e.ctx.evalSync('globalThis.o = {a: 1}', { reference: true }); return e.ctx.evalSync('(function () { return __d(this) })', { reference: true }).applySync(r, []); },
  'b2 context as arg': (ivm, e) => e.ctx.evalSync('(c) => __d(c) + " " + __d(c.global)', { reference: true }).applySync(undefined, [e.ctx]),
  'b2 isolate as arg': (ivm, e) => e.ctx.evalSync('(i) => __d(i) + " " + typeof i.createContextSync', { reference: true }).applySync(undefined, [e.iso]),
  'b2 script as arg': (ivm, e) => e.ctx.evalSync('(s) => __d(s)', { reference: true }).applySync(undefined, [e.iso.compileScriptSync('1')]),
  'b2 own context in guest evalSync': (ivm, e) => e.ctx.evalClosureSync('return $0.evalSync("1+1")', [e.ctx]),
  'b2 own isolate in guest': (ivm, e) => e.ctx.evalClosureSync('return $0.createContextSync().evalSync("2")', [e.iso]),
  'b2 callback name odd': (ivm, e) => { const f = function () {}; Object.defineProperty(f, 'name', { value: 5 }); e.global.setSync('cb', new ivm.Callback(f)); return e.gs('return [cb.name, cb.length]'); },
  'b2 callback bound': (ivm, e) => { e.global.setSync('cb', new ivm.Callback(function z(a, b) { return this; }.bind(7))); return e.gs('return [cb.name, cb.length, cb()]'); },
  'b2 callback class': (ivm, e) => { e.global.setSync('cb', new ivm.Callback(class K {})); return e.gs('return cb()'); },
  'b2 callback returns ref': (ivm, e) => { e.global.setSync('cb', new ivm.Callback(() => new ivm.Reference({ a: 1 }))); return e.gs('const r = cb(); return [__d(r), r.getSync("a")]'); },
  'b2 callback returns callback': (ivm, e) => { e.global.setSync('cb', new ivm.Callback(() => new ivm.Callback(() => 4))); return e.gs('return cb()()'); },
  'b2 callback returns promise sync': (ivm, e) => { e.global.setSync('cb', new ivm.Callback(() => Promise.resolve(1))); return e.gs('return cb()'); },
  'b2 callback returns ec': (ivm, e) => { e.global.setSync('cb', new ivm.Callback(() => new ivm.ExternalCopy({ a: 2 }))); return e.gs('const c = cb(); return [__d(c), c.copy()]'); },
  'b2 callback arg ref': (ivm, e) => { e.global.setSync('cb', new ivm.Callback((r) => r.typeof)); return e.gs('return cb(new ivm.Reference(1))'); },
  'b2 callback arg nested ref': (ivm, e) => { e.global.setSync('cb', new ivm.Callback((o) => o.r.typeof)); return e.gs('return cb({ r: new ivm.Reference(1) })'); },
  'b2 callback arg date map': (ivm, e) => { e.global.setSync('cb', new ivm.Callback((o) => __dd(o))); return e.gs('return cb({ d: new Date(1), m: new Map([[1, 2]]) })'); },
  'b2 callback arg fn nested': (ivm, e) => { e.global.setSync('cb', new ivm.Callback((o) => 1)); return e.gs('return cb({ f() {} })'); },
  'b2 callback arg promise': (ivm, e) => { e.global.setSync('cb', new ivm.Callback((o) => 1)); return e.gs('return cb(Promise.resolve())'); },
  'b2 callback arg error': (ivm, e) => { e.global.setSync('cb', new ivm.Callback((o) => __dd(o))); return e.gs('return cb(new TypeError("t"))'); },
  'b2 callback result error': (ivm, e) => { e.global.setSync('cb', new ivm.Callback(() => new RangeError('r'))); return e.gs('return cb()'); },
  'b2 callback result getter obj': (ivm, e) => { e.global.setSync('cb', new ivm.Callback(() => ({ get g() { return 1; } }))); return e.gs('return cb()'); },
  'b2 callback result class instance': (ivm, e) => { class Q { constructor() { this.a = 1; } } e.global.setSync('cb', new ivm.Callback(() => new Q())); return e.gs('return cb()'); },
  'b2 callback async mode result prim': (ivm, e) => { e.global.setSync('cb', new ivm.Callback(() => 5, { async: true })); return e.ga('return cb()'); },
  'b2 callback async mode throws sync': (ivm, e) => { e.global.setSync('cb', new ivm.Callback(() => { throw new TypeError('x'); }, { async: true })); return e.ga('return cb()'); },
  'b2 callback ignored mode args': (ivm, e) => { let got; e.global.setSync('cb', new ivm.Callback((a) => { got = a; }, { ignored: true })); e.gs('cb({ a: 1 })'); return new Promise((r) => setTimeout(() => r(__dd(got)), 50)); },
  'b2 callback released guest side': (ivm, e) => { e.global.setSync('cb', new ivm.Callback(() => 1)); return e.gs('return typeof cb.release'); },
  'b2 callback into g2g': (ivm, e) => { e.global.setSync('cb', new ivm.Callback((a) => a * 2)); return e.gs(`${NEST} c2.global.setSync('cb', cb); return c2.evalSync('cb(21)')`); },
  'b2 node fn into g2g': (ivm, e) => { e.global.setSync('nf', (a) => a * 2); return e.gs(`${NEST} c2.global.setSync('nf', nf); return c2.evalSync('nf(21)')`); },
  'b2 node ref into g2g': (ivm, e) => { e.global.setSync('nr', new ivm.Reference({ a: 5 })); return e.gs(`${NEST} c2.global.setSync('nr', nr); return c2.evalSync('nr.getSync("a")')`); },
  'b2 guest fn into g2g default': (ivm, e) => e.gs(`${NEST} c2.global.setSync('gf', (a) => a * 2); return c2.evalSync('typeof gf + gf(4)')`),
  'b2 guest fn into g2g async eval': (ivm, e) => e.ga(`${NEST} await c2.global.set('gf', (a) => a * 2); return c2.eval('gf(4)')`),
  'b2 ec copy release guest': (ivm, e) => e.gs('const c = new ivm.ExternalCopy({a: 1}); const v = c.copy({release: true}); let m; try { c.copy() } catch (x) { m = x.message } return [v, m]'),
  'b2 ec copyInto release guest': (ivm, e) => e.gs(`${NEST} const c = new ivm.ExternalCopy(5); c2.global.setSync('v', c.copyInto({release: true})); let m; try { c.copy() } catch (x) { m = x.message } return [c2.evalSync('v'), m]`),
  'b2 ec guest bad opts': (ivm, e) => e.gs('return new ivm.ExternalCopy(1, 5)'),
  'b2 ec guest transferList bad': (ivm, e) => e.gs('return new ivm.ExternalCopy({}, {transferList: [{}]})'),
  'b2 ec guest copy bad opts': (ivm, e) => e.gs('return new ivm.ExternalCopy(1).copy(5)'),
  'b2 ec guest copyInto twice same iso': (ivm, e) => e.gs(`${NEST} const c = new ivm.ExternalCopy(1).copyInto(); c2.global.setSync('a', c); return c2.global.setSync('b', c)`),
  'b2 guest ref release twice': (ivm, e) => e.gs('const r = new ivm.Reference(1); r.release(); return r.release()'),
  'b2 guest ref released typeof': (ivm, e) => e.gs('const r = new ivm.Reference(1); r.release(); return r.typeof'),
  'b2 guest ref deref release': (ivm, e) => e.gs('const r = new ivm.Reference({a: 1}); const v = r.deref({release: true}); let m; try { r.typeof } catch (x) { m = x.message } return [v, m]'),
  'b2 guest ref bad opts': (ivm, e) => e.gs('return new ivm.Reference(1, 5)'),
  'b2 guest ref unsafeInherit str': (ivm, e) => e.gs('return new ivm.Reference(1, {unsafeInherit: "x"})'),
  'b2 guest ref get accessors str': (ivm, e) => e.gs('return new ivm.Reference({a: 1}).getSync("a", {accessors: "x"})'),
  'b2 guest eval copy str': (ivm, e) => e.gs(`${NEST} return c2.evalSync('1', {copy: 'x'})`),
  'b2 guest callback async str': (ivm, e) => e.gs('return new ivm.Callback(() => 1, {async: "x"})'),
  'b2 guest ref get no key': (ivm, e) => e.gs('return new ivm.Reference({}).getSync()'),
  'b2 guest ref set no value': (ivm, e) => e.gs('const o = {}; const r = new ivm.Reference(o).setSync("a"); return [r, "a" in o]'),
  'b2 guest ref no args': (ivm, e) => e.gs('return new ivm.Reference()'),
  'b2 guest ec no args': (ivm, e) => e.gs('return new ivm.ExternalCopy()'),
  'b2 guest callback no new': (ivm, e) => e.gs('return ivm.Callback(() => 1)'),
  'b2 guest ec no new2': (ivm, e) => e.gs('try { ivm.ExternalCopy(1) } catch (x) { return x.message }'),
  'b2 guest apply opts conflict': (ivm, e) => e.gs('return new ivm.Reference(() => 1).applySync(undefined, [], {result: {copy: true, reference: true}})'),
  'b2 guest set promise nonpromise': (ivm, e) => e.gs(`${NEST} return c2.global.setSync('p', {}, {promise: true})`),
  'b2 guest eval promise obj': (ivm, e) => e.ga(`${NEST} return c2.evalSync('({a: 1})', {promise: true}).then((v) => 'ok ' + typeof v, (x) => 'rej ' + x.message)`),
  'b2 guest get promise obj': (ivm, e) => e.ga(`${NEST} c2.evalSync('globalThis.x = {a: 1}'); return c2.global.getSync('x', {promise: true}).then((v) => 'ok ' + __d(v), (x) => 'rej ' + x.message)`),
  'b2 guest ref typeof primitives to nested': (ivm, e) => e.gs(`${NEST} c2.global.setSync('r', 5, {reference: true}); return c2.evalSync('r.typeof')`),
  'b2 node getSync ref from guest deref': (ivm, e) => { e.ctx.evalSync('globalThis.r = new ivm.Reference({a: 1})'); const r = e.global.getSync('r'); return [__dd(r), r.getSync('a')]; },
  'b2 node getSync guest ec': (ivm, e) => { e.ctx.evalSync('globalThis.r = new ivm.ExternalCopy({a: 1})'); const r = e.global.getSync('r'); return [__dd(r), r.copy()]; },
  'b2 node getSync guest callback': (ivm, e) => { e.ctx.evalSync('globalThis.r = new ivm.Callback((a) => a + 1)'); const r = e.global.getSync('r'); return [__dd(r), r(1)]; },
  'b2 node getSync copy with ref inside': (ivm, e) => { e.ctx.evalSync('globalThis.r = {ref: new ivm.Reference({a: 1}), n: 2}'); const r = e.global.getSync('r', { copy: true }); return [__dd(r), r.ref.getSync('a')]; },
  'b2 node getSync copy with fn inside': (ivm, e) => { e.ctx.evalSync('globalThis.r = {f() {}}'); return e.global.getSync('r', { copy: true }); },
  'b2 externalCopy result of fn': (ivm, e) => e.ctx.evalSync('(function(){})', { externalCopy: true }),
  'b2 externalCopy result sym': (ivm, e) => e.ctx.evalSync('Symbol()', { externalCopy: true }),
  'b2 externalCopy result prim': (ivm, e) => { const c = e.ctx.evalSync('5', { externalCopy: true }); return [__dd(c), c.copy()]; },
  'b2 set externalCopy fn': (ivm, e) => e.global.setSync('x', () => 1, { externalCopy: true }),
  'b2 set copy fn': (ivm, e) => e.global.setSync('x', () => 1, { copy: true }),
  'b2 set copy ref': (ivm, e) => { e.global.setSync('x', new ivm.Reference({ a: 1 }), { copy: true }); return e.ctx.evalSync('__d(x)'); },
  'b2 set copy callback': (ivm, e) => { e.global.setSync('x', new ivm.Callback(() => 1), { copy: true }); return e.ctx.evalSync('__d(x)'); },
  'b2 set ref callback': (ivm, e) => { e.global.setSync('x', new ivm.Callback(() => 1), { reference: true }); return e.ctx.evalSync('__d(x)'); },
  'b2 set ext ref': (ivm, e) => { e.global.setSync('x', new ivm.Reference(1), { externalCopy: true }); return e.ctx.evalSync('__d(x)'); },
  'b2 set ref ec': (ivm, e) => { e.global.setSync('x', new ivm.ExternalCopy(1), { reference: true }); return e.ctx.evalSync('__d(x)'); },
  'b2 set ref ref': (ivm, e) => { e.global.setSync('x', new ivm.Reference(1), { reference: true }); return e.ctx.evalSync('__d(x)'); },
  'b2 set copy ec': (ivm, e) => { e.global.setSync('x', new ivm.ExternalCopy({ a: 1 }), { copy: true }); return e.ctx.evalSync('__d(x)'); },
  'b2 set ext ec': (ivm, e) => { e.global.setSync('x', new ivm.ExternalCopy({ a: 1 }), { externalCopy: true }); return e.ctx.evalSync('__d(x) + __d(x.copy())'); },
  'b2 set copy context': (ivm, e) => { e.global.setSync('x', e.ctx, { copy: true }); return e.ctx.evalSync('__d(x)'); },
  'b2 set ref context': (ivm, e) => { e.global.setSync('x', e.ctx, { reference: true }); return e.ctx.evalSync('__d(x)'); },
  'b2 set library ref': (ivm, e) => { e.global.setSync('x', ivm, { reference: true }); return e.ctx.evalSync('__d(x)'); },
  'b2 set library copy': (ivm, e) => { e.global.setSync('x', ivm, { copy: true }); return e.ctx.evalSync('typeof x'); },
};
for (const [n, f] of Object.entries(b2)) add(n, f);

// ---------------------------------------------------------------- third battery: more value kinds under copy
const V3 = {
  bi64: 'new BigInt64Array([1n, -2n])', u8c: 'new Uint8ClampedArray([1, 300])', dvoff: 'new DataView(new Uint8Array([1,2,3,4,5]).buffer, 1, 3)',
  negzarr: '[-0, NaN, Infinity]', arrprops: '(() => { const a = [1, 2]; a.x = 3; return a })()', symkey: '({ [Symbol("s")]: 1, a: 2 })',
  errcause: 'new Error("e", { cause: { c: 1 } })', agg: 'new AggregateError([new Error("x")], "agg")', getter: '({ get g() { return 5 }, a: 1 })',
  proxyarr: 'new Proxy([1, 2], {})', baddate: 'new Date(NaN)', surrogate: '"a\\ud800b"', protokey: 'JSON.parse(\'{"__proto__": {"x": 1}}\')',
  clsinst: '(() => { class Q { constructor() { this.a = 1 } m() {} }; return new Q() })()', mapobjkey: 'new Map([[{ k: 1 }, "v"]])',
  nestedset: 'new Set([new Set([1])])', circ: '(() => { const o = { a: 1 }; o.self = o; return o })()', circarr: '(() => { const a = [1]; a.push(a); return a })()',
  weakref: 'new WeakRef({})', resizable: 'new ArrayBuffer(4, { maxByteLength: 8 })', boxedstr: 'new String("bx")', boxedbig: 'Object(5n)',
  evalerr: 'new EvalError("ev")', urierr: 'new URIError("u")', nonenumerable: 'Object.defineProperty({ a: 1 }, "h", { value: 2, enumerable: false })',
  holes: '[, , 1]', bigstr: '"y".repeat(70000)', emptyobj: '({})', frozen: 'Object.freeze({ f: 1 })', regexflags: '/a+/gimsuy',
  dateobj: '({ d: new Date(0) })', i32: 'new Int32Array([-1, 2 ** 31 - 1])', float32: 'new Float32Array([0.5, -0])', u16off: 'new Uint16Array(new ArrayBuffer(8), 2, 2)',
  nestedbuf: '({ b: new Uint8Array([9]).buffer, v: new Uint8Array([7, 8]) })', sharedview: '({ v: new Uint8Array(new ArrayBuffer(4), 1, 2) })',
};
for (const [k, src] of Object.entries(V3)) {
  add(`b3 node->guest copy ${k}`, (ivm, e) => { e.global.setSync('x', (0, eval)(src), { copy: true }); return e.ctx.evalSync('__d(x)'); });
  add(`b3 guest->node copy ${k}`, (ivm, e) => e.ctx.evalSync(src, { copy: true }));
  add(`b3 node EC ${k}`, (ivm) => new ivm.ExternalCopy((0, eval)(src)).copy());
  add(`b3 node EC into guest ${k}`, (ivm, e) => { e.global.setSync('x', new ivm.ExternalCopy((0, eval)(src)).copyInto()); return e.ctx.evalSync('__d(x)'); });
  add(`b3 guest EC ${k}`, (ivm, e) => e.gs(`return new ivm.ExternalCopy(${src}).copy()`));
  add(`b3 guest EC to node ${k}`, (ivm, e) => { const c = e.ctx.evalSync(`new ivm.ExternalCopy(${src})`); return c.copy(); });
  add(`b3 g2g copy ${k}`, (ivm, e) => e.gs(`${NEST} return c2.evalSync(${JSON.stringify(src)}, { copy: true })`));
  add(`b3 callback arg ${k}`, (ivm, e) => { e.global.setSync('cb', new ivm.Callback((a) => __dd(a))); return e.gs(`return cb(${src})`); });
  add(`b3 callback result ${k}`, (ivm, e) => { e.global.setSync('cb', new ivm.Callback(() => (0, eval)(src))); return e.gs('return cb()'); });
  add(`b3 eval default ${k}`, (ivm, e) => e.ctx.evalSync(src));
  add(`b3 get default ${k}`, (ivm, e) => { e.ctx.evalSync(`globalThis.x = ${src}`); return e.global.getSync('x'); });
}

const seen = new Set();
for (const c of cases) { if (seen.has(c.name)) throw new Error('duplicate case ' + c.name); seen.add(c.name); }
module.exports = cases;
