'use strict';
// Inspector sessions: a DevTools-protocol channel into an isolate's V8
// inspector. Messages from the isolate arrive on this thread's event loop.
const native = require('./native');

const DEAD = 'Session is dead';

// Requests waiting for a response keep the event loop alive (as an open
// socket would); idle sessions do not.
let waiting = 0;
let keepAlive;
function expect(n) {
  waiting += n;
  if (waiting > 0 && keepAlive === undefined) keepAlive = setInterval(() => {}, 1 << 30);
  if (waiting <= 0 && keepAlive !== undefined) {
    clearInterval(keepAlive);
    keepAlive = undefined;
  }
}

// The id of a request, if it is one V8 will answer.
function requestId(message) {
  try {
    const m = JSON.parse(message);
    return m !== null && typeof m === 'object' && Number.isInteger(m.id) ? m.id : undefined;
  } catch {
    return undefined;
  }
}

class InspectorSession {
  #h;
  #onResponse;
  #onNotification;
  #queue = [];
  #scheduled = false;
  #waiting = new Set();

  constructor(token, isolateHandle) {
    if (token !== CREATE) throw new TypeError('InspectorSession cannot be constructed directly; use isolate.createInspectorSession()');
    this.#h = native.inspectorSessionNew(isolateHandle, (isResponse, callId, message) => {
      this.#queue.push(isResponse, callId, message);
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  // Handlers run from the event loop (never on the stack of a call that was
  // waiting for the isolate). A throwing handler does not stop the others.
  #flush() {
    this.#scheduled = false;
    const q = this.#queue;
    this.#queue = [];
    let failure;
    for (let i = 0; i < q.length; i += 3) {
      if (q[i] && this.#waiting.delete(q[i + 1])) expect(-1);
      const handler = q[i] ? this.#onResponse : this.#onNotification;
      if (typeof handler !== 'function') continue;
      try {
        if (q[i]) handler.call(this, q[i + 1], q[i + 2]);
        else handler.call(this, q[i + 2]);
      } catch (e) {
        if (failure === undefined) failure = { e };
      }
    }
    if (failure !== undefined) throw failure.e;
  }

  get onResponse() {
    return this.#onResponse;
  }

  set onResponse(fn) {
    this.#onResponse = fn;
  }

  get onNotification() {
    return this.#onNotification;
  }

  set onNotification(fn) {
    this.#onNotification = fn;
  }

  dispatchProtocolMessage(message) {
    if (arguments.length < 1 || typeof message !== 'string') {
      throw new TypeError('`dispatchProtocolMessage` requires parameter 1 to be a string');
    }
    if (!native.inspectorSessionDispatch(this.#h, message)) throw new Error(DEAD);
    const id = requestId(message);
    if (id !== undefined && !this.#waiting.has(id)) {
      this.#waiting.add(id);
      expect(1);
    }
  }

  dispose() {
    if (!native.inspectorSessionDispose(this.#h)) throw new Error(DEAD);
    this.#queue = [];
    expect(-this.#waiting.size);
    this.#waiting.clear();
  }
}

const CREATE = Symbol('create');
Object.freeze(InspectorSession.prototype);
Object.freeze(InspectorSession);

function createSession(isolateHandle) {
  return new InspectorSession(CREATE, isolateHandle);
}

module.exports = { createSession, InspectorSession };
