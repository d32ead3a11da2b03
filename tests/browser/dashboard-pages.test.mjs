// The dashboard on a daemon holding more leases than one snapshot carries: the daemon serves the lease
// table page by page (GET /api/leases with a Link header) and the browser holds one page. Loopback only:
// the daemon serves no network interface, its leases come from an imported dnsmasq lease file.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, existsSync, openSync, writeFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { chromium } from 'playwright-core';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const artifacts = path.join(root, 'tests/artifacts');
const bin = process.env.DHCPLAB_BIN ?? path.join(root, 'target/debug/dhcplab');
const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
// More than the snapshot's 5,000 (dhcplab_engine::bridge::SNAPSHOT_MAX_LEASES), and more than one request
// examines when it searches (PAGE_SCAN_BUDGET, 16,384): the last lease is found only by following the daemon.
const LEASES = 70000;

let daemon, browser, base, dir;

const freePort = () => new Promise((resolve) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
});
const ipOf = (i) => `10.${64 + Math.floor((i + 1) / 65536)}.${Math.floor((i + 1) / 256) % 256}.${(i + 1) % 256}`;

before(async () => {
  assert.ok(existsSync(bin), `dhcplab binary not found at ${bin}: run cargo build -p dhcplab-server`);
  assert.ok(existsSync(chromiumPath), `Chromium not found at ${chromiumPath}: run scripts/setup`);
  mkdirSync(artifacts, { recursive: true });
  dir = mkdtempSync(path.join(os.tmpdir(), 'dhcplab-pages-'));
  const port = await freePort();
  writeFileSync(path.join(dir, 'dhcplab.toml'), `[dhcp]\nlease_db = "leases.sqlite3"\n[http]\nlisten = "127.0.0.1:${port}"\n` +
    `[[subnet]]\ncidr = "10.64.0.0/12"\npools = ["10.64.0.1-10.79.255.254"]\n`);
  const ends = Math.floor(Date.now() / 1000) + 86400;
  const lines = [];
  for (let i = 0; i < LEASES; i++) {
    const mac = [2, 0, (i >> 16) & 255, (i >> 8) & 255, i & 255, 7].map((b) => b.toString(16).padStart(2, '0')).join(':');
    lines.push(`${ends} ${mac} ${ipOf(i)} host-${i} *`);
  }
  writeFileSync(path.join(dir, 'leases.txt'), lines.join('\n') + '\n');
  execFileSync(bin, ['leases', 'import', '--config', path.join(dir, 'dhcplab.toml'), '--from', 'dnsmasq', path.join(dir, 'leases.txt')]);
  const log = openSync(path.join(artifacts, 'daemon-pages.log'), 'w');
  daemon = spawn(bin, ['serve', '--config', path.join(dir, 'dhcplab.toml'), '--web-root', path.join(root, 'dist')],
    { stdio: ['ignore', log, log] });
  base = `http://127.0.0.1:${port}`;
  const end = Date.now() + 20000;
  for (;;) {
    try { if ((await fetch(`${base}/healthz`)).ok) break; } catch {}
    assert.ok(Date.now() < end, 'the daemon did not become healthy');
    await new Promise((r) => setTimeout(r, 100));
  }
  browser = await chromium.launch({ executablePath: chromiumPath,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-sync'] });
});

after(async () => {
  await browser?.close();
  daemon?.kill('SIGKILL');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('GET /api/leases serves a page and links the next one', async () => {
  const r = await fetch(`${base}/api/leases?q=host-1&limit=3`);
  const page = await r.json();
  assert.deepEqual(page.map((l) => l.hostname), ['host-1', 'host-10', 'host-11']);
  assert.equal(r.headers.get('link'), `</api/leases?q=host-1&limit=3&after=${ipOf(11)}>; rel="next"`);
  const all = await (await fetch(`${base}/api/leases`)).json();
  assert.equal(all.length, 1000, 'a page of 1,000 unless asked otherwise');
  assert.equal((await fetch(`${base}/api/leases?limit=10001`)).status, 400);
});

test('the first /ws message carries a page of leases and the total, not the whole table', async () => {
  // In the browser (Node 20 has no WebSocket), from the daemon's own origin.
  const page = await browser.newPage();
  await page.goto(`${base}/healthz`);
  const first = await page.evaluate((url) => new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.onmessage = (m) => { ws.close(); resolve(JSON.parse(m.data)); };
    ws.onerror = () => reject(new Error('no WebSocket'));
  }), `${base.replace('http', 'ws')}/ws`);
  await page.close();
  assert.equal(first.type, 'snapshot');
  assert.equal(first.leases_total, LEASES);
  assert.equal(first.leases.length, 5000);
});

test('the dashboard pages through the daemon, searches there, and says so', async () => {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const problems = [];
  page.on('pageerror', (e) => problems.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
  await page.goto(`${base}/#dashboard`);
  await page.waitForSelector('[data-testid=daemon-pages]', { timeout: 20000 });
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=lease-row]').length === 100);
  const ips = () => page.$$eval('[data-testid=lease-row]', (r) => r.map((x) => x.dataset.ip));
  assert.equal((await ips())[0], ipOf(0));
  assert.match(await page.innerText('section.card h2 >> nth=-1'), new RegExp(`\\(${LEASES}\\)`));
  // No client has spoken to this daemon: its event feed says so rather than showing an empty card.
  assert.match(await page.innerText('[data-testid=dashboard]'), /No lease events yet\./);
  await page.click('[data-testid=lease-next]');
  await page.waitForFunction((ip) => document.querySelector('[data-testid=lease-row]')?.dataset.ip === ip, ipOf(100));
  assert.equal(await page.innerText('[data-testid=lease-page]'), 'Page 2');
  await page.click('[data-testid=lease-prev]');
  await page.waitForFunction((ip) => document.querySelector('[data-testid=lease-row]')?.dataset.ip === ip, ipOf(0));
  // The last lease, beyond what one search request examines: the page follows the daemon until it has it.
  await page.fill('[data-testid=lease-search]', `host-${LEASES - 1}`);
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=lease-row]').length === 1);
  assert.equal((await ips())[0], ipOf(LEASES - 1));
  assert.equal(await page.innerText('[data-testid=lease-host]'), `host-${LEASES - 1}`);
  await page.screenshot({ path: path.join(artifacts, 'dashboard-pages.png'), fullPage: true });
  assert.deepEqual(problems, []);
  await page.close();
});
