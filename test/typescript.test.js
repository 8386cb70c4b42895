'use strict';
// Type-checks index.d.ts with the locally installed TypeScript compiler:
// test/types/usage.ts (ES imports, `import = require`), and a CommonJS file
// using `const ivm = require('v8-isolates')` under checkJs. That file is written
// to a temporary directory: any .js file under test/ would be picked up and
// executed by `node --test test/`.
const { test } = require('node:test');
const assert = require('node:assert');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.join(__dirname, '..');
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const nodeTypes = path.join(root, 'node_modules', '@types', 'node', 'package.json');

const missing = !fs.existsSync(tsc)
  ? 'typescript is not installed (npm install --no-save --ignore-scripts typescript@5 @types/node@20)'
  : !fs.existsSync(nodeTypes)
    ? '@types/node is not installed (npm install --no-save --ignore-scripts typescript@5 @types/node@20)'
    : false;

test('index.d.ts type-checks against test/types', { skip: missing, timeout: 180_000 }, () => {
  const { status, output } = runTsc(path.join('test', 'types'));
  assert.strictEqual(status, 0, `tsc -p test/types failed (exit ${status}):\n${output}`);
});

function runTsc(project) {
  // Run the compiler's JS entry with this Node, so the check does not depend
  // on node_modules/.bin shims or on PATH.
  const r = spawnSync(process.execPath, [tsc, '-p', project, '--pretty', 'false'], { cwd: root, encoding: 'utf8' });
  assert.ifError(r.error);
  return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
}

const CJS_USAGE = `// @ts-check
'use strict';
const ivm = require('v8-isolates');
const { Isolate, TimeoutError } = require('v8-isolates');

/** @param {string} code */
function run(code) {
  const isolate = new Isolate({ memoryLimit: 32 });
  const context = isolate.createContextSync();
  try {
    /** @type {number} */
    const value = context.evalSync(code, { timeout: 100, copy: true });
    return value;
  } catch (e) {
    if (e instanceof TimeoutError) return e.code.length;
    if (e instanceof ivm.MemoryLimitError) return e.code.length;
    throw e;
  } finally {
    isolate.dispose();
  }
}

/** @type {import('v8-isolates').Reference<number>} */
const ref = new ivm.Reference(1);
// @ts-expect-error a Reference<number> does not deref to a string
/** @type {string} */ const wrong = ref.deref();
// @ts-expect-error memoryLimit is a number
new ivm.Isolate({ memoryLimit: '8' });

module.exports = { run, ref, wrong };
`;

test('const ivm = require("v8-isolates") is typed in checked JavaScript', { skip: missing, timeout: 180_000 }, (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'v8-isolates-types-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, 'usage.js'), CJS_USAGE);
  fs.writeFileSync(
    path.join(dir, 'tsconfig.json'),
    JSON.stringify({
      extends: path.join(root, 'test', 'types', 'tsconfig.json'),
      compilerOptions: {
        allowJs: true,
        checkJs: true,
        typeRoots: [path.join(root, 'node_modules', '@types')],
        paths: { 'v8-isolates': [path.join(root, 'index.d.ts')] },
      },
      include: ['usage.js'],
    }),
  );
  const { status, output } = runTsc(dir);
  assert.strictEqual(status, 0, `tsc on a checkJs CommonJS consumer failed (exit ${status}):\n${output}`);
});

test('package.json points "types" at index.d.ts', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  assert.strictEqual(pkg.types, 'index.d.ts');
  assert.ok(pkg.files.includes('index.d.ts'), 'index.d.ts is published');
  assert.ok(fs.existsSync(path.join(root, pkg.types)));
});
