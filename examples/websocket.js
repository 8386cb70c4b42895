'use strict';
// A minimal WebSocket (RFC 6455) for the examples and tests: text messages,
// ping/pong and close; no extensions. Server side on a `node:http` upgrade,
// client side on a plain TCP socket (Node 20 has no global WebSocket).
const crypto = require('crypto');
const net = require('net');
const { EventEmitter } = require('events');

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const accept = (key) => crypto.createHash('sha1').update(key + GUID).digest('base64');

class Connection extends EventEmitter {
  #socket;
  #mask;
  #buffer = Buffer.alloc(0);
  #fragments = [];
  #closed = false;

  // `mask`: clients mask what they send, servers must not.
  constructor(socket, mask, head) {
    super();
    this.#socket = socket;
    this.#mask = mask;
    socket.setNoDelay(true);
    socket.on('data', (d) => this.#receive(d));
    socket.on('close', () => this.#end());
    socket.on('error', () => this.#end());
    if (head && head.length) this.#receive(head);
  }

  send(text) {
    this.#frame(0x1, Buffer.from(text, 'utf8'));
  }

  close() {
    if (this.#closed) return;
    this.#frame(0x8, Buffer.alloc(0));
    this.#socket.end();
    this.#end();
  }

  #end() {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket.destroy();
    this.emit('close');
  }

  #frame(opcode, payload) {
    if (this.#closed) return;
    const len = payload.length;
    const ext = len < 126 ? 0 : len < 65536 ? 2 : 8;
    const head = Buffer.alloc(2 + ext + (this.#mask ? 4 : 0));
    head[0] = 0x80 | opcode;
    head[1] = (this.#mask ? 0x80 : 0) | (ext === 0 ? len : ext === 2 ? 126 : 127);
    if (ext === 2) head.writeUInt16BE(len, 2);
    if (ext === 8) head.writeBigUInt64BE(BigInt(len), 2);
    if (this.#mask) {
      const key = crypto.randomBytes(4);
      key.copy(head, 2 + ext);
      payload = Buffer.from(payload);
      for (let i = 0; i < len; i++) payload[i] ^= key[i & 3];
    }
    this.#socket.write(Buffer.concat([head, payload]));
  }

  #receive(data) {
    this.#buffer = Buffer.concat([this.#buffer, data]);
    for (;;) {
      const b = this.#buffer;
      if (b.length < 2) return;
      const fin = (b[0] & 0x80) !== 0;
      const opcode = b[0] & 0x0f;
      const masked = (b[1] & 0x80) !== 0;
      let len = b[1] & 0x7f;
      let off = 2;
      if (len === 126) {
        if (b.length < 4) return;
        len = b.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (b.length < 10) return;
        len = Number(b.readBigUInt64BE(2));
        off = 10;
      }
      const keyAt = off;
      if (masked) off += 4;
      if (b.length < off + len) return;
      const payload = Buffer.from(b.subarray(off, off + len));
      if (masked) for (let i = 0; i < len; i++) payload[i] ^= b[keyAt + (i & 3)];
      this.#buffer = b.subarray(off + len);
      if (opcode === 0x8) return this.close();
      if (opcode === 0x9) this.#frame(0xa, payload);
      if (opcode === 0x1 || opcode === 0x2 || opcode === 0x0) {
        this.#fragments.push(payload);
        if (fin) {
          const text = Buffer.concat(this.#fragments).toString('utf8');
          this.#fragments = [];
          this.emit('message', text);
        }
      }
    }
  }
}

// Completes a server-side upgrade (`server.on('upgrade', ...)`).
function acceptUpgrade(req, socket, head) {
  const key = req.headers['sec-websocket-key'];
  if (typeof key !== 'string' || String(req.headers.upgrade).toLowerCase() !== 'websocket') {
    socket.end('HTTP/1.1 400 Bad Request\r\n\r\n');
    return undefined;
  }
  socket.write(
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      `Sec-WebSocket-Accept: ${accept(key)}\r\n\r\n`,
  );
  return new Connection(socket, false, head);
}

// Opens a client connection to `ws://host:port/path`.
function connect(url) {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(u.port), u.hostname);
    const key = crypto.randomBytes(16).toString('base64');
    let response = Buffer.alloc(0);
    const onData = (d) => {
      response = Buffer.concat([response, d]);
      const end = response.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      const head = response.subarray(0, end).toString();
      if (!/^HTTP\/1\.1 101/.test(head) || !head.includes(accept(key))) {
        socket.destroy();
        return reject(new Error(`WebSocket handshake failed: ${head.split('\r\n')[0]}`));
      }
      resolve(new Connection(socket, true, response.subarray(end + 4)));
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.on('connect', () => {
      socket.write(
        `GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
  });
}

module.exports = { acceptUpgrade, connect, Connection };
