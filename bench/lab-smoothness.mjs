// How smooth the lab stays on a big classroom network, in headless Chromium on this machine.
//
//   scripts/build-web && cargo build -p dhcplab-server && node bench/lab-smoothness.mjs
//   SECONDS=20 node bench/lab-smoothness.mjs
//
// 1. `crowd` (100 clients and a server on one link, every client drawn) plays at full speed, each step
//    animating its packet (a broadcast's trail to the whole crowd): frames per second from
//    requestAnimationFrame, frame intervals p50/p95/max, long tasks (> 50 ms of main-thread work).
// 2. `crowd-1000` (1,000 clients) opens: how long until its length is known, with the page's frames and long
//    tasks meanwhile (the work is done between frames, its progress shown); then 100 steps by the Step button,
//    timed, with the frames and long tasks while stepping.
// The daemon only serves the page (loopback demo). Run it by hand; CI runs the functional checks.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from '../tests/browser/node_modules/playwright-core/index.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = process.env.DHCPLAB_BIN ?? path.join(root, 'target/debug/dhcplab');
const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const SECONDS = Number(process.env.SECONDS ?? 10);
const die = (m) => { console.error(`bench: ${m}`); process.exit(1); };
if (!existsSync(bin)) die(`no daemon at ${bin}: cargo build -p dhcplab-server`);
if (!existsSync(path.join(root, 'dist/index.html'))) die('web app not built: scripts/build-web');

const freePort = () => new Promise((res) => { const s = net.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => res(p)); }); });
const httpPort = await freePort();
const daemon = spawn(bin, ['demo', '--http', `127.0.0.1:${httpPort}`, '--port', String(await freePort()),
  '--clients', '1', '--web-root', path.join(root, 'dist')], { stdio: 'ignore' });
process.on('exit', () => daemon.kill());
const base = `http://127.0.0.1:${httpPort}`;
for (let i = 0; ; i++) {
  try { if ((await fetch(`${base}/healthz`)).ok) break; } catch {}
  if (i > 200) die('the daemon did not start');
  await new Promise((r) => setTimeout(r, 100));
}

// Starts recording frames and long tasks in the page; the returned function stops and summarises.
async function record(page) {
  await page.evaluate(() => {
    window.__rec = { frames: [], longs: [], on: true };
    const r = window.__rec;
    r.obs = new PerformanceObserver((l) => l.getEntries().forEach((e) => r.longs.push(e.duration)));
    r.obs.observe({ type: 'longtask', buffered: false });
    let last = performance.now();
    const loop = (t) => { r.frames.push(t - last); last = t; if (r.on) requestAnimationFrame(loop); };
    requestAnimationFrame(loop);
    r.t0 = performance.now();
  });
  return async () => {
    const r = await page.evaluate(() => {
      const r = window.__rec; r.on = false; r.obs.disconnect();
      return { frames: r.frames.slice(1), longs: r.longs, ms: performance.now() - r.t0 };
    });
    const f = [...r.frames].sort((a, b) => a - b);
    const q = (p) => (f.length ? f[Math.min(f.length - 1, Math.floor(p * f.length))] : 0).toFixed(1);
    return `${(f.length / (r.ms / 1000)).toFixed(1)} fps over ${(r.ms / 1000).toFixed(1)} s; frame interval p50 ${q(0.5)} ms, ` +
      `p95 ${q(0.95)} ms, max ${(f[f.length - 1] ?? 0).toFixed(0)} ms; long tasks ${r.longs.length} ` +
      `(max ${Math.max(0, ...r.longs).toFixed(0)} ms)`;
  };
}

const browser = await chromium.launch({ executablePath: chromiumPath,
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-sync'] });
const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });

// 1. A hundred clients, playing.
await page.goto(`${base}/#s=crowd&seed=1&step=0`);
await page.waitForSelector('[data-testid=topology]');
const dots = await page.$$eval('[data-testid=topology] circle.dot', (d) => d.length);
await page.$eval('[data-testid=speed]', (e) => { e.value = '20'; e.dispatchEvent(new Event('change', { bubbles: true })); });
await page.click('[data-testid=play]');
const stop1 = await record(page);
const shown0 = await page.innerText('[data-testid=step-count]');
await page.waitForTimeout(SECONDS * 1000);
const r1 = await stop1();
const shown1 = await page.innerText('[data-testid=step-count]');
console.log(`crowd (${dots} clients drawn), playing at 20×, steps ${shown0} → ${shown1}: ${r1}`);
await page.screenshot({ path: path.join(root, 'tests/artifacts/lab-crowd-100.png') });

// 2. A thousand clients: opening (the length worked out between frames), then stepping.
await page.goto(`${base}/#s=dora&seed=1&step=0`);
await page.waitForSelector('[data-testid=scenario-select]');
const stop2 = await record(page);
const t0 = Date.now();
await page.selectOption('[data-testid=scenario-select]', 'crowd-1000');
const sawProgress = await page.waitForSelector('[data-testid=counting]', { timeout: 5000 }).then(() => true, () => false);
await page.waitForFunction(() => !document.querySelector('[data-testid=counting]'), null, { timeout: 120000, polling: 50 });
const counted = Date.now() - t0;
const r2 = await stop2();
console.log(`crowd-1000 opened, length ${await page.innerText('[data-testid=step-count]')} known after ${counted} ms ` +
  `(progress shown: ${sawProgress}): ${r2}`);
const stop3 = await record(page);
const t1 = Date.now();
for (let i = 0; i < 100; i++) await page.click('[data-testid=step]');
const stepMs = Date.now() - t1;
const r3 = await stop3();
console.log(`crowd-1000, 100 steps by the Step button: ${(stepMs / 100).toFixed(1)} ms a step (click to next click); ${r3}`);
await page.screenshot({ path: path.join(root, 'tests/artifacts/lab-crowd-1000.png'), fullPage: true });
await browser.close();
process.exit(0);
