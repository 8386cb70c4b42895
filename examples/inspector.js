'use strict';
// Debug a guest with Chrome DevTools: serves an isolate's inspector over the
// DevTools protocol (a WebSocket on 127.0.0.1, plus /json/list and
// /json/version so that chrome://inspect finds it).
//
//   node examples/inspector.js [port]
//
// then open the printed devtools:// URL in Chrome, or chrome://inspect →
// "Configure..." → add 127.0.0.1:<port>. Set a breakpoint in guest-app.js:
// the guest stops there while Node keeps running.
const http = require('http');
const crypto = require('crypto');
const { acceptUpgrade } = require('./websocket');

// Serves `isolate` (made with `inspector: true`) to DevTools. Each WebSocket
// connection gets its own inspector session, disposed when it closes.
// `tap(direction, message)`, if given, sees every protocol message ('in' from
// DevTools, 'out' to it).
function serveInspector(isolate, { port = 9229, host = '127.0.0.1', title = 'v8-isolates guest', tap } = {}) {
  const out = (ws, message) => {
    if (tap) tap('out', message);
    ws.send(message);
  };
  const id = crypto.randomUUID();
  const connections = new Set();
  const server = http.createServer((req, res) => {
    const address = `${host}:${server.address().port}`;
    const path = req.url.replace(/\/$/, '');
    let body;
    if (path === '/json' || path === '/json/list') {
      body = [
        {
          id,
          title,
          type: 'node',
          description: 'v8-isolates instance',
          url: 'file://',
          faviconUrl: 'https://nodejs.org/static/images/favicons/favicon.ico',
          devtoolsFrontendUrl: `devtools://devtools/bundled/js_app.html?v8only=true&ws=${address}/${id}`,
          devtoolsFrontendUrlCompat: `devtools://devtools/bundled/inspector.html?v8only=true&ws=${address}/${id}`,
          webSocketDebuggerUrl: `ws://${address}/${id}`,
        },
      ];
    } else if (path === '/json/version') {
      body = { Browser: 'v8-isolates', 'Protocol-Version': '1.3' };
    } else {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/json; charset=UTF-8' }).end(JSON.stringify(body));
  });
  server.on('upgrade', (req, socket, head) => {
    if (req.url !== `/${id}`) {
      socket.end('HTTP/1.1 404 Not Found\r\n\r\n');
      return;
    }
    const ws = acceptUpgrade(req, socket, head);
    if (!ws) return;
    let session;
    try {
      session = isolate.createInspectorSession();
    } catch (e) {
      ws.close();
      return;
    }
    connections.add(ws);
    session.onResponse = (callId, message) => out(ws, message);
    session.onNotification = (message) => out(ws, message);
    ws.on('message', (message) => {
      if (tap) tap('in', message);
      try {
        session.dispatchProtocolMessage(message);
      } catch {
        ws.close(); // the session is dead (the isolate was disposed)
      }
    });
    ws.on('close', () => {
      connections.delete(ws);
      try {
        session.dispose(); // resumes the guest if this client had paused it
      } catch {}
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const address = `${host}:${server.address().port}`;
      resolve({
        id,
        server,
        port: server.address().port,
        url: `ws://${address}/${id}`,
        // (`experiments=true` makes Chromium refuse the URL when it is opened from
        // outside DevTools.)
        devtoolsUrl: `devtools://devtools/bundled/js_app.html?v8only=true&ws=${address}/${id}`,
        close() {
          for (const ws of connections) ws.close();
          return new Promise((r) => server.close(r));
        },
      });
    });
  });
}

async function main() {
  const ivm = require('..');
  const isolate = new ivm.Isolate({ inspector: true });
  const context = await isolate.createContext({ inspector: true });
  await context.global.set('log', (...args) => console.log('[guest]', ...args));
  await context.eval(
    [
      'function tick(n) {',
      '  const square = n * n; // set a breakpoint here',
      "  console.log('tick', n); // shows in the DevTools console",
      '  if (n % 5 === 0) log(`tick ${n}: ${square}`);',
      '  return square;',
      '}',
    ].join('\n'),
    { filename: 'file:///guest-app.js' },
  );
  const tick = await context.global.get('tick', { reference: true });
  const inspector = await serveInspector(isolate, { port: Number(process.argv[2] ?? 9229) });
  console.log(`Open in Chrome: ${inspector.devtoolsUrl}`);
  console.log(`(or chrome://inspect, target 127.0.0.1:${inspector.port})`);
  let n = 0;
  // Async calls: while the guest is paused, Node's event loop keeps running.
  setInterval(() => tick.apply(undefined, [n++]).catch((e) => console.error(e)), 1000);
}

if (require.main === module) main();

module.exports = { serveInspector };
