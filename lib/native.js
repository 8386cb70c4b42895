'use strict';
// Loads the compiled addon. `npm install` builds it into build/.
const path = require('path');

const candidates = [
  process.env.V8_ISOLATES_ADDON,
  path.join(__dirname, '..', 'build', 'v8_isolates.node'),
].filter(Boolean);

let native;
let lastError;
for (const file of candidates) {
  try {
    native = require(file);
    break;
  } catch (e) {
    lastError = e;
  }
}
if (!native) {
  const err = new Error(
    'v8-isolates: the native addon is not built. Run `npm install` (or `npm run build`) in the package directory. ' +
      `Last error: ${lastError && lastError.message}`,
  );
  err.code = 'ERR_V8_ISOLATES_NOT_BUILT';
  throw err;
}
module.exports = native;
