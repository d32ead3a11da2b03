// How long the dashboard takes to open on a daemon that holds many leases: until it shows the pools' summary,
// the first page of leases, and the total; then a search the daemon answers, and the next page.
//
//   DASHBOARD=http://127.0.0.1:8067 LEASES=1000000 SEARCH=host-77777 node bench/dashboard-open.mjs
//
// bench/ceiling runs it against its million-lease daemon, inside the server's namespace. Each time is from the
// moment the page is asked for (or the search typed, or the button clicked) to the moment the page shows the
// result, in headless Chromium on the same machine as the daemon.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { mkdirSync } from 'node:fs';
import { chromium } from '../tests/browser/node_modules/playwright-core/index.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const base = process.env.DASHBOARD ?? 'http://127.0.0.1:8067';
const LEASES = Number(process.env.LEASES ?? 1000000);
const SEARCH = process.env.SEARCH ?? 'host-77777';
const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const browserArgs = ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-sync'];

const die = (m) => { console.error(`bench: ${m}`); process.exit(1); };
const browser = await chromium.launch({ executablePath: chromiumPath, args: browserArgs });
const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
const problems = [];
page.on('pageerror', (e) => problems.push(String(e)));
const since = (t0) => `${Date.now() - t0} ms`;
const wait = (what, fn, arg) => page.waitForFunction(fn, arg, { timeout: 60000, polling: 'raf' })
  .catch(() => die(`the dashboard never showed ${what}`));

const t0 = Date.now();
await page.goto(`${base}/#dashboard`);
await wait('the pools', () => document.querySelector('[data-testid=subnet-util]'));
const summary = since(t0);
await wait('a page of leases', () => document.querySelectorAll('[data-testid=lease-row]').length > 0);
const rows = since(t0);
await wait(`${LEASES} leases in all`, (n) => [...document.querySelectorAll('section.card h2')]
  .some((h) => h.textContent.replace(/\D/g, ' ').split(' ').includes(String(n))), LEASES);
const total = since(t0);
console.log(`open: pools shown after ${summary}, the first page of leases after ${rows}, the total (${LEASES}) after ${total}`);

const first = await page.$eval('[data-testid=lease-row]', (r) => r.dataset.ip);
const t1 = Date.now();
await page.click('[data-testid=lease-next]');
await wait('the next page', (ip) => document.querySelector('[data-testid=lease-row]')?.dataset.ip !== ip, first);
const next = since(t1);
const t2 = Date.now();
await page.fill('[data-testid=lease-search]', SEARCH);
await wait(`the lease named ${SEARCH}`, (h) => {
  const hosts = [...document.querySelectorAll('[data-testid=lease-host]')].map((e) => e.textContent);
  // The daemon matches the text anywhere (host-77777 finds host-777770 … too), in address order.
  return hosts.length > 0 && hosts[0] === h && hosts.every((x) => x.includes(h));
}, SEARCH);
console.log(`next page after ${next}; search for ${SEARCH} answered after ${since(t2)}`);
const heap = await page.evaluate(() => performance.memory ? Math.round(performance.memory.usedJSHeapSize / 1048576) : null);
console.log(`JS heap ${heap} MB${problems.length ? `; page errors: ${problems.join('; ')}` : ''}`);
mkdirSync(path.join(root, 'tests/artifacts'), { recursive: true });
await page.screenshot({ path: path.join(root, 'tests/artifacts/dashboard-million.png') });
await browser.close();
