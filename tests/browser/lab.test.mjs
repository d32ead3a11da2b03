// The lab in a real browser: Debian's Chromium driven by Playwright, against the web app as the dhcplab daemon
// serves it (demo mode, loopback only). Screenshots go to tests/artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import net from 'node:net';
import { chromium } from 'playwright-core';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const artifacts = path.join(root, 'tests/artifacts');
const bin = process.env.DHCPLAB_BIN ?? path.join(root, 'target/debug/dhcplab');
const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';

let daemon, browser, base;
const consoleErrors = [];

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function waitForHealth(url, ms = 20000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try {
      const r = await fetch(url + '/healthz');
      if (r.ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the daemon did not become healthy');
}

before(async () => {
  assert.ok(existsSync(bin), `dhcplab binary not found at ${bin}: run cargo build -p dhcplab-server`);
  assert.ok(existsSync(path.join(root, 'dist/index.html')), 'web app not built: run scripts/build-web');
  assert.ok(existsSync(chromiumPath), `Chromium not found at ${chromiumPath}: run scripts/setup`);
  mkdirSync(artifacts, { recursive: true });
  const http = await freePort();
  const dhcp = await freePort();
  daemon = spawn(bin, ['serve', '--http', `127.0.0.1:${http}`, '--demo-port', String(dhcp), '--demo-clients', '4',
    '--web-root', path.join(root, 'dist')], { stdio: 'ignore' });
  base = `http://127.0.0.1:${http}`;
  await waitForHealth(base);
  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  await browser?.close();
  daemon?.kill();
});

async function open(hash, viewport = { width: 1400, height: 1000 }) {
  const page = await browser.newPage({ viewport });
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  await page.goto(`${base}/${hash}`);
  await page.waitForSelector('[data-testid=scenario-select]');
  return page;
}

const packetMsgs = (page) =>
  page.$$eval('[data-testid=event-row]', (rows) => rows.map((r) => r.dataset.msg).filter((m) => m));

async function runToEnd(page, limit = 400) {
  for (let i = 0; i < limit; i++) {
    if (await page.isDisabled('[data-testid=step]')) return;
    await page.click('[data-testid=step]');
  }
  throw new Error('the scenario did not end');
}

test('dora: four messages, the ACK inspected, fields and bytes linked both ways', async () => {
  const page = await open('#s=dora&seed=1&step=0');
  await page.selectOption('[data-testid=scenario-select]', 'dora');
  for (let i = 0; i < 30 && !(await packetMsgs(page)).includes('DHCPACK'); i++) {
    await page.click('[data-testid=step]');
  }
  assert.deepEqual(await packetMsgs(page), ['DHCPDISCOVER', 'DHCPOFFER', 'DHCPREQUEST', 'DHCPACK']);
  await page.click('[data-testid=event-row][data-msg=DHCPACK]');
  const yiaddr = page.locator('[data-testid=field][data-name="Your (client) IP address (yiaddr)"]');
  assert.match(await yiaddr.innerText(), /192\.168\.1\.100/);
  await yiaddr.click();
  const lit = await page.$$eval('[data-testid=hex-byte].hl', (b) => b.map((x) => Number(x.dataset.offset)));
  assert.deepEqual(lit, [16, 17, 18, 19], 'yiaddr is bytes 16-19');
  await page.click('[data-testid=hex-byte][data-offset="5"]');
  assert.equal(await page.getAttribute('[data-testid=field].sel', 'data-name'), 'Transaction ID');
  assert.match(await page.innerText('[data-testid=inspector]'), /DHCPACK/);
  await page.screenshot({ path: path.join(artifacts, 'lab-dora-ack.png'), fullPage: true });
  // Back and forward by keyboard.
  const count = async () => page.innerText('[data-testid=step-count]');
  const before = await count();
  await page.keyboard.press('ArrowLeft');
  assert.notEqual(await count(), before);
  await page.keyboard.press('ArrowRight');
  assert.equal(await count(), before);
  await page.close();
});

test('two-servers ends bound to the first offer; the flow graph shows both offers', async () => {
  const page = await open('#s=two-servers&seed=1&step=0');
  await runToEnd(page);
  const info = page.locator('[data-testid=client-info]');
  assert.equal(await info.getAttribute('data-state'), 'BOUND');
  assert.equal(await info.getAttribute('data-ip'), '192.168.1.100');
  assert.match(await info.innerText(), /192\.168\.1\.240/, 'the DHCP server is server-a');
  const offers = await page.$$('[data-testid=flow-row][data-msg=DHCPOFFER]');
  assert.equal(offers.length, 2);
  const leases = await page.$$eval('[data-testid=lease-row]', (r) => r.map((x) => [x.dataset.ip, x.dataset.state]));
  assert.deepEqual(leases, [['192.168.1.100', 'bound']]);
  await page.screenshot({ path: path.join(artifacts, 'lab-two-servers.png'), fullPage: true });
  await page.close();
});

test('no-server self-assigns 169.254, then binds when the server comes', async () => {
  const page = await open('#s=no-server&seed=1&step=0');
  await runToEnd(page);
  const rows = await page.$$eval('[data-testid=event-row]', (r) => r.map((x) => x.innerText));
  assert.ok(rows.some((r) => /LinkLocalClaimed/.test(r)), 'a link-local address was claimed');
  const info = page.locator('[data-testid=client-info]');
  assert.equal(await info.getAttribute('data-state'), 'BOUND');
  assert.equal(await info.getAttribute('data-ip'), '192.168.1.100');
  await page.screenshot({ path: path.join(artifacts, 'lab-no-server.png'), fullPage: true });
  await page.close();
});

test('the language switch turns everything Chinese and is remembered', async () => {
  const page = await open('#s=dora&seed=1&step=4');
  await page.click('[data-testid=lang]');
  assert.equal(await page.innerText('[data-testid=nav-lab]'), '实验室');
  assert.match(await page.innerText('[data-testid=explain]'), /[\u4e00-\u9fff]/, 'the explanation is in Chinese');
  await page.reload();
  await page.waitForSelector('[data-testid=scenario-select]');
  assert.equal(await page.innerText('[data-testid=nav-lab]'), '实验室', 'remembered');
  await page.screenshot({ path: path.join(artifacts, 'lab-zh.png'), fullPage: true });
  await page.click('[data-testid=lang]');
  assert.equal(await page.innerText('[data-testid=nav-lab]'), 'Lab');
  await page.close();
});

test('a scenario and step can be shared as a URL', async () => {
  const page = await open('#s=relay&seed=1&step=16');
  assert.equal(await page.inputValue('[data-testid=scenario-select]'), 'relay');
  assert.match(await page.innerText('[data-testid=step-count]'), /^16\//);
  await page.click('[data-testid=step]');
  assert.match(page.url(), /#s=relay&seed=1&step=17$/);
  await page.close();
});

test('usable on a phone', async () => {
  const page = await open('#s=dora&seed=1&step=12', { width: 390, height: 844 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `the page is ${overflow}px wider than the phone`);
  await page.screenshot({ path: path.join(artifacts, 'lab-phone.png'), fullPage: true });
  await page.close();
});


test('build your own: add a client, change the pool and reserve an address, remove a node', async () => {
  const page = await open('#s=dora&seed=1&step=14');
  const bound = async () => page.$$eval('[data-testid=lease-row][data-state=bound]', (r) => r.map((x) => x.dataset.ip));
  await page.click('[data-testid=add-client]');
  for (let i = 0; i < 40 && (await bound()).length < 2; i++) await page.click('[data-testid=step]');
  assert.deepEqual(await bound(), ['192.168.1.100', '192.168.1.101']);
  // The server: a new pool, and the next client's MAC reserved to .50.
  await page.click('[data-testid=node][data-name=dhcp-server]');
  await page.fill('[data-testid=server-pool]', '192.168.1.150-192.168.1.160');
  await page.fill('[data-testid=server-lease]', '10m');
  await page.fill('[data-testid=server-res-mac]', '52:54:00:00:00:05');
  await page.fill('[data-testid=server-res-ip]', '192.168.1.50');
  await page.click('[data-testid=server-apply]');
  await page.click('[data-testid=add-client]'); // MAC ...:04 → the new pool
  await page.click('[data-testid=add-client]'); // MAC ...:05 → its reservation
  for (let i = 0; i < 80 && (await bound()).length < 4; i++) await page.click('[data-testid=step]');
  assert.deepEqual((await bound()).sort(), ['192.168.1.100', '192.168.1.101', '192.168.1.150', '192.168.1.50']);
  // Remove a client: it leaves the picture.
  await page.click('[data-testid=node][data-name=pc-2]');
  await page.click('[data-testid=node-remove]');
  assert.equal(await page.$('[data-testid=node][data-name=pc-2]'), null);
  await page.screenshot({ path: path.join(artifacts, 'lab-build-your-own.png'), fullPage: true });
  // Back replays the user's actions too.
  await page.click('[data-testid=back]');
  assert.equal(await page.$('[data-testid=node][data-name=pc-2]'), null);
  await page.close();
});

test('a broadcast reaches every node on the segment; a second NIC gets its own lease; the server keeps a log', async () => {
  const page = await open('#s=decline&seed=1&step=6');
  await page.click('[data-testid=event-row][data-msg=DHCPDISCOVER]');
  // The printer does not listen on port 67: it receives the broadcast (faint) but only the server takes it in.
  const circles = await page.$$eval('[data-testid=topology] .packet circle', (c) => c.map((x) => x.getAttribute('opacity')));
  assert.deepEqual(circles.sort(), ['0.3', '1']);
  await runToEnd(page);
  await page.click('[data-testid=act-add-nic]');
  for (let i = 0; i < 40 && (await page.$$('[data-testid=client-info][data-state=BOUND]')).length < 2; i++) {
    await page.click('[data-testid=step]');
  }
  const ips = await page.$$eval('[data-testid=client-info]', (c) => c.map((x) => x.dataset.ip));
  assert.equal(ips.length, 2);
  assert.notEqual(ips[0], ips[1], 'one lease per NIC');
  await page.click('[data-testid=node][data-name=dhcp-server]');
  const log = await page.innerText('[data-testid=server-log]');
  assert.ok(log.includes(`confirms ${ips[1]}`), `the server's log shows the second NIC's lease:\n${log}`);
  await page.screenshot({ path: path.join(artifacts, 'lab-decline-two-nics.png'), fullPage: true });
  await page.close();
});

test('no console errors in any test', { concurrency: false }, () => {
  assert.deepEqual(consoleErrors, []);
});
