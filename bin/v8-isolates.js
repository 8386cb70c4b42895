#!/usr/bin/env node
'use strict';
// v8-isolates command line: run a script file in a fresh isolate.
//
//   v8-isolates run <file.js> [--memory-limit MB] [--timeout ms]
//
// Exit codes:
//   0   the script completed; its completion value was printed to stdout
//   1   the script threw (the error's stack goes to stderr), or failed to compile
//   2   the script ran longer than --timeout
//   3   the isolate hit --memory-limit and was disposed
//   64  usage error (bad command, option or option value)
//   66  the script file could not be read
const fs = require('fs');
const path = require('path');
const util = require('util');

const EXIT_OK = 0;
const EXIT_SCRIPT_ERROR = 1;
const EXIT_TIMEOUT = 2;
const EXIT_MEMORY_LIMIT = 3;
const EXIT_USAGE = 64;
const EXIT_NO_INPUT = 66;

const BOUNDARY = '\n    at (<isolated-vm boundary>)';

const USAGE = 'Usage: v8-isolates run <file.js> [--memory-limit MB] [--timeout ms]';
const HELP = `${USAGE}
       v8-isolates --help | --version

Runs <file.js> as a classic script in a fresh isolate and context (no Node
APIs, no require) and prints its completion value, as \`node -p\` would.
The script has a console: console.log/info/debug print to stdout,
console.warn/error/trace to stderr.

Options:
  --memory-limit MB   heap limit of the isolate in MB (at least 8; default 128)
  --timeout ms        stop the script after this many milliseconds (default: none)
  -h, --help          show this help
  -v, --version       print the version

Exit codes:
  0   success; the completion value is printed to stdout
  1   the script threw or failed to compile; the stack is printed to stderr
  2   the script timed out
  3   the script exceeded the memory limit (the isolate was disposed)
  64  usage error
  66  the file could not be read
`;

class UsageError extends Error {}

function parseArgs(argv) {
  const opts = { command: undefined, file: undefined, memoryLimit: undefined, timeout: undefined };
  const positional = [];
  let onlyPositional = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (onlyPositional || !arg.startsWith('-') || arg === '-') {
      positional.push(arg);
      continue;
    }
    if (arg === '--') {
      onlyPositional = true;
      continue;
    }
    if (arg === '-h' || arg === '--help') return { help: true };
    if (arg === '-v' || arg === '--version') return { version: true };
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg : arg.slice(0, eq);
    if (name !== '--memory-limit' && name !== '--timeout') throw new UsageError(`unknown option ${name}`);
    let value;
    if (eq !== -1) value = arg.slice(eq + 1);
    else if (i + 1 < argv.length) value = argv[++i];
    else throw new UsageError(`${name} needs a value`);
    if (!/^\d+$/.test(value)) throw new UsageError(`${name} must be a non-negative integer, got ${JSON.stringify(value)}`);
    const n = Number(value);
    if (name === '--memory-limit') {
      if (n < 8) throw new UsageError('--memory-limit must be at least 8 (MB)');
      if (n > 65536) throw new UsageError('--memory-limit must be at most 65536 (MB)');
      opts.memoryLimit = n;
    } else {
      if (n > 0x7fffffff) throw new UsageError('--timeout is too large');
      opts.timeout = n;
    }
  }
  if (positional.length === 0) throw new UsageError('missing command');
  const [command, file, ...rest] = positional;
  if (command !== 'run') throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  if (file === undefined) throw new UsageError('missing <file.js>');
  if (rest.length) throw new UsageError(`unexpected argument ${JSON.stringify(rest[0])}`);
  opts.command = command;
  opts.file = file;
  return opts;
}

// The guest part of an error's stack: the host frames after the isolate
// boundary are this CLI's own.
function guestStack(err) {
  const stack = typeof err.stack === 'string' ? err.stack : `${err.name}: ${err.message}`;
  const cut = stack.indexOf(BOUNDARY);
  return cut === -1 ? stack : stack.slice(0, cut);
}

// Prints a completion value held by `ref` (a Reference into the isolate).
function describeResult(ref) {
  try {
    return { value: ref.copySync() };
  } catch (e) {
    if (ref.typeof === 'function') {
      let name = '';
      try {
        name = ref.getSync('name');
      } catch {
        // Anonymous or odd functions print without a name.
      }
      return { text: typeof name === 'string' && name ? `[Function: ${name}]` : '[Function (anonymous)]' };
    }
    // Not structured-cloneable (a symbol, a promise, an object holding a
    // function...): print undefined and say why on stderr.
    return { value: undefined, note: e && e.message ? e.message : String(e) };
  }
}

function run(opts, ivm) {
  const file = path.resolve(opts.file);
  let source;
  try {
    source = fs.readFileSync(file, 'utf8');
  } catch (e) {
    process.stderr.write(`v8-isolates: cannot read ${opts.file}: ${e.code || e.message}\n`);
    return EXIT_NO_INPUT;
  }

  const isolateOptions = {};
  if (opts.memoryLimit !== undefined) isolateOptions.memoryLimit = opts.memoryLimit;
  const isolate = new ivm.Isolate(isolateOptions);
  try {
    const context = isolate.createContextSync();
    installConsole(context, ivm);
    const runOptions = { reference: true };
    if (opts.timeout) runOptions.timeout = opts.timeout;
    const script = isolate.compileScriptSync(source, { filename: file });
    const ref = script.runSync(context, runOptions);
    const out = describeResult(ref);
    if (out.note) process.stderr.write(`v8-isolates: the completion value could not be copied out (${out.note})\n`);
    process.stdout.write(`${out.text !== undefined ? out.text : formatValue(out.value)}\n`);
    return EXIT_OK;
  } catch (err) {
    return reportError(err, opts, ivm);
  } finally {
    if (!isolate.isDisposed) {
      try {
        isolate.dispose();
      } catch {
        // Already gone.
      }
    }
  }
}

// The guest's console: log/info/debug print to stdout, warn/error/trace to
// stderr, formatted like Node's console. Arguments are copied out; values that
// cannot be cloned (functions, symbols...) are printed as the guest describes them.
const CONSOLE = `
  const [out, err] = [$0, $1];
  const describe = (v) => {
    if (typeof v === 'function') return '[Function: ' + (v.name || '(anonymous)') + ']';
    if (typeof v === 'symbol') return v.toString();
    if (v === null || typeof v !== 'object') return v;
    try { return JSON.parse(JSON.stringify(v)); } catch { return String(v); }
  };
  const send = (to) => (...args) => {
    try { to(...args); } catch { to(...args.map(describe)); }
  };
  const console = {};
  for (const name of ['log', 'info', 'debug']) console[name] = send(out);
  for (const name of ['warn', 'error', 'trace']) console[name] = send(err);
  Object.defineProperty(globalThis, 'console', { value: console, writable: true, configurable: true });
`;

function installConsole(context, ivm) {
  const print = (stream) => new ivm.Callback((...args) => {
    stream.write(`${util.formatWithOptions({ colors: false }, ...args)}\n`);
  });
  context.evalClosureSync(CONSOLE, [print(process.stdout), print(process.stderr)]);
}

function formatValue(value) {
  return typeof value === 'string' ? value : util.inspect(value, { depth: 4, colors: false });
}

function reportError(err, opts, ivm) {
  if (err instanceof ivm.TimeoutError) {
    process.stderr.write(`v8-isolates: ${opts.file} timed out after ${opts.timeout} ms\n${guestStack(err)}\n`);
    return EXIT_TIMEOUT;
  }
  if (err instanceof ivm.MemoryLimitError) {
    const limit = opts.memoryLimit === undefined ? 128 : opts.memoryLimit;
    process.stderr.write(`v8-isolates: ${opts.file} exceeded the memory limit of ${limit} MB\n${guestStack(err)}\n`);
    return EXIT_MEMORY_LIMIT;
  }
  if (err instanceof Error) {
    process.stderr.write(`${guestStack(err)}\n`);
  } else {
    // The guest threw a primitive.
    process.stderr.write(`Uncaught ${util.inspect(err)}\n`);
  }
  return EXIT_SCRIPT_ERROR;
}

function main(argv) {
  let opts;
  try {
    opts = parseArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`v8-isolates: ${e.message}\n${USAGE}\nRun 'v8-isolates --help' for details.\n`);
    return EXIT_USAGE;
  }
  if (opts.help) {
    process.stdout.write(HELP);
    return EXIT_OK;
  }
  if (opts.version) {
    process.stdout.write(`${require('../package.json').version}\n`);
    return EXIT_OK;
  }
  return run(opts, require('..'));
}

process.exitCode = main(process.argv.slice(2));
