// How smooth the dashboard stays with 10,000 leases and 2,000 events per second.
//
//   scripts/build-web && cargo build -p dhcplab-server && node bench/dashboard-smoothness.mjs
//   EVENTS_PER_SEC=4000 LEASES=20000 SECONDS=30 node bench/dashboard-smoothness.mjs
//   DASHBOARD=http://127.0.0.1:8067 LEASES=10000 node bench/dashboard-smoothness.mjs   # a running daemon
//                                   (bench/dashboard-live runs one under perfdhcp load, in namespaces)
//
// The daemon serves the page (loopback demo). The feed is synthetic so the rates are exact, but every message
// is made from a real one: the script first records what the daemon's own /ws sends (a lease, a packet with its
// payload, a stats message) and varies only addresses, MACs, xids and sequence numbers. If the format changes,
// the templates change with it, and the check that all leases show catches a dashboard that stops reading it.
//
// It reports, for an idle phase (10,000 leases, no events) and a loaded one: frame intervals (requestAnimationFrame)
// p50/p95/p99/max, the share of frames over 50 ms, long tasks (> 50 ms main-thread work), and the last sequence
// number the page shows against the last one sent.
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import http from 'node:http';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from '../tests/browser/node_modules/playwright-core/index.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = process.env.DHCPLAB_BIN ?? path.join(root, 'target/debug/dhcplab');
const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const LEASES = Number(process.env.LEASES ?? 10000);
const RATE = Number(process.env.EVENTS_PER_SEC ?? 2000);
const SECONDS = Number(process.env.SECONDS ?? 20);
const TICK_MS = 20;

const die = (m) => { console.error(`bench: ${m}`); process.exit(1); };
const browserArgs = ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-sync'];
const leasesShown = (n) => [...document.querySelectorAll('h2')].some((h) => / \(\d+\/(\d+)\)/.exec(h.textContent)?.[1] >= n);

// Frame intervals, long tasks and how far the page is behind, over `seconds`; `sent()` counts what the feed sent.
async function measure(page, label, seconds, sent = () => null) {
  const before = sent();
  const t0 = Date.now();
  const seqAt = () => page.$eval('.dash .toolbar .muted', (e) => Number(e.textContent.replace(/\D/g, '')));
  const seq0 = await seqAt();
  const r = await page.evaluate((ms) => new Promise((resolve) => {
    const frames = []; const longs = [];
    const obs = new PerformanceObserver((l) => l.getEntries().forEach((e) => longs.push(e.duration)));
    obs.observe({ type: 'longtask', buffered: false });
    let last = performance.now(); const end = last + ms;
    const loop = (t) => { frames.push(t - last); last = t; if (t < end) requestAnimationFrame(loop); else { obs.disconnect(); resolve({ frames, longs }); } };
    requestAnimationFrame(loop);
  }), seconds * 1000);
  const elapsed = (Date.now() - t0) / 1000;
  const seq1 = await seqAt();
  const f = r.frames.slice(1).sort((a, b) => a - b);
  const q = (p) => f[Math.min(f.length - 1, Math.floor(p * f.length))].toFixed(1);
  const heap = await page.evaluate(() => performance.memory ? Math.round(performance.memory.usedJSHeapSize / 1048576) : null);
  const feed = before === null ? `page received ${((seq1 - seq0) / elapsed).toFixed(0)} changes/s (seq ${seq0} → ${seq1})`
    : `events sent ${sent() - before} (${((sent() - before) / elapsed).toFixed(0)}/s), page at seq ${seq1} of ${sent()}`;
  console.log(`${label}: ${f.length} frames in ${elapsed.toFixed(1)} s (${(f.length / elapsed).toFixed(0)} fps); ` +
    `frame interval p50 ${q(0.5)} ms, p95 ${q(0.95)} ms, p99 ${q(0.99)} ms, max ${f[f.length - 1].toFixed(0)} ms; ` +
    `frames over 50 ms: ${(100 * f.filter((x) => x > 50).length / f.length).toFixed(1)} %; ` +
    `long tasks: ${r.longs.length}, ${r.longs.reduce((a, b) => a + b, 0).toFixed(0)} ms in all (max ${Math.max(0, ...r.longs).toFixed(0)} ms); ` +
    `${feed}; JS heap ${heap} MB`);
}

if (process.env.DASHBOARD) {
  // A running daemon: wait until it has LEASES leases, then measure while its own load runs.
  const browser = await chromium.launch({ executablePath: chromiumPath, args: browserArgs });
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  await page.goto(`${process.env.DASHBOARD}/#dashboard`);
  await page.waitForFunction(leasesShown, LEASES, { timeout: 600000, polling: 1000 })
    .catch(() => die(`the dashboard never showed ${LEASES} leases`));
  console.log(`live daemon ${process.env.DASHBOARD} with ≥ ${LEASES} leases, ${SECONDS} s`);
  await measure(page, 'live  ', SECONDS);
  await page.screenshot({ path: path.join(root, 'tests/artifacts/dashboard-live-load.png') });
  await browser.close();
  process.exit(0);
}
if (!existsSync(bin)) die(`no daemon at ${bin}: cargo build -p dhcplab-server`);
if (!existsSync(path.join(root, 'dist/index.html'))) die('web app not built: scripts/build-web');

const freePort = () => new Promise((res) => { const s = net.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => res(p)); }); });
const httpPort = await freePort();
const dhcpPort = await freePort();
const daemon = spawn(bin, ['demo', '--http', `127.0.0.1:${httpPort}`, '--port', String(dhcpPort),
  '--clients', '6', '--web-root', path.join(root, 'dist')], { stdio: 'ignore' });
const base = `http://127.0.0.1:${httpPort}`;
process.on('exit', () => daemon.kill());
for (let i = 0; ; i++) {
  try { if ((await fetch(`${base}/healthz`)).ok) break; } catch {}
  if (i > 200) die('the daemon did not start');
  await new Promise((r) => setTimeout(r, 100));
}

const browser = await chromium.launch({ executablePath: chromiumPath, args: browserArgs });

// 1. Real messages from the daemon's bridge, as templates.
const probe = await browser.newPage();
await probe.goto(`${base}/healthz`);
const recording = probe.evaluate((url) => new Promise((resolve, reject) => {
  const got = {};
  const ws = new WebSocket(url);
  ws.onmessage = (m) => {
    const v = JSON.parse(m.data);
    if (v.type === 'snapshot' && v.leases.length) got.snapshot ??= v;
    if (v.type === 'lease' && v.event.kind === 'bound') got.lease ??= v;
    if (v.type === 'packet') got.packet ??= v;
    if (v.type === 'stats') got.stats ??= v;
    if (got.snapshot && got.lease && got.packet && got.stats) { ws.close(); resolve(got); }
  };
  setTimeout(() => reject(new Error(`timed out; got ${Object.keys(got)}`)), 20000);
}), `ws://127.0.0.1:${httpPort}/ws`);
// A client asks for an address (INIT-REBOOT REQUEST, as a rebooting PC does): a packet and a lease event.
await new Promise((r) => setTimeout(r, 500));
const request = Buffer.alloc(300);
request.set([1, 1, 6], 0);
request.writeUInt32BE(0x6be4c001, 4);
request.set([2, 0, 0, 0xbe, 0x4c, 1], 28);
request.set([99, 130, 83, 99, 53, 1, 3, 50, 4, 192, 0, 2, 180, 255], 236);
const udp = dgram.createSocket('udp4');
await new Promise((r) => udp.send(request, dhcpPort, '127.0.0.1', r));
udp.close();
const templates = await recording.catch((e) => die(`recording templates: ${e.message}`));
await probe.close();

// 2. A synthetic network of LEASES leases in 10.0.0.0/16 made from the real lease.
const ipOf = (i) => `10.0.${(i >> 8) & 255}.${i & 255}`;
const macOf = (i) => `02:00:00:00:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
const subnet = '10.0.0.0/16';
const now = Date.now();
const lease0 = templates.snapshot.leases[0];
const leases = Array.from({ length: LEASES }, (_, i) => ({ ...lease0, ip: ipOf(i), subnet, hw: macOf(i),
  client: { hw: macOf(i) }, client_id: undefined, hostname: `host-${i}`, obtained: now, expires: now + 3600e3 }));
const usage = { cidr: subnet, pool_size: 65534, used: LEASES, free: 65534 - LEASES, declined: 0 };
const stats = structuredClone(templates.stats.stats);
stats.subnets = [usage];
stats.leases = stats.bound = LEASES;
let seq = 1;
const snapshot = JSON.stringify({ ...templates.snapshot, seq, leases, subnets: [usage], stats });
const payloadHex = templates.packet.packet.payload;
function message(n) {
  seq += 1;
  const i = Math.floor(Math.random() * LEASES);
  if (n % 3 === 0) {
    const ev = { ...templates.lease.event, ip: ipOf(i), subnet, hw: macOf(i), hostname: `host-${i}`,
      kind: 'renewed', at: Date.now(), obtained: Date.now(), expires: Date.now() + 3600e3 };
    return JSON.stringify({ type: 'lease', seq, event: ev });
  }
  const p = templates.packet.packet;
  const summary = { ...p.summary, xid: (seq * 2654435761) >>> 0, chaddr: macOf(i), yiaddr: ipOf(i) };
  return JSON.stringify({ type: 'packet', seq, packet: { ...p, at: Date.now(), summary, payload: payloadHex } });
}

// 3. The feed: a minimal WebSocket server (RFC 6455 text frames, server to client only), so the events reach
// the page over a real socket at the real rate. The dashboard is pointed at it with its daemon-URL field.
const clients = new Set();
const frame = (text) => {
  const body = Buffer.from(text);
  const n = body.length;
  const head = n < 126 ? Buffer.from([0x81, n]) : n < 65536 ? Buffer.from([0x81, 126, n >> 8, n & 255])
    : Buffer.concat([Buffer.from([0x81, 127]), (() => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(n)); return b; })()]);
  return Buffer.concat([head, body]);
};
const feed = http.createServer((_, res) => res.writeHead(426).end());
feed.on('upgrade', (req, sock) => {
  const accept = createHash('sha1').update(req.headers['sec-websocket-key'] + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
  sock.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
  sock.setNoDelay(true);
  sock.on('data', () => {});
  sock.on('error', () => clients.delete(sock));
  sock.on('close', () => clients.delete(sock));
  sock.write(frame(snapshot));
  clients.add(sock);
});
const feedPort = await freePort();
await new Promise((r) => feed.listen(feedPort, '127.0.0.1', r));
let sending = false;
let since = 0;
let sentSince = 0;
const broadcast = (text) => { const f = frame(text); for (const c of clients) c.write(f); };
// Paced by the clock, not by the timer's count, so the rate is exact even when a tick comes late.
const timer = setInterval(() => {
  if (!sending) { since = Date.now(); sentSince = 0; return; }
  const due = Math.floor(((Date.now() - since) * RATE) / 1000) - sentSince;
  for (let k = 0; k < due; k++) broadcast(message(seq));
  sentSince += Math.max(0, due);
}, TICK_MS);
const statsTimer = setInterval(() => { if (sending) { seq += 1; broadcast(JSON.stringify({ type: 'stats', seq, stats })); } }, 1000);

const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
await page.goto(`${base}/#dashboard`);
const connectAt = Date.now();
await page.fill('[data-testid=ws-url]', `ws://127.0.0.1:${feedPort}/ws`);
await page.press('[data-testid=ws-url]', 'Enter');
await page.locator('[data-testid=ws-url]').blur();
await page.waitForFunction(leasesShown, LEASES, { timeout: 30000 })
  .catch(async () => die(`the dashboard never showed ${LEASES} leases: has the /ws format changed? It shows: ` +
    (await page.$$eval('h2, [data-testid=ws-status], .toolbar .muted', (e) => e.map((x) => x.textContent).join(' | ')))));
const snapshotMs = Date.now() - connectAt;

console.log(`dashboard with ${LEASES} leases; ${RATE} events/s (2/3 packets with payload, 1/3 lease renewals), ${SECONDS} s per phase`);
console.log(`snapshot of ${LEASES} leases (${(snapshot.length / 1048576).toFixed(1)} MB of JSON) on screen ${snapshotMs} ms after connecting`);
await measure(page, 'idle  ', SECONDS, () => seq);
sending = true;
await measure(page, 'loaded', SECONDS, () => seq);
sending = false;
clearInterval(timer); clearInterval(statsTimer);
for (const c of clients) c.destroy();
feed.close();
await page.screenshot({ path: path.join(root, 'tests/artifacts/dashboard-load.png') });
await browser.close();
process.exit(0);
