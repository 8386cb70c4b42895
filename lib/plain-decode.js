'use strict';
// Makes a plain-data clone from its packed form (native/src/transfer/plain.rs
// `Packed`): one tag per value in postfix order, the numbers, strings and
// counts each in a list of their own. Used in Node (lib/transfer.js) and,
// compiled from this very file, inside isolates (native/src/transfer/
// packed.rs), where it runs in the guest's own context.
//
// There it must not run or consult guest code: it calls no method and
// reads no property it did not make. Typed arrays are read by index only
// (their `length` is a prototype getter, so counts come as arguments);
// every array it writes to already holds the slot (the stack, made
// filled); objects come from `makers` (one per shape: an object literal
// compiled for the shape's keys, or `templateMaker`) and short arrays are
// literals: both define properties, so setters on the guest's prototypes
// never run, as with JSON.parse and the deserializer. Longer arrays come
// from `list(stack, base, len)`, which makes the array of those slots.
function decodePlain(count, tags, nums, ints, strs, makers, widths, stack, list) {
  let top = 0;
  let n = 0;
  let i = 0;
  let s = 0;
  for (let p = 0; p < count; p++) {
    const tag = tags[p];
    if (tag === 0) {
      stack[top++] = nums[n++];
    } else if (tag === 1) {
      stack[top++] = strs[s++];
    } else if (tag === 5) {
      const shape = ints[i++];
      top -= widths[shape];
      stack[top] = makers[shape](stack, top);
      top++;
    } else if (tag === 6) {
      const len = ints[i++];
      const base = top - len;
      let a;
      if (len === 0) {
        a = [];
      } else if (len === 1) {
        a = [stack[base]];
      } else if (len === 2) {
        a = [stack[base], stack[base + 1]];
      } else if (len === 3) {
        a = [stack[base], stack[base + 1], stack[base + 2]];
      } else {
        a = list(stack, base, len);
      }
      stack[base] = a;
      top = base + 1;
    } else {
      stack[top++] = tag === 2 ? true : tag === 3 ? false : null;
    }
  }
  return stack[0];
}

// A maker for a shape without a compiled one: a copy of `template` (an
// object with the shape's keys as own data properties, a `__proto__` key
// included), whose values are then replaced (own properties: no setter
// runs).
function templateMaker(template, names) {
  const m = names.length;
  return (stack, top) => {
    const o = { ...template };
    for (let k = 0; k < m; k++) o[names[k]] = stack[top + k];
    return o;
  };
}

module.exports = { decodePlain, templateMaker };
