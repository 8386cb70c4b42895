'use strict';
// A plain-text description of any value, the same in Node and inside guests
// (the function's source is evaluated in each realm). Used to compare
// v8-isolates with isolated-vm value by value.
function __d(v, depth) {
  depth = depth || 0;
  const t = typeof v;
  if (v === null) return 'null';
  if (t === 'undefined') return 'undefined';
  if (t === 'number') return Object.is(v, -0) ? 'number:-0' : 'number:' + String(v);
  if (t === 'string') return 'string:' + JSON.stringify(v.length > 60 ? v.slice(0, 60) + '...' : v);
  if (t === 'boolean' || t === 'bigint') return t + ':' + String(v);
  if (t === 'symbol') return 'symbol:' + String(v.description);
  if (t === 'function') {
    let proto;
    try { proto = Object.prototype.hasOwnProperty.call(v, 'prototype') ? '+proto' : ''; } catch (e) { proto = '?'; }
    return 'function:' + v.name + '/' + v.length + proto;
  }
  let ctor;
  try {
    const p = Object.getPrototypeOf(v);
    ctor = p === null ? 'null-proto' : (p.constructor && p.constructor.name) || '?';
  } catch (e) { ctor = '?'; }
  if (depth > 3) return ctor;
  const tag = Object.prototype.toString.call(v);
  if (tag === '[object Error]') return ctor + '(' + v.name + ': ' + v.message + ')';
  if (ctor === 'Reference') {
    let ty;
    try { ty = v.typeof; } catch (e) { ty = 'threw ' + e.message; }
    return 'Reference<' + ty + '>';
  }
  if (tag === '[object Date]') return 'Date:' + v.getTime();
  if (tag === '[object RegExp]') return 'RegExp:' + String(v);
  if (tag === '[object Promise]') return 'Promise';
  if (tag === '[object Map]') return ctor + '{' + Array.from(v, (e) => __d(e[0], depth + 1) + '=>' + __d(e[1], depth + 1)).join(',') + '}';
  if (tag === '[object Set]') return ctor + '{' + Array.from(v, (e) => __d(e, depth + 1)).join(',') + '}';
  if (tag === '[object ArrayBuffer]' || tag === '[object SharedArrayBuffer]') {
    return ctor + '(' + v.byteLength + ')[' + Array.from(new Uint8Array(v)).join(',') + ']';
  }
  if (ArrayBuffer.isView(v)) {
    const items = tag === '[object DataView]' ? '' : '[' + Array.from(v).join(',') + ']';
    const buf = Object.prototype.toString.call(v.buffer) === '[object SharedArrayBuffer]' ? ' shared' : '';
    return ctor + '@' + v.byteOffset + '+' + v.byteLength + '/' + v.buffer.byteLength + buf + items;
  }
  if (Array.isArray(v)) return '[' + Array.from(v, (x) => __d(x, depth + 1)).join(',') + ']';
  if (/^\[object (Number|String|Boolean|BigInt|Symbol)\]$/.test(tag)) return ctor + '(boxed)';
  let keys;
  try { keys = Object.keys(v); } catch (e) { keys = ['!' + e.message]; }
  return ctor + '{' + keys.map((k) => {
    let x;
    try { x = __d(v[k], depth + 1); } catch (e) { x = 'threw ' + e.message; }
    return k + ':' + x;
  }).join(',') + '}';
}
__d.err = function (e) {
  if (e !== null && typeof e === 'object' && Object.prototype.toString.call(e) === '[object Error]') {
    const p = Object.getPrototypeOf(e);
    return 'THROW ' + ((p && p.constructor && p.constructor.name) || '?') + '(' + e.name + ': ' + e.message + ')';
  }
  return 'THROW ' + __d(e);
};
module.exports = { __d, source: __d.toString() + '\n__d.err = ' + __d.err.toString() + ';' };
