'use strict';
// A small DevTools-protocol client for the tests: over an inspector session
// directly, or over a WebSocket (examples/websocket.js).
const { connect } = require('../../examples/websocket');

class Cdp {
  #send;
  #next = 1;
  #pending = new Map();
  #waiters = [];
  events = [];

  constructor(send) {
    this.#send = send;
  }

  static session(session) {
    const c = new Cdp((m) => session.dispatchProtocolMessage(m));
    session.onResponse = (id, m) => c.receive(m);
    session.onNotification = (m) => c.receive(m);
    c.session = session;
    return c;
  }

  static async websocket(url) {
    const ws = await connect(url);
    const c = new Cdp((m) => ws.send(m));
    ws.on('message', (m) => c.receive(m));
    c.ws = ws;
    return c;
  }

  receive(text) {
    const m = JSON.parse(text);
    if (m.id !== undefined && this.#pending.has(m.id)) {
      const p = this.#pending.get(m.id);
      this.#pending.delete(m.id);
      if (m.error) p.reject(Object.assign(new Error(m.error.message), { data: m.error }));
      else p.resolve(m.result);
      return;
    }
    const w = this.#waiters.findIndex((x) => x.match(m));
    if (w < 0) {
      this.events.push(m);
      return;
    }
    const [waiter] = this.#waiters.splice(w, 1);
    waiter.resolve(m.params);
  }

  // `sessionId`: a target session of a browser connection (flat mode).
  send(method, params, sessionId) {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#send(JSON.stringify({ id, method, params, sessionId }));
    });
  }

  // The next event `method` (optionally matching `pred`), including ones
  // already received and not yet consumed.
  once(method, pred = () => true) {
    const match = (m) => m.method === method && pred(m.params);
    const i = this.events.findIndex(match);
    if (i >= 0) {
      const [m] = this.events.splice(i, 1);
      return Promise.resolve(m.params);
    }
    return new Promise((resolve) => this.#waiters.push({ match, resolve }));
  }
}

module.exports = { Cdp };
