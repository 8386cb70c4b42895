'use strict';
// ES modules in an isolate: static imports resolved by Node, import.meta,
// top-level await on a host function, dynamic import(), and a code cache.
//   node examples/modules.js
const ivm = require('..');

const sources = {
  'app.mjs': `
    import { greet } from './greet.mjs';
    const name = await fetchName();            // top-level await on an async Callback
    const { shout } = await import('./shout.mjs');
    export const message = shout(greet(name)) + ' from ' + import.meta.url;
  `,
  'greet.mjs': 'export const greet = (who) => `hello, ${who}`;',
  'shout.mjs': 'export const shout = (s) => s.toUpperCase();',
};

async function main() {
  const modules = new Map();
  const isolate = new ivm.Isolate({
    memoryLimit: 64,
    // import() in the guest: hand back a compiled Module.
    importModuleDynamically: (specifier) => load(specifier),
    onUnhandledRejection: (reason) => console.error('guest rejection:', reason),
  });
  function load(specifier) {
    if (!(specifier.replace('./', '') in sources)) throw new Error(`Cannot find module '${specifier}'`);
    const file = specifier.replace('./', '');
    if (!modules.has(file)) {
      modules.set(file, isolate.compileModuleSync(sources[file], {
        filename: `file:///${file}`,
        meta: (meta) => meta.setSync('url', `file:///${file}`),
      }));
    }
    return modules.get(file);
  }

  const context = await isolate.createContext();
  await context.global.set('fetchName', new ivm.Callback(async () => 'modules', { async: true }));

  const app = load('./app.mjs');
  console.log('imports:', app.dependencySpecifiers);
  await app.instantiate(context, (specifier) => load(specifier));
  await app.evaluate({ timeout: 1000 });
  console.log(await app.namespace.get('message'));

  // Code cache: compile once with produceCachedData, reuse the data later
  // (in this or another isolate, or another process).
  const code = sources['greet.mjs'];
  const first = await isolate.compileModule(code, { produceCachedData: true });
  const again = await isolate.compileModule(code, { cachedData: first.cachedData });
  console.log('cached data rejected:', again.cachedDataRejected);

  isolate.dispose();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
