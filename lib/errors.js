'use strict';
// Host-side failures: each keeps isolated-vm's exact message and adds a
// stable `code`, so callers can tell "the guest failed" from "the sandbox died".

class TimeoutError extends Error {
  constructor(message = 'Script execution timed out.') {
    super(message);
  }
}
Object.defineProperty(TimeoutError.prototype, 'code', { value: 'ERR_ISOLATE_TIMEOUT' });

class IsolateDisposedError extends Error {
  constructor(message = 'Isolate is disposed') {
    super(message);
  }
}
Object.defineProperty(IsolateDisposedError.prototype, 'code', { value: 'ERR_ISOLATE_DISPOSED' });

class MemoryLimitError extends IsolateDisposedError {
  constructor(message = 'Isolate was disposed during execution due to memory limit') {
    super(message);
  }
}
Object.defineProperty(MemoryLimitError.prototype, 'code', { value: 'ERR_ISOLATE_MEMORY_LIMIT' });

for (const C of [TimeoutError, IsolateDisposedError, MemoryLimitError]) {
  Object.defineProperty(C.prototype, 'name', { value: 'Error', writable: true, configurable: true });
  Object.freeze(C.prototype);
  Object.freeze(C);
}

module.exports = { TimeoutError, IsolateDisposedError, MemoryLimitError };
