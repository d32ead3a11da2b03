// The lab in a real browser: Debian's Chromium driven by Playwright, against the web app as the dhcplab daemon
// serves it (demo mode, loopback only). Screenshots go to tests/artifacts/.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, existsSync, openSync, readFileSync } from 'node:fs';
import dgram from 'node:dgram';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import net from 'node:net';
import http from 'node:http';
import { chromium } from 'playwright-core';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const artifacts = path.join(root, 'tests/artifacts');
const bin = process.env.DHCPLAB_BIN ?? path.join(root, 'target/debug/dhcplab');
const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';

let daemon, browser, base, dhcpPort, logFile;
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
  dhcpPort = await freePort();
  logFile = path.join(artifacts, 'daemon.log');
  const log = openSync(logFile, 'w');
  daemon = spawn(bin, ['demo', '--http', `127.0.0.1:${http}`, '--port', String(dhcpPort), '--clients', '4',
    '--web-root', path.join(root, 'dist')], { stdio: ['ignore', log, log] });
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

async function open(hash, viewport = { width: 1400, height: 1000 }, ready = '[data-testid=scenario-select]') {
  const page = await browser.newPage({ viewport });
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  await page.goto(`${base}/${hash}`);
  await page.waitForSelector(ready);
  return page;
}

// What a key or click changed, once the page shows it. yew renders in a scheduler run after the event; a run
// that passes 16 ms of work (a busy machine) yields to the browser, and an event meanwhile has its render
// wait behind it, so a value read at once can still be the old one. Returns the last value read (after
// `ms` at most); the caller asserts on it.
async function until(read, ok, ms = 5000) {
  const end = Date.now() + ms;
  let value = await read();
  while (!ok(value) && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 25));
    value = await read();
  }
  return value;
}

// The text at `selector` once `ok` takes it, matches `re`, or is `want` (or as it is after 5 s, for the
// assertion to show).
const textWhen = (page, selector, ok) => until(() => page.innerText(selector), ok);
const textMatching = (page, selector, re) => textWhen(page, selector, (t) => re.test(t));
const textEqual = (page, selector, want) => textWhen(page, selector, (t) => t === want);

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
  const field = () => page.getAttribute('[data-testid=field].sel', 'data-name');
  assert.equal(await until(field, (f) => f === 'Transaction ID'), 'Transaction ID');
  assert.match(await page.innerText('[data-testid=inspector]'), /DHCPACK/);
  await page.screenshot({ path: path.join(artifacts, 'lab-dora-ack.png'), fullPage: true });
  // Back and forward by keyboard.
  const count = async () => page.innerText('[data-testid=step-count]');
  const before = await count();
  await page.keyboard.press('ArrowLeft');
  const back = await until(count, (c) => c !== before);
  assert.notEqual(back, before);
  await page.keyboard.press('ArrowRight');
  assert.equal(await until(count, (c) => c !== back), before);
  await page.close();
});

test('the step counter shows the whole scenario from the first step, and ends on it', async () => {
  const page = await open('#s=renew-rebind&seed=1&step=0');
  const [shown, total] = (await page.innerText('[data-testid=step-count]')).split('/').map(Number);
  assert.equal(shown, 0);
  assert.ok(total > 20, `renew-rebind has more than 20 steps: ${total}`);
  await runToEnd(page);
  assert.equal(await page.innerText('[data-testid=step-count]'), `${total}/${total}`);
  await page.close();
});

test('the hex dump copies as spaced bytes, and as a hex stream or dump from its buttons', async () => {
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
  const page = await context.newPage();
  await page.goto(`${base}/#s=dora&seed=1&step=4`);
  await page.waitForSelector('[data-testid=hex]');
  // Selecting the first row and copying it gives what Wireshark's "copy as hex dump" gives.
  const selected = await page.evaluate(() => {
    const row = document.querySelector('[data-testid=hex] .hexrow');
    const range = document.createRange();
    range.selectNodeContents(row);
    const sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
    return sel.toString();
  });
  assert.match(selected, /^0000 {2}01 01 06 00 [0-9a-f]{2} [0-9a-f]{2} [0-9a-f]{2} [0-9a-f]{2} 00 00/, selected);
  await page.click('[data-testid=copy-hex-stream]');
  const stream = await page.evaluate(() => navigator.clipboard.readText());
  assert.match(stream, /^01010600[0-9a-f]+$/);
  assert.equal(stream.length % 2, 0);
  await page.click('[data-testid=copy-hex-dump]');
  const dump = await page.evaluate(() => navigator.clipboard.readText());
  assert.equal(dump.split('\n')[0].slice(0, 17), selected.slice(0, 17));
  assert.equal(dump.trim().split('\n').length, Math.ceil(stream.length / 32));
  await context.close();
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
  assert.ok(rows.some((r) => /169\.254 address claimed/.test(r)), 'a link-local address was claimed');
  const info = page.locator('[data-testid=client-info]');
  assert.equal(await info.getAttribute('data-state'), 'BOUND');
  assert.equal(await info.getAttribute('data-ip'), '192.168.1.100');
  await page.screenshot({ path: path.join(artifacts, 'lab-no-server.png'), fullPage: true });
  await page.close();
});

test('the language switch turns everything Chinese and is remembered', async () => {
  const page = await open('#s=dora&seed=1&step=4');
  await page.click('[data-testid=lang]');
  assert.equal(await textEqual(page, '[data-testid=nav-lab]', '实验室'), '实验室');
  assert.match(await page.innerText('[data-testid=explain]'), /[\u4e00-\u9fff]/, 'the explanation is in Chinese');
  await page.reload();
  await page.waitForSelector('[data-testid=scenario-select]');
  assert.equal(await page.innerText('[data-testid=nav-lab]'), '实验室', 'remembered');
  await page.screenshot({ path: path.join(artifacts, 'lab-zh.png'), fullPage: true });
  await page.click('[data-testid=lang]');
  assert.equal(await page.innerText('[data-testid=nav-lab]'), 'Lab');
  await page.close();
});

test('failover: the lease database is drawn with its servers, and the survivor ACKs the rebinding laptop', async () => {
  const page = await open('#s=failover&seed=1&step=0');
  await runToEnd(page);
  const names = await page.$$eval('[data-testid=node]', (n) => n.map((x) => x.dataset.name));
  assert.deepEqual(names.sort(), ['laptop', 'lease-db', 'server-a', 'server-b']);
  assert.equal(await page.locator('.topology .dblink').count(), 2, 'the database is linked to both servers');
  const rows = await page.$$eval('[data-testid=event-row]', (r) => r.map((x) => x.innerText));
  assert.ok(rows.some((r) => r.includes('lease-db') && r.includes('stored 192.168.1.100')), rows.join('\n'));
  const acks = await page.$$eval('[data-testid=event-row][data-msg=DHCPACK] .n', (n) => n.map((x) => x.textContent));
  assert.deepEqual(acks, ['server-a', 'server-b']);
  await page.screenshot({ path: path.join(artifacts, 'lab-failover.png'), fullPage: true });
  await page.close();
});

test('a scenario and step can be shared as a URL', async () => {
  const page = await open('#s=relay&seed=1&step=16');
  assert.equal(await page.inputValue('[data-testid=scenario-select]'), 'relay');
  assert.match(await page.innerText('[data-testid=step-count]'), /^16\//);
  await page.click('[data-testid=step]');
  // The address follows the step once the app has drawn it: waited for, not read at the click.
  await page.waitForFunction(() => location.hash.endsWith('step=17'), null, { timeout: 5000 }).catch(() => {});
  assert.match(page.url(), /#s=relay&seed=1&step=17$/);
  await page.close();
});

test('usable on a phone', async () => {
  const page = await open('#s=dora&seed=1&step=12', { width: 390, height: 844 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `the page is ${overflow}px wider than the phone`);
  await page.screenshot({ path: path.join(artifacts, 'lab-phone.png'), fullPage: true });
  await page.close();
  // The dashboard too, in Chinese, with a packet in the inspector.
  const dash = await open('#dashboard', { width: 390, height: 844 }, '[data-testid=ws-status]');
  await dash.click('[data-testid=lang]');
  // The status is translated; its state attribute is not.
  await dash.waitForSelector('[data-testid=ws-status][data-state=connected]:has-text("已连接")');
  const sock = dgram.createSocket('udp4');
  await new Promise((r) => sock.send(requestPacket('02:00:00:00:0f:01', '192.0.2.160', 'phone-test'), dhcpPort, '127.0.0.1', r));
  sock.close();
  await dash.waitForSelector('[data-testid=flow-row]', { timeout: 15000 });
  await dash.click('[data-testid=flow-row] >> nth=0');
  await dash.waitForSelector('[data-testid=field]');
  const wider = await dash.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(wider <= 1, `the dashboard is ${wider}px wider than the phone`);
  assert.match(await dash.innerText('[data-testid=dashboard]'), /实时数据包/);
  await dash.screenshot({ path: path.join(artifacts, 'dashboard-phone-zh.png'), fullPage: true });
  await dash.click('[data-testid=lang]');
  await dash.close();
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
  const pc2 = () => page.$('[data-testid=node][data-name=pc-2]');
  assert.equal(await until(pc2, (n) => n === null), null);
  await page.screenshot({ path: path.join(artifacts, 'lab-build-your-own.png'), fullPage: true });
  // Back undoes the last step, the removal; the replay keeps the user's actions, so a step brings it back.
  await page.click('[data-testid=back]');
  assert.notEqual(await until(pc2, (n) => n !== null), null);
  assert.deepEqual((await bound()).sort(), ['192.168.1.100', '192.168.1.101', '192.168.1.150', '192.168.1.50']);
  await page.click('[data-testid=step]');
  assert.equal(await until(pc2, (n) => n === null), null);
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

/** An INIT-REBOOT DHCPREQUEST for `ip` from `mac`, with option 12 `hostname`: the demo server adopts it. */
function requestPacket(mac, ip, hostname) {
  const b = Buffer.alloc(300);
  b[0] = 1; b[1] = 1; b[2] = 6;
  b.writeUInt32BE(0x5eed0001, 4);
  mac.split(':').forEach((h, i) => { b[28 + i] = parseInt(h, 16); });
  b.set([99, 130, 83, 99], 236);
  const host = Buffer.from(hostname);
  const opts = Buffer.concat([Buffer.from([53, 1, 3, 50, 4, ...ip.split('.').map(Number), 12, host.length]), host, Buffer.from([255])]);
  opts.copy(b, 240);
  return b;
}

test('dashboard: live leases, search, hostile hostnames shown as text, release with the token', async () => {
  const page = await open('#dashboard', undefined, '[data-testid=ws-status]');
  await page.waitForSelector('[data-testid=ws-status]:has-text("connected")', { timeout: 10000 });
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=lease-row][data-state=bound]').length >= 4, null, { timeout: 15000 });
  assert.equal(await page.$$eval('[data-testid=subnet-util]', (e) => e.length), 1);
  assert.match(await page.innerText('[data-testid=inspector]'), /Select a packet in the live flow/);
  // What the user types as another daemon's URL survives the live redraws (several per second) until applied.
  const ownUrl = await page.inputValue('[data-testid=ws-url]');
  await page.fill('[data-testid=ws-url]', 'ws://198.51.100.7:8067/w');
  await page.waitForTimeout(1300);
  assert.equal(await page.inputValue('[data-testid=ws-url]'), 'ws://198.51.100.7:8067/w');
  await page.fill('[data-testid=ws-url]', ownUrl);
  // A client whose hostname is markup: it must show as text.
  const evil = '<img src=x onerror=alert(1)>';
  const sock = dgram.createSocket('udp4');
  await new Promise((r) => sock.send(requestPacket('02:00:00:00:be:ef', '192.0.2.150', evil), dhcpPort, '127.0.0.1', r));
  sock.close();
  const row = page.locator('[data-testid=lease-row][data-ip="192.0.2.150"]');
  await row.waitFor({ timeout: 10000 });
  assert.equal(await row.locator('[data-testid=lease-host]').innerText(), evil);
  assert.equal(await page.$$eval('img', (i) => i.length), 0, 'no element was injected');
  // Search narrows the table, and says so when nothing matches.
  await page.fill('[data-testid=lease-search]', 'be:ef');
  const shown = () => page.$$eval('[data-testid=lease-row]', (r) => r.length);
  assert.equal(await until(shown, (n) => n === 1), 1);
  await page.fill('[data-testid=lease-search]', 'no-such-host');
  const none = 'No lease matches these filters.';
  assert.equal(await textEqual(page, '[data-testid=no-leases]', none), none);
  await page.fill('[data-testid=lease-search]', '');
  // Release needs the admin token (the demo prints it).
  const token = readFileSync(logFile, 'utf8').match(/demo admin token: (\w+)/)[1];
  await page.fill('[data-testid=admin-token]', token);
  await row.locator('[data-testid=lease-release]').click();
  await page.waitForSelector('[data-testid=lease-row][data-ip="192.0.2.150"][data-state=released]', { timeout: 10000 });
  assert.match(await page.innerText('[data-testid=event-feed]'), /released 192\.0\.2\.150/);
  await page.waitForSelector('[data-testid=notice].ok:has-text("192.0.2.150 released")');

  // One click turns a demo client's lease into a reservation; the row is marked as the daemon confirms it.
  const pinned = page.locator('[data-testid=lease-row][data-state=bound]').first();
  const pinnedIp = await pinned.getAttribute('data-ip');
  await pinned.locator('[data-testid=lease-reserve]').click();
  await page.waitForSelector(`[data-testid=notice].ok:has-text("${pinnedIp} reserved")`, { timeout: 10000 });
  await page.locator(`[data-testid=lease-row][data-ip="${pinnedIp}"] [data-testid=lease-reserved]`).waitFor({ timeout: 5000 });
  const listed = await (await fetch(`${base}/api/reservations`)).json();
  assert.ok(listed.some((r) => r.ip === pinnedIp && r.hostname), `the reservation keeps the hostname: ${JSON.stringify(listed)}`);
  await pinned.locator('[data-testid=lease-reserve]').waitFor({ state: 'detached', timeout: 5000 });

  // The live packets: follow the hostile client; its REQUEST and ACK are drawn, and the ACK is inspected
  // from the bytes the daemon sent.
  await row.locator('[data-testid=lease-follow]').click();
  assert.equal(await page.inputValue('[data-testid=packet-follow]'), '02:00:00:00:be:ef');
  const msgs = await page.$$eval('[data-testid=flow-row]', (r) => r.map((x) => x.dataset.msg));
  assert.deepEqual(msgs, ['DHCPREQUEST', 'DHCPACK'], 'only the followed client\'s packets');
  const lanes = await page.$$eval('[data-testid=lifeline]', (l) => l.map((x) => x.textContent));
  assert.deepEqual(lanes, ['dhcplab', '<img src=x onerr…'], 'one lifeline per client, named by its hostname, as text');
  await page.click('[data-testid=flow-row][data-msg=DHCPACK]');
  const yiaddr = page.locator('[data-testid=field][data-name="Your (client) IP address (yiaddr)"]');
  assert.match(await yiaddr.innerText(), /192\.0\.2\.150/);
  assert.match(await page.innerText('[data-testid=inspector]'), /Sent on link demo/);
  await yiaddr.click();
  const lit = await page.$$eval('[data-testid=hex-byte].hl', (b) => b.map((x) => Number(x.dataset.offset)));
  assert.deepEqual(lit, [16, 17, 18, 19], 'yiaddr is bytes 16–19');
  assert.equal(await page.$$eval('img', (i) => i.length), 0, 'still no element injected');
  // Paused, the flow stands still and counts what it holds back; the inspected packet stays.
  await page.click('[data-testid=flow-pause]');
  const again = dgram.createSocket('udp4');
  await new Promise((r) => again.send(requestPacket('02:00:00:00:be:ef', '192.0.2.150', evil), dhcpPort, '127.0.0.1', r));
  again.close();
  // It counts every packet the daemon reports while paused: this REQUEST and its answer, and any the demo's
  // own clients send meanwhile.
  await page.waitForFunction(() => {
    const held = document.body.innerText.match(/\+(\d+) packets while paused/);
    return held && Number(held[1]) >= 2;
  }, null, { timeout: 10000 });
  assert.deepEqual(await page.$$eval('[data-testid=flow-row]', (r) => r.map((x) => x.dataset.msg)), ['DHCPREQUEST', 'DHCPACK']);
  await page.click('[data-testid=flow-pause]');
  await page.screenshot({ path: path.join(artifacts, 'dashboard.png'), fullPage: true });
  await page.close();
});

test('dashboard: a big network is paged, and the search narrows it and goes back to the first page', async () => {
  // The daemon's own bridge, with its snapshot grown to 250 leases on the way (each a copy of a real one).
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  await page.routeWebSocket(/\/ws$/, (ws) => {
    const server = ws.connectToServer();
    server.onMessage((m) => {
      const v = JSON.parse(m);
      if (v.type === 'snapshot' && v.leases.length) {
        const l = v.leases[0];
        v.leases = Array.from({ length: 250 }, (_, i) => ({ ...l, ip: `192.0.2.${i}`, hw: `02:00:00:00:01:${i.toString(16).padStart(2, '0')}`,
          hostname: `pc-${i}` }));
        return ws.send(JSON.stringify(v));
      }
      ws.send(m);
    });
  });
  await page.goto(`${base}/#dashboard`);
  await page.waitForSelector('[data-testid=lease-page]', { timeout: 15000 });
  const rows = () => page.$$eval('[data-testid=lease-row]', (r) => r.length);
  assert.equal(await rows(), 100);
  assert.equal(await page.innerText('[data-testid=lease-page]'), '1–100 / 250');
  assert.ok(await page.isDisabled('[data-testid=lease-prev]'));
  await page.click('[data-testid=lease-next]');
  await page.click('[data-testid=lease-next]');
  const last = '201–250 / 250';
  assert.equal(await textEqual(page, '[data-testid=lease-page]', last), last);
  assert.equal(await until(rows, (n) => n === 50), 50);
  assert.ok(await page.isDisabled('[data-testid=lease-next]'));
  await page.fill('[data-testid=lease-search]', 'pc-24');
  // pc-24 and pc-240 … pc-249: one page, so no pager.
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=lease-row]').length === 11);
  assert.equal(await page.$$eval('[data-testid=lease-page]', (p) => p.length), 0);
  await page.close();
});

test('dashboard: utilization levels, sorting, and a dropped connection comes back by itself', async () => {
  // A bridge made from the daemon's own API answers (the snapshot carries the same leases and stats), with
  // three subnets at 79 %, 80 % and 90 % used.
  const leases = await (await fetch(`${base}/api/leases`)).json();
  const stats = await (await fetch(`${base}/api/stats`)).json();
  assert.ok(leases.length >= 3, 'the demo has leases');
  const subnets = [['10.1.0.0/24', 79], ['10.2.0.0/24', 80], ['10.3.0.0/24', 90]]
    .map(([cidr, used]) => ({ cidr, pool_size: 100, used, free: 100 - used, declined: 0 }));
  const hosts = ['mallory', 'alice', 'trent'];
  const snapshot = JSON.stringify({ type: 'snapshot', seq: 1, subnets, stats: { ...stats, subnets }, reserved: [],
    leases: leases.slice(0, 3).map((l, i) => ({ ...l, hostname: hosts[i] })) });
  let connections = 0;
  let bridge;
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  await page.routeWebSocket(/\/ws$/, (ws) => { connections += 1; bridge = ws; ws.send(snapshot); });
  await page.goto(`${base}/#dashboard`);
  await page.waitForSelector('[data-testid=ws-status]:has-text("connected")');
  await page.waitForSelector('[data-testid=subnet-util][data-cidr="10.3.0.0/24"]');
  const levels = await page.$$eval('[data-testid=subnet-util]', (u) => u.map((x) => [x.dataset.cidr, x.dataset.level]));
  assert.deepEqual(levels, [['10.1.0.0/24', 'ok'], ['10.2.0.0/24', 'amber'], ['10.3.0.0/24', 'red']]);
  // Sorting by hostname.
  await page.click('th.sortable:has-text("Hostname")');
  const names = await page.$$eval('[data-testid=lease-host]', (h) => h.map((x) => x.textContent));
  assert.deepEqual(names, ['alice', 'mallory', 'trent']);
  // The bridge goes away: the status says so, and the dashboard reconnects on its own (first retry 0.5 s).
  await bridge.close();
  await page.waitForSelector('[data-testid=ws-status]:has-text("disconnected")', { timeout: 5000 });
  await page.waitForFunction(() => document.querySelector('[data-testid=ws-status]').textContent === 'connected', null, { timeout: 10000 });
  assert.equal(connections, 2);
  assert.equal(await page.$$eval('[data-testid=lease-row]', (r) => r.length), 3, 'the fresh snapshot replaced the table');
  await page.close();
});

test('attack: a page on another origin can read neither the API nor the live bridge', async () => {
  // The attacker's page, served from another port on loopback: another origin, as any web site is.
  const evil = http.createServer((_, res) => { res.writeHead(200, { 'content-type': 'text/html' }); res.end('<title>evil</title>'); });
  await new Promise((r) => evil.listen(0, '127.0.0.1', r));
  const before = await refusedTotal('origin');
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${evil.address().port}/`);
  const got = await page.evaluate(async (daemon) => {
    const out = {};
    try { out.fetch = `read ${(await (await fetch(`${daemon}/api/leases`)).text()).length} bytes`; } catch { out.fetch = 'blocked'; }
    out.ws = await new Promise((resolve) => {
      const ws = new WebSocket(`${daemon.replace('http:', 'ws:')}/ws`);
      ws.onmessage = (m) => resolve(`read ${String(m.data).slice(0, 30)}`);
      ws.onerror = () => resolve('refused');
      setTimeout(() => resolve('no answer'), 5000);
    });
    return out;
  }, base);
  assert.deepEqual(got, { fetch: 'blocked', ws: 'refused' });
  // The daemon itself refused both (not only the browser hiding an answer it got).
  assert.equal(await refusedTotal('origin'), before + 2);
  await page.close();
  evil.close();
});

test('attack: a rebinding name that resolves to the daemon gets nothing', async () => {
  // A name the attacker controls, pointed at 127.0.0.1 after the page loaded (the browser's resolver rule
  // stands in for the attacker's DNS).
  const rebinding = await chromium.launch({
    executablePath: chromiumPath,
    args: ['--no-sandbox', '--disable-gpu', '--host-resolver-rules=MAP rebind.attacker.test 127.0.0.1'],
  });
  try {
    const before = await refusedTotal('host');
    const page = await rebinding.newPage();
    const port = new URL(base).port;
    const res = await page.goto(`http://rebind.attacker.test:${port}/`);
    assert.equal(res.status(), 403);
    assert.ok(!(await page.content()).includes('192.0.2.'), 'no lease on the page');
    const leases = await page.evaluate(async () => (await fetch('/api/leases')).status);
    assert.equal(leases, 403, 'a same-origin read from the rebound page is refused');
    // The page, the fetch, and whatever else the browser asked for (a favicon).
    assert.ok((await refusedTotal('host')) >= before + 2);
  } finally {
    await rebinding.close();
  }
});

async function refusedTotal(reason) {
  const metrics = await (await fetch(`${base}/metrics`)).text();
  const m = metrics.match(new RegExp(`dhcplab_http_refused_total\\{reason="${reason}"\\} (\\d+)`));
  assert.ok(m, `no refusal counter for ${reason}`);
  return Number(m[1]);
}

// Each test's pages must log no error: checked after every test, so it holds however the tests are picked.
afterEach(() => {
  const errors = consoleErrors.splice(0);
  assert.deepEqual(errors, [], 'console errors or page errors during this test');
});

// Real captures opened in the lab (the shared Kea captures, kept as the engine's fixtures).
const captures = path.join(root, 'engine/tests/fixtures/captures');

async function openCapture(page, file) {
  await page.setInputFiles('[data-testid=open-capture]', file);
  await page.waitForSelector('[data-testid=capture-summary]');
}

const selectedRow = (page) => () => page.getAttribute('[data-testid=capture-row][aria-selected=true]', 'data-number');

const captureRows = (page) =>
  page.$$eval('[data-testid=capture-row]', (rows) => rows.map((r) => `${r.dataset.number}:${r.dataset.msg}`));

test('open a capture: every shared capture told packet by packet, with flow, states and findings', async () => {
  const page = await open('#s=dora&seed=1&step=0');
  const selected = selectedRow(page);
  const D = 'DHCPDISCOVER', O = 'DHCPOFFER', R = 'DHCPREQUEST', A = 'DHCPACK';
  const expected = {
    dhclient: [D, O, R, A], udhcpc: [D, O, R, A], dhcpcd: [D, O, R, A], nmap: [D, O],
    'lan-2clients': [D, O, D, O, R, A, R, A], 'perfdhcp-relay-unicast': [D, O, R, A, D, O],
  };
  for (const [name, msgs] of Object.entries(expected)) {
    await openCapture(page, path.join(captures, `${name}.pcap`));
    assert.deepEqual(await captureRows(page), msgs.map((m, i) => `${i + 1}:${m}`), name);
    assert.match(await page.innerText('[data-testid=capture-summary]'), new RegExp(`${name}.pcap: ${msgs.length} DHCP packets`));
    assert.equal((await page.$$('[data-testid=flow-row]')).length, msgs.length, `${name}: one arrow per packet`);
    // The first packet is told at once: a client's DISCOVER, in SELECTING.
    assert.match(await page.innerText('[data-testid=capture-narration]'), /DHCPDISCOVER/);
    assert.match(await page.innerText('[data-testid=capture-state]'), /SELECTING/);
    // The inspector has the frame's layers, its fields and bytes.
    assert.match(await page.innerText('[data-testid=inspector]'), /Frame 1: \d+ bytes of DHCP[\s\S]*Ethernet II/);
    assert.ok((await page.$$('[data-testid=hex-byte]')).length > 240);
    // Every packet told in turn (↓ walks the list): its narration names its message, and its frame is inspected.
    for (let i = 0; i < msgs.length; i++) {
      if (i > 0) await page.keyboard.press('ArrowDown');
      const number = String(i + 1);
      assert.equal(await until(selected, (n) => n === number), number);
      const tells = (story) => story.includes(msgs[i]) || (msgs[i] === O && /offers/.test(story)) || (msgs[i] === A && /confirms/.test(story));
      const story = await textWhen(page, '[data-testid=capture-narration]', tells);
      assert.ok(tells(story), `${name} frame ${i + 1} (${msgs[i]}): ${story}`);
      const frame = new RegExp(`Frame ${i + 1}: .*${msgs[i]}`, 's');
      assert.match(await textMatching(page, '[data-testid=inspector]', frame), frame);
    }
  }
  // The relay's capture: the relay's lifeline, and each packet says it crossed it.
  await openCapture(page, path.join(captures, 'perfdhcp-relay-unicast.pcap'));
  const lifelines = await page.$$eval('[data-testid=lifeline]', (l) => l.map((x) => x.textContent));
  assert.deepEqual(lifelines, ['relay 10.200.255.254', 'server 192.0.2.1']);
  assert.match(await page.innerText('[data-testid=capture-story]'), /Relayed: giaddr 10\.200\.255\.254/);
  // The last offer nobody took is marked as a problem in words, not only colour; the filter finds it.
  await page.check('[data-testid=capture-problems-only]');
  assert.deepEqual(await captureRows(page), ['6:DHCPOFFER']);
  assert.match(await page.innerText('[data-testid=capture-row]'), /problem/);
  assert.match(await page.innerText('[data-testid=capture-story]'), /No REQUEST follows this offer/);
  // Two clients: both exchanges end bound, each told on its ACK.
  await openCapture(page, path.join(captures, 'lan-2clients.pcap'));
  await page.click('[data-testid=capture-row][data-number="6"]');
  const first = /bound 198\.51\.100\.10 for 6h from 198\.51\.100\.1/;
  assert.match(await textMatching(page, '[data-testid=capture-outcome]', first), first);
  await page.click('[data-testid=flow-row] >> nth=7');
  const second = /bound 198\.51\.100\.11/;
  assert.match(await textMatching(page, '[data-testid=capture-outcome]', second), second);
  assert.equal(await page.getAttribute('[data-testid=capture-row][aria-selected=true]', 'data-number'), '8');
  await page.screenshot({ path: path.join(artifacts, 'lab-capture.png'), fullPage: true });
  // Back to the scenarios, where they were.
  await page.click('[data-testid=close-capture]');
  await page.waitForSelector('[data-testid=scenario-select]');
  await page.close();
});

test('open a capture: pcapng as Wireshark saves it, walked by keyboard, in 中文', async () => {
  const dir = path.join(artifacts, 'captures');
  mkdirSync(dir, { recursive: true });
  const ng = path.join(dir, 'dhclient.pcapng');
  const tshark = spawn('tshark', ['-r', path.join(captures, 'dhclient.pcap'), '-F', 'pcapng', '-w', ng]);
  assert.equal(await new Promise((r) => tshark.on('close', r)), 0, 'tshark wrote the pcapng');
  const page = await open('#s=dora&seed=1&step=0');
  await openCapture(page, ng);
  assert.deepEqual(await captureRows(page), ['1:DHCPDISCOVER', '2:DHCPOFFER', '3:DHCPREQUEST', '4:DHCPACK']);
  // Seconds from the first frame to the microsecond, as Wireshark's time column: the DORA took 0.727 ms.
  const times = await page.$$eval('[data-testid=capture-time]', (t) => t.map((x) => x.textContent));
  assert.deepEqual(times, ['0.000000', '0.000461', '0.000546', '0.000727']);
  // As after picking the file by keyboard: the focus is still on the file input, and the arrows walk on.
  await page.focus('[data-testid=open-capture]');
  const selected = selectedRow(page);
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowDown');
  assert.equal(await until(selected, (n) => n === '3'), '3');
  assert.match(await textMatching(page, '[data-testid=capture-state]', /REQUESTING/), /REQUESTING/);
  assert.match(await page.innerText('[data-testid=capture-narration]'), /naming server 192\.0\.2\.1/);
  await page.keyboard.press('End');
  assert.equal(await until(selected, (n) => n === '4'), '4');
  await page.keyboard.press('ArrowLeft');
  assert.equal(await until(selected, (n) => n === '3'), '3');
  await page.click('[data-testid=lang]');
  const summary = /帧中有 4 个 DHCP 报文/;
  assert.match(await textMatching(page, '[data-testid=capture-summary]', summary), summary);
  assert.match(await page.innerText('[data-testid=capture-narration]'), /广播 DHCPREQUEST/);
  assert.match(await page.innerText('[data-testid=capture-story]'), /客户端状态/);
  await page.screenshot({ path: path.join(artifacts, 'lab-capture-zh.png'), fullPage: true });
  await page.click('[data-testid=lang]');
  await page.close();
});

test('open a capture: a truncated file says where it ends, a file that is not one says so', async () => {
  const page = await open('#s=dora&seed=1&step=0', { width: 390, height: 844 });
  const bytes = readFileSync(path.join(captures, 'dhclient.pcap'));
  await page.setInputFiles('[data-testid=open-capture]',
    { name: 'cut.pcap', mimeType: 'application/vnd.tcpdump.pcap', buffer: bytes.subarray(0, bytes.length - 100) });
  await page.waitForSelector('[data-testid=capture-cut]');
  assert.match(await page.innerText('[data-testid=capture-cut]'), /cut short: it ends in the middle of frame 4/);
  assert.deepEqual(await captureRows(page), ['1:DHCPDISCOVER', '2:DHCPOFFER', '3:DHCPREQUEST']);
  // The REQUEST's ACK is past the cut: the capture says it is missing.
  await page.click('[data-testid=capture-row][data-number="3"]');
  const missing = /no ACK or NAK for this REQUEST/;
  assert.match(await textMatching(page, '[data-testid=capture-story]', missing), missing);
  const wide = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(wide <= 390, `the page scrolls sideways at phone width: ${wide}px`);
  await page.screenshot({ path: path.join(artifacts, 'lab-capture-phone.png'), fullPage: true });
  await page.setInputFiles('[data-testid=open-capture]',
    { name: 'page.pcap', mimeType: 'text/html', buffer: Buffer.from('<!DOCTYPE html><p>not a capture</p>') });
  await page.waitForSelector('[data-testid=capture-error]');
  assert.match(await page.innerText('[data-testid=capture-error]'), /not a pcap or pcapng file \(it begins with 3c 21 44 4f\)/);
  // The scenarios are back under the message.
  await page.waitForSelector('[data-testid=scenario-select]');
  await page.close();
});

// Accessibility: axe-core (the engine browser vendors and auditors use) on every face of the app, in both
// languages. Every violation is printed; serious and critical ones fail the test.
const axeSource = path.join(root, 'tests/browser/node_modules/axe-core/axe.min.js');

async function axe(page, what) {
  await page.addScriptTag({ path: axeSource });
  const violations = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.length,
      first: v.nodes[0]?.target?.join(' ') }));
  });
  for (const v of violations) console.log(`axe ${what}: ${v.impact} ${v.id} (${v.nodes}×, e.g. ${v.first}): ${v.help}`);
  console.log(`axe ${what}: ${violations.length} kinds of violation`);
  const serious = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(serious, [], `${what}: serious accessibility violations`);
}

test('accessibility: axe-core finds nothing serious in the lab, a capture and the dashboard, English and 中文', async () => {
  for (const lang of ['en', 'zh']) {
    const page = await open('#s=relay&seed=1&step=0');
    if (lang === 'zh') await page.click('[data-testid=lang]');
    for (let i = 0; i < 12; i++) await page.click('[data-testid=step]');
    await axe(page, `lab ${lang}`);
    await openCapture(page, path.join(captures, 'lan-2clients.pcap'));
    await axe(page, `capture ${lang}`);
    await page.click('[data-testid=nav-dashboard]');
    await page.waitForSelector('[data-testid=ws-status]:has-text("' + (lang === 'zh' ? '已连接' : 'connected') + '")', { timeout: 10000 });
    await page.waitForSelector('[data-testid=lease-row]', { timeout: 15000 });
    await axe(page, `dashboard ${lang}`);
    await page.goto(`${base}/#x=two-servers`);
    await page.reload();
    await page.waitForSelector('[data-testid=exercise-question]');
    await axe(page, `exercise ${lang}`);
    if (lang === 'zh') await page.click('[data-testid=lang]');
    await page.close();
  }
});

test('keyboard only: pick a scenario and walk it to its end, the story told at each step', async () => {
  const page = await open('#s=dora&seed=1&step=0');
  const focused = () => page.evaluate(() => document.activeElement?.dataset?.testid ?? document.activeElement?.tagName);
  for (let i = 0; i < 40 && (await focused()) !== 'scenario-select'; i++) await page.keyboard.press('Tab');
  assert.equal(await focused(), 'scenario-select', 'the scenario picker is reachable by Tab');
  await page.keyboard.press('ArrowDown');
  const picked = await page.inputValue('[data-testid=scenario-select]');
  assert.notEqual(picked, 'dora', 'the arrow key picked another scenario');
  // On past the exercise picker to the buttons, where the arrow keys step.
  for (let i = 0; i < 5 && (await focused()) !== 'play'; i++) await page.keyboard.press('Tab');
  assert.equal(await focused(), 'play');
  const [, total] = (await page.innerText('[data-testid=step-count]')).split('/').map(Number);
  const told = new Set();
  for (let i = 0; i < total; i++) {
    await page.keyboard.press('ArrowRight');
    const at = `${i + 1}/${total}`;
    assert.equal(await textEqual(page, '[data-testid=step-count]', at), at);
    told.add(await page.innerText('[data-testid=explain] .explanation'));
  }
  assert.equal(await page.innerText('[data-testid=step-count]'), `${total}/${total}`);
  assert.ok(told.size > total / 3, `${picked}: the story changed as it went (${told.size} texts in ${total} steps)`);
  assert.ok(await page.isDisabled('[data-testid=step]'), 'at the end');
  assert.match(await page.innerText('[data-testid=explain]'), /End of the scenario/);
  await page.close();
});

// 中文 throughout: with 中文 chosen, every word a user reads is Chinese, except what the RFCs and protocols
// name (DHCPDISCOVER, chaddr, SELECTING, option numbers), numbers and addresses, and data marked
// translate="no" (node, link and host names, MACs, the hex dump).
const KEEP = new Set(('DHCP BOOTP RFC MAC IP IPv4 UDP ARP DNS NAK ACK OFFER DISCOVER REQUEST RELEASE DECLINE INFORM ' +
  'INIT SELECTING REQUESTING CHECKING BOUND RENEWING REBINDING REBOOT REBOOTING INFORMING STATIC STOPPED ' +
  'Ethernet II TFTP NTP MTU FQDN T1 T2 xid op htype hlen hops secs flags ciaddr yiaddr siaddr giaddr chaddr ' +
  'sname file magic cookie Boot Request Reply ping pcap pcapng UTC ms s h m d min LAN SPAN Kea ID PTR DHCID ' +
  'Agent Circuit Remote Link Selection Server Identifier Override ICMP nmap dhcp-discover dhcplab probe perfdhcp ' +
  'tcpdump Wireshark').split(' '));

async function untranslated(page) {
  return page.evaluate((keep) => {
    const keepSet = new Set(keep);
    // Data shown on the page (names of nodes, links, hosts, files) may appear inside sentences too.
    const words = (s) => s.match(/[A-Za-z][A-Za-z0-9-]*/g) ?? [];
    for (const el of document.querySelectorAll('[translate=no]')) words(el.textContent).forEach((w) => keepSet.add(w));
    for (const el of document.querySelectorAll('[data-name], [data-link], [data-file]')) {
      for (const a of ['data-name', 'data-link', 'data-file']) words(el.getAttribute(a) ?? '').forEach((w) => keepSet.add(w));
    }
    const bad = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const el = n.parentElement;
      if (!el || el.closest('[translate=no], script, style, option, .sr-only') || !el.getClientRects().length) continue;
      for (const w of n.textContent.match(/[A-Za-z][A-Za-z0-9-]*/g) ?? []) {
        const word = w.replace(/-+$/, '');
        if (keepSet.has(word) || /^DHCP[A-Z]+$/.test(word) || /^[0-9a-f]{1,4}$/.test(word) || /^x[0-9a-f]+$/.test(word)
          || /^[A-Z]+-[A-Z]+$/.test(word) || /^[hmsd](\d+[hmsd])*$/.test(word) || /^eth\d+$/.test(word)) continue;
        bad.push(`${word} in “${n.textContent.trim().slice(0, 80)}”`);
      }
    }
    return [...new Set(bad)];
  }, [...KEEP]);
}

test('中文 throughout: the lab, a capture and the dashboard leave no English word untranslated', async () => {
  const page = await open('#s=dora&seed=1&step=0');
  await page.click('[data-testid=lang]');
  const found = [];
  for (const s of ['dora', 'relay', 'two-servers', 'decline', 'no-server', 'failover', 'conflict', 'reservation']) {
    await page.selectOption('[data-testid=scenario-select]', s);
    for (let i = 0; i < 18 && !(await page.isDisabled('[data-testid=step]')); i++) await page.click('[data-testid=step]');
    // The selected packet's fields in the inspector, too.
    const field = page.locator('[data-testid=field]').first();
    if (await field.count()) await field.click();
    found.push(...(await untranslated(page)).map((x) => `lab ${s}: ${x}`));
  }
  await openCapture(page, path.join(captures, 'perfdhcp-relay-unicast.pcap'));
  await page.click('[data-testid=capture-row][data-number="6"]');
  found.push(...(await untranslated(page)).map((x) => `capture: ${x}`));
  await page.click('[data-testid=close-capture]');
  await page.click('[data-testid=nav-dashboard]');
  await page.waitForSelector('[data-testid=lease-row]', { timeout: 15000 });
  const sock = dgram.createSocket('udp4');
  await new Promise((r) => sock.send(requestPacket('02:00:00:00:0f:02', '192.0.2.161', 'zh-test'), dhcpPort, '127.0.0.1', r));
  sock.close();
  await page.waitForSelector('[data-testid=flow-row]', { timeout: 15000 });
  await page.click('[data-testid=flow-row] >> nth=0');
  found.push(...(await untranslated(page)).map((x) => `dashboard: ${x}`));
  await page.click('[data-testid=lang]');
  await page.close();
  for (const f of new Set(found)) console.log(`untranslated: ${f}`);
  assert.deepEqual([...new Set(found)], [], 'untranslated words');
});

// Exercises, by keyboard alone: the radio groups take arrows and space, the form takes Enter.
async function stepToQuestion(page) {
  for (let i = 0; i < 30 && !(await page.$('[data-testid=exercise-question]')); i++) await page.keyboard.press('ArrowRight');
  await page.waitForSelector('[data-testid=exercise-question]');
}

async function pickByKeys(page, value) {
  await page.keyboard.press('Space');
  for (let i = 0; i < 10 && (await page.evaluate(() => document.activeElement?.value)) !== value; i++) {
    await page.keyboard.press('ArrowDown');
  }
  assert.equal(await page.evaluate(() => document.activeElement?.value), value);
  await page.keyboard.press('Tab');
}

test('an exercise shared by URL is done by keyboard alone, right and wrong answers scored', async () => {
  const page = await open('#x=first-lease', undefined, '[data-testid=exercise-question]');
  assert.match(await page.innerText('[data-testid=exercise]'), /First lease: predict the DORA/);
  assert.equal(await page.$$eval('[data-testid=event-row][data-msg^=DHCP]', (r) => r.length), 0, 'nothing shown before the prediction');
  const nodes = await page.$$eval('[data-testid=answer-from]', (r) => r.map((x) => [x.parentElement.innerText.trim(), x.value]));
  const id = (name) => nodes.find(([n]) => n === name)[1];
  // The first choice has the focus. DISCOVER, from the laptop, broadcast: all right.
  assert.equal(await page.evaluate(() => document.activeElement?.dataset.testid), 'answer-msg');
  await pickByKeys(page, 'DHCPDISCOVER');
  await pickByKeys(page, id('laptop'));
  await pickByKeys(page, 'broadcast');
  // No field ticked: a first DISCOVER fills in none of them.
  await page.keyboard.press('Enter');
  await page.waitForSelector('[data-testid=exercise-feedback]');
  assert.equal(await page.getAttribute('[data-testid=exercise-feedback]', 'data-points'), '4/4');
  assert.match(await page.innerText('[data-testid=exercise-score]'), /Score 4\/4/);
  assert.deepEqual(await packetMsgs(page), ['DHCPDISCOVER'], 'the predicted packet is shown');
  // On to the OFFER: the wrong sender, broadcast, and the wrong why.
  await stepToQuestion(page);
  assert.match(await page.innerText('[data-testid=exercise-question]'), /Why can this OFFER go to the laptop's own MAC/);
  await pickByKeys(page, 'DHCPOFFER');
  await pickByKeys(page, id('laptop'));
  await pickByKeys(page, 'broadcast');
  // The fields, ticked by Tab and space: yiaddr (1), option 54 (6) and option 51 (7).
  for (let i = 0; i < 8; i++) {
    assert.equal(await page.evaluate(() => document.activeElement?.dataset.testid), 'answer-field');
    if ([1, 6, 7].includes(i)) await page.keyboard.press('Space');
    await page.keyboard.press('Tab');
  }
  await pickByKeys(page, '0');
  await page.keyboard.press('Enter');
  await page.waitForSelector('[data-testid=exercise-feedback]');
  assert.equal(await page.getAttribute('[data-testid=exercise-feedback]', 'data-points'), '2/5');
  const fb = await page.innerText('[data-testid=exercise-feedback]');
  assert.match(fb, /✗ wrong — the answer: dhcp-server/);
  assert.match(fb, /✗ wrong — the answer: unicast/);
  assert.match(fb, /The DISCOVER carried the laptop's MAC \(chaddr\)/);
  assert.match(fb, /✓ right — the answer: yiaddr, option 54 \(server id\), option 51 \(lease time\)/);
  assert.match(await page.innerText('[data-testid=exercise-score]'), /Score 6\/9/);
  // The packet's own story follows the marks: why it went by unicast.
  assert.match(await page.innerText('[data-testid=exercise]'), /not broadcast/);
  await page.screenshot({ path: path.join(artifacts, 'lab-exercise.png'), fullPage: true });
  // The rest, with an empty answer each (Enter on the focused first choice submits): the end says the score.
  for (let i = 0; i < 2; i++) {
    await stepToQuestion(page);
    assert.equal(await page.evaluate(() => document.activeElement?.dataset.testid), 'answer-msg');
    await page.keyboard.press('Enter');
    await page.waitForSelector('[data-testid=exercise-feedback]');
  }
  for (let i = 0; i < 20 && !(await page.$('[data-testid=exercise-done]')); i++) await page.keyboard.press('ArrowRight');
  assert.match(await page.innerText('[data-testid=exercise-done]'), /Exercise done\. Score 6\/18/);
  // In 中文, the next exercise from the picker.
  await page.click('[data-testid=lang]');
  await page.selectOption('[data-testid=exercise-select]', 'renewal');
  await page.waitForSelector('[data-testid=exercise-question]');
  assert.match(await page.innerText('[data-testid=exercise]'), /T1 续租，T2 重新绑定/);
  assert.match(await page.innerText('[data-testid=exercise-question]'), /为什么这个 REQUEST 单播发往 192\.168\.1\.240/);
  assert.match(page.url(), /#x=renewal$/);
  await page.screenshot({ path: path.join(artifacts, 'lab-exercise-zh.png'), fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  const wide = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(wide <= 390, `the exercise scrolls sideways at phone width: ${wide}px`);
  await page.screenshot({ path: path.join(artifacts, 'lab-exercise-phone-zh.png'), fullPage: true });
  await page.click('[data-testid=lang]');
  await page.close();
});

test('big classrooms: a hundred clients drawn; a thousand open with progress shown, and step', async () => {
  const page = await open('#s=crowd&seed=1&step=0');
  assert.equal(await page.$$eval('[data-testid=topology] circle.dot', (d) => d.length), 100, 'every client drawn');
  for (let i = 0; i < 30; i++) await page.click('[data-testid=step]');
  assert.match(await page.getAttribute('[data-testid=topology]', 'aria-label'), /100 clients \(/);
  await page.selectOption('[data-testid=scenario-select]', 'crowd-1000');
  // The length is worked out between frames, its progress shown, while the page stays usable.
  await page.waitForSelector('[data-testid=counting]', { timeout: 10000 });
  await page.click('[data-testid=step]');
  await page.waitForFunction(() => !document.querySelector('[data-testid=counting]'), null, { timeout: 120000 });
  const [shown, total] = (await page.innerText('[data-testid=step-count]')).split('/').map(Number);
  assert.equal(shown, 1);
  assert.ok(total > 10000, `the whole scenario's length: ${total}`);
  assert.equal(await page.$$eval('[data-testid=topology] circle.dot', (d) => d.length), 1000);
  for (let i = 0; i < 40; i++) await page.click('[data-testid=step]');
  const at = `41/${total}`;
  assert.equal(await textEqual(page, '[data-testid=step-count]', at), at);
  await page.screenshot({ path: path.join(artifacts, 'lab-crowd-1000.png') });
  await page.close();
});

test('the live flow exported from the dashboard opens in the lab as a capture', async () => {
  const page = await open('#dashboard', undefined, '[data-testid=ws-status]');
  await page.waitForSelector('[data-testid=ws-status][data-state=connected]', { timeout: 10000 });
  // Followed first, so the ACK waited for is this client's and not one of the demo's own clients'.
  await page.fill('[data-testid=packet-follow]', '02:00:00:00:0f:03');
  const sock = dgram.createSocket('udp4');
  // Sent again while the daemon has not shown it, as a client retransmits (RFC 2131 §4.1): UDP on a busy
  // machine may lose one. Once shown, it is not sent again: the capture must hold exactly one exchange.
  let seen = false;
  for (let attempt = 0; attempt < 5 && !seen; attempt++) {
    await new Promise((r) => sock.send(requestPacket('02:00:00:00:0f:03', '192.0.2.162', 'export-test'), dhcpPort, '127.0.0.1', r));
    seen = await page.waitForSelector('[data-testid=flow-row]', { timeout: 4000 }).then(() => true, () => false);
  }
  sock.close();
  assert.ok(seen, 'the daemon showed the REQUEST on the live flow');
  await page.waitForSelector('[data-testid=flow-row][data-msg=DHCPACK]', { timeout: 15000 });
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=live-export-pcap]')]);
  const file = path.join(artifacts, 'captures', 'dhcplab-live.pcap');
  mkdirSync(path.dirname(file), { recursive: true });
  await download.saveAs(file);
  // Wireshark's reading of it: the two DHCP messages, checksums valid.
  const tshark = spawn('tshark', ['-r', file, '-o', 'udp.check_checksum:TRUE', '-o', 'ip.check_checksum:TRUE',
    '-Y', 'dhcp && !_ws.malformed && !_ws.expert.severity >= warning', '-T', 'fields', '-e', 'dhcp.option.dhcp']);
  let read = '';
  tshark.stdout.on('data', (d) => { read += d; });
  assert.equal(await new Promise((r) => tshark.on('close', r)), 0);
  assert.deepEqual(read.trim().split('\n'), ['3', '5']);
  await page.click('[data-testid=nav-lab]');
  await openCapture(page, file);
  assert.deepEqual(await captureRows(page), ['1:DHCPREQUEST', '2:DHCPACK']);
  assert.match(await page.innerText('[data-testid=capture-story]'), /02:00:00:00:0f:03 \(export-test\)/);
  await page.click('[data-testid=capture-row][data-number="2"]');
  const bound = /bound 192\.0\.2\.162/;
  assert.match(await textMatching(page, '[data-testid=capture-outcome]', bound), bound);
  await page.close();
});
