'use strict';
// End to end: the real DevTools frontend (bundled in Chromium) attaches to a
// guest through examples/inspector.js, shows the guest's script, and stops
// at its `debugger;` statement. Needs Chromium: CI installs it (.ci/run) and
// this test fails there without it; locally it is skipped when missing.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const ivm = require('../lib');
const { serveInspector } = require('../examples/inspector');
const { Cdp } = require('./support/cdp');

function findChromium() {
  const names = [process.env.CHROMIUM_PATH, 'chromium', 'chromium-browser', 'google-chrome'].filter(Boolean);
  for (const name of names) {
    if (name.includes('/')) {
      if (fs.existsSync(name)) return name;
      continue;
    }
    for (const dir of (process.env.PATH || '').split(path.delimiter)) {
      const p = path.join(dir, name);
      if (fs.existsSync(p)) return p;
    }
  }
  return undefined;
}

const chromium = findChromium();
const skip = !chromium && !process.env.CI ? 'Chromium is not installed (apt-get install -y chromium); CI runs this test' : false;

// Waits (on event-loop turns, bounded by a deadline) until `check` returns a
// truthy value.
async function until(what, check, ms = 30_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// Every text node of the page, through shadow roots (DevTools is built of
// web components), plus title attributes.
const DEEP_TEXT = `(() => {
  const out = [];
  const walk = (n) => {
    if (n.shadowRoot) walk(n.shadowRoot);
    for (const c of n.childNodes || []) {
      if (c.nodeType === 3) out.push(c.textContent);
      else walk(c);
    }
    if (n.getAttribute && n.getAttribute('title')) out.push(n.getAttribute('title'));
  };
  walk(document);
  return out.join('\\n');
})()`;

test('DevTools (Chromium) attaches to a guest, lists its script and stops at its debugger statement', { skip, timeout: 120_000 }, async (t) => {
  assert.ok(chromium, 'Chromium is required when CI is set (apt-get install -y chromium)');
  const isolate = new ivm.Isolate({ inspector: true });
  t.after(() => {
    if (!isolate.isDisposed) isolate.dispose();
  });
  const context = await isolate.createContext({ inspector: true });
  await context.eval('function stopInGuest(n) {\n  const doubled = n * 2;\n  debugger;\n  return doubled;\n}', {
    filename: 'file:///devtools-guest-app.js',
  });
  const traffic = [];
  const server = await serveInspector(isolate, { port: 0, tap: (dir, m) => traffic.push([dir, JSON.parse(m)]) });
  t.after(() => server.close());

  const profileDir = fs.mkdtempSync(path.join(os.tmpdir(), 'v8-isolates-chromium-'));
  const browser = spawn(
    chromium,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--no-default-browser-check',
      `--user-data-dir=${profileDir}`,
      '--remote-debugging-port=0',
      'about:blank',
    ],
    // Its own process group, so that its helper processes go with it.
    { stdio: ['ignore', 'ignore', 'pipe'], detached: true },
  );
  const exited = new Promise((r) => browser.once('exit', r));
  t.after(async () => {
    try {
      process.kill(-browser.pid, 'SIGKILL');
    } catch {}
    await exited;
    try {
      fs.rmSync(profileDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
    } catch {}
  });
  let stderr = '';
  const browserUrl = await new Promise((resolve, reject) => {
    browser.stderr.on('data', (d) => {
      stderr += d;
      const m = /DevTools listening on (ws:\/\/\S+)/.exec(stderr);
      if (m) resolve(m[1]);
    });
    browser.once('exit', (code) => reject(new Error(`Chromium exited (${code}): ${stderr.slice(-2000)}`)));
  });
  const cdp = await Cdp.websocket(browserUrl);
  const { targetId } = await cdp.send('Target.createTarget', { url: server.devtoolsUrl });
  const { sessionId } = await cdp.send('Target.attachToTarget', { targetId, flatten: true });
  const pageText = async () => {
    const r = await cdp.send('Runtime.evaluate', { expression: DEEP_TEXT, returnByValue: true }, sessionId);
    return r.result.value || '';
  };

  // The frontend connects to our server, enables the debugger and is told
  // about the guest's script.
  await until('the frontend to enable the debugger', () => traffic.some(([d, m]) => d === 'in' && m.method === 'Debugger.enable'));
  await until('scriptParsed for the guest script', () =>
    traffic.some(([d, m]) => d === 'out' && m.method === 'Debugger.scriptParsed' && m.params.url === 'file:///devtools-guest-app.js'),
  );

  // The guest stops at `debugger;` for the frontend; Node keeps running.
  const run = context.eval('stopInGuest(21)');
  await until('the guest to pause', () => traffic.some(([d, m]) => d === 'out' && m.method === 'Debugger.paused'));
  // The Sources panel opens on the paused script.
  const text = await until('DevTools to show the paused guest script', async () => {
    const s = await pageText();
    return s.includes('devtools-guest-app.js') && /paused/i.test(s) ? s : undefined;
  });
  assert.match(text, /devtools-guest-app\.js/);
  // The frontend asked for the script's source to show it.
  assert.ok(traffic.some(([d, m]) => d === 'in' && m.method === 'Debugger.getScriptSource'));

  // Closing DevTools disposes its session, which resumes the guest.
  await cdp.send('Target.closeTarget', { targetId });
  assert.equal(await run, 42);
});
