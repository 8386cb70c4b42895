'use strict';
// Symbol hygiene of the addon. It carries its own V8, ICU and libc++; none of
// their C++ symbols may be exported (Node could bind to ours) or imported (ours
// would bind to Node's V8 at dlopen). The one tolerated exception is a weak,
// undefined TLS-init symbol that V8 references and Node does not export; it
// resolves to null (see shared/notes/rust-engine-notes.md).
const { test } = require('node:test');
const assert = require('node:assert');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const addon = path.join(__dirname, '..', 'build', 'v8_isolates.node');
const ALLOWED = new Map([
  [
    '_ZTHN2v88internal12trap_handler16TrapHandlerGuard10is_active_E',
    { type: 'w', demangled: 'TLS init function for v8::internal::trap_handler::TrapHandlerGuard::is_active_' },
  ],
]);
const FORBIDDEN = /v8::|icu_|std::__Cr/;

function has(cmd) {
  const r = spawnSync(cmd, ['--version'], { encoding: 'utf8' });
  return !r.error;
}

const skip =
  process.platform !== 'linux'
    ? 'ELF symbol checks run on Linux only'
    : !has('nm')
      ? 'nm (binutils) is not installed'
      : !fs.existsSync(addon)
        ? `${addon} is not built`
        : false;

// Parses `nm -D` output into {type, name} (version suffixes removed).
function dynamicSymbols(file) {
  const r = spawnSync('nm', ['-D', file], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  assert.ifError(r.error);
  assert.strictEqual(r.status, 0, r.stderr);
  const out = [];
  for (const line of r.stdout.split('\n')) {
    const m = /^(?:[0-9a-fA-F]+)?\s+([A-Za-z])\s+(\S+)$/.exec(line);
    if (m) out.push({ type: m[1], name: m[2].replace(/@.*$/, '') });
  }
  return out;
}

function demangleWithCxxfilt(names) {
  const r = spawnSync('c++filt', [], { input: names.join('\n') + '\n', encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.error || r.status !== 0) return undefined;
  const lines = r.stdout.split('\n');
  return names.map((_, i) => lines[i]);
}

// Without c++filt: recognise the mangled namespaces themselves. `2v8`,
// `6icu_78` and `St4__Cr` are how v8::, icu_78:: and std::__Cr:: appear inside
// Itanium-mangled names; the result is rewritten to the demangled spelling so
// the same FORBIDDEN pattern applies.
function demangleHeuristic(names) {
  return names.map((name) => {
    if (!name.startsWith('_Z')) return name;
    let text = name;
    if (/(?:^|[^0-9])2v8(?=[0-9A-Z])/.test(name)) text += ' v8::';
    if (/\d+icu_\d+/.test(name)) text += ' icu_';
    if (/St4__Cr|4__Cr/.test(name)) text += ' std::__Cr';
    if (name.startsWith('_ZTH')) text = `TLS init function for ${text}`;
    return text;
  });
}

function demangler() {
  return has('c++filt') ? demangleWithCxxfilt : demangleHeuristic;
}

function violations(symbols, demangle) {
  const demangled = demangle(symbols.map((s) => s.name));
  const bad = [];
  symbols.forEach((s, i) => {
    const text = demangled[i];
    if (!FORBIDDEN.test(text)) return;
    const allowed = ALLOWED.get(s.name);
    if (allowed && allowed.type === s.type) return;
    bad.push(`${s.type} ${s.name}  (${text})`);
  });
  return bad;
}

test('the checker recognises V8, ICU and libc++ symbols', () => {
  const fake = [
    { type: 'U', name: '_ZN2v86Object3NewEPNS_7IsolateE' },
    { type: 'T', name: '_ZN6icu_7813UnicodeStringC1Ev' },
    { type: 'U', name: '_ZNSt4__Cr12basic_stringIcNS_11char_traitsIcEENS_9allocatorIcEEE6appendEPKc' },
    { type: 'U', name: '_ZTHN2v88internal12trap_handler16TrapHandlerGuard10is_active_E' }, // allowed only as 'w'
    { type: 'w', name: '_ZTHN2v88internal12trap_handler16TrapHandlerGuard10is_active_E' },
    { type: 'U', name: 'malloc' },
    { type: 'T', name: 'v8__Isolate__New' },
    { type: 'T', name: '_ZN4core3fmt5write17h0123456789abcdefE' },
  ];
  const demanglers = [demangleHeuristic];
  if (process.platform === 'linux' && has('c++filt')) demanglers.push(demangleWithCxxfilt);
  for (const d of demanglers) {
    const bad = violations(fake, d);
    assert.strictEqual(bad.length, 4, `${d.name}: ${bad.join('\n')}`);
    assert.ok(bad[3].startsWith('U _ZTHN2v8'), d.name);
  }
});

test('the addon neither exports nor imports V8/ICU/libc++ C++ symbols', { skip }, () => {
  const symbols = dynamicSymbols(addon);
  assert.ok(symbols.length > 10, `nm -D listed only ${symbols.length} symbols`);
  const bad = violations(symbols, demangler());
  assert.deepStrictEqual(bad, [], `forbidden dynamic symbols in ${addon}:\n${bad.join('\n')}`);
});

test('the only V8 symbol left is the weak undefined trap-handler TLS init', { skip }, () => {
  const symbols = dynamicSymbols(addon);
  const [name, { type, demangled }] = [...ALLOWED][0];
  const found = symbols.filter((s) => s.name === name);
  // Tolerated, not required; if present it must stay weak and undefined.
  for (const s of found) assert.strictEqual(s.type, type, `${name} must be a weak undefined symbol`);
  if (found.length && has('c++filt')) assert.strictEqual(demangleWithCxxfilt([name])[0], demangled);
});

test('no ICU C API symbol is imported', { skip }, () => {
  // ICU's C functions carry a version suffix (u_strlen_78, ucol_open_78...);
  // importing one would bind to the ICU inside Node.
  const icu = dynamicSymbols(addon).filter(
    (s) => (s.type === 'U' || s.type === 'w') && /^u[a-z0-9]*_[A-Za-z0-9]+_\d{2}$/.test(s.name),
  );
  assert.deepStrictEqual(icu, []);
});

// The link-time wrappers (native/build.rs, --wrap): every function listed in
// the WRAPPED SYMBOLS blocks must have its hidden `__wrap_` definition in the
// addon, and no `__real_` reference may be left unresolved. A build whose
// linker did not get the --wrap flags (a stale build script output) still
// links, and would silently not count wasm memory, resizable buffers or
// compiled modules against memory limits.
test('the link-time memory wrappers are linked in', { skip }, () => {
  // The libc functions build.rs wraps itself (mmap, mprotect, munmap...).
  const build = fs.readFileSync(path.join(__dirname, '..', 'native', 'build.rs'), 'utf8');
  const libc = /let mut symbols = vec!\[([^\]]*)\]/.exec(build)[1];
  const listed = [...libc.matchAll(/"([^"]+)"/g)].map((m) => m[1]);
  assert.ok(listed.includes('mmap64') && listed.includes('munmap'), `${listed}`);
  for (const file of ['reserved.rs', 'wasm_modules.rs', 'serializer_cap.rs']) {
    const src = fs.readFileSync(path.join(__dirname, '..', 'native', 'src', 'engine', file), 'utf8');
    const block = src.split('// BEGIN WRAPPED SYMBOLS')[1].split('// END WRAPPED SYMBOLS')[0];
    for (const line of block.split('\n')) {
      if (line.trim().startsWith('//')) continue;
      const m = /"([^"]+)"/.exec(line);
      if (m) listed.push(m[1]);
    }
  }
  assert.ok(listed.length >= 10, `only ${listed.length} wrapped symbols listed`);
  const r = spawnSync('nm', [addon], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  assert.strictEqual(r.status, 0, r.stderr);
  const defined = new Set();
  const undefinedReal = [];
  for (const line of r.stdout.split('\n')) {
    const m = /^(?:[0-9a-fA-F]+)?\s+([A-Za-z])\s+(\S+)$/.exec(line);
    if (!m) continue;
    if (m[2].startsWith('__wrap_') && m[1] !== 'U') defined.add(m[2].slice('__wrap_'.length));
    if (m[2].startsWith('__real_') && m[1] === 'U') undefinedReal.push(m[2]);
  }
  assert.deepStrictEqual(listed.filter((s) => !defined.has(s)), [], 'wrappers missing from the addon');
  assert.deepStrictEqual(undefinedReal, []);
  // And none of them is exported.
  assert.deepStrictEqual(dynamicSymbols(addon).filter((s) => /^__(wrap|real)_/.test(s.name)), []);
});
