// Run by tests/tests/dashboard_browser.rs inside the daemon's network namespace (never on its own): opens
// the dashboard the daemon serves and reports, through files in STATE_DIR, what a user would see while a real
// dhclient in another namespace binds and releases. Usage: node dashboard-netns.helper.mjs BASE STATE_DIR ARTIFACTS
import { renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

const [base, state, artifacts] = process.argv.slice(2);
const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
// Written aside and renamed into place: the test polls for the file and must never read half of it.
const report = (name, value) => {
  writeFileSync(path.join(state, `${name}.tmp`), JSON.stringify(value));
  renameSync(path.join(state, `${name}.tmp`), path.join(state, name));
};
const problems = [];

const browser = await chromium.launch({
  executablePath: chromiumPath,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on('dialog', (d) => { problems.push(`a dialog opened: ${d.message()}`); d.dismiss(); });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  await page.goto(`${base}/#dashboard`);
  await page.waitForSelector('[data-testid=ws-status]:has-text("connected")', { timeout: 15000 });
  report('ready', { rows: await page.$$eval('[data-testid=lease-row]', (r) => r.length),
    empty: await page.innerText('[data-testid=no-leases]') });

  const row = page.locator('[data-testid=lease-row][data-state=bound]').first();
  await row.waitFor({ timeout: 60000 });
  const bound = {
    ip: await row.getAttribute('data-ip'),
    mac: await row.getAttribute('data-mac'),
    host: await row.locator('[data-testid=lease-host]').innerText(),
    imgs: await page.$$eval('img', (i) => i.length),
    // What the toolbar and the row offer: a daemon has admin actions, a watched link (`dhcplab watch`) none.
    watching: await page.locator('[data-testid=watching]').count() ? await page.innerText('[data-testid=watching]') : null,
    token: await page.locator('[data-testid=admin-token]').count(),
    actions: await row.locator('button').evaluateAll((b) => b.map((x) => x.dataset.testid)),
    class: await row.locator('[data-testid=lease-class]').count() ? await row.locator('[data-testid=lease-class]').innerText() : null,
  };
  await page.screenshot({ path: path.join(artifacts, 'dashboard-netns-bound.png'), fullPage: true });
  report('bound', bound);

  await page.locator(`[data-testid=lease-row][data-ip="${bound.ip}"][data-state=released]`).waitFor({ timeout: 60000 });
  await page.click(`[data-testid=lease-row][data-ip="${bound.ip}"] [data-testid=lease-follow]`);
  const flow = await page.$$eval('[data-testid=flow-row]', (r) => r.map((x) => x.dataset.msg));
  const lanes = await page.$$eval('[data-testid=lifeline]', (l) => l.map((x) => x.textContent));
  // The DISCOVER in the inspector: the vendor class the client sent, as text.
  await page.click('[data-testid=flow-row][data-msg=DHCPDISCOVER]');
  const fields = await page.$$eval('[data-testid=field]', (f) => f.map((x) => x.innerText));
  const vendor = fields.find((f) => f.startsWith('Option: (60)')) ?? `no option 60 among: ${fields.join(' | ')}`;
  await page.screenshot({ path: path.join(artifacts, 'dashboard-netns.png'), fullPage: true });
  // At a phone's width nothing may stick out sideways: the page scrolls down, never across.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(300);
  // Nor the lease table inside its own box.
  const phone = await page.evaluate(() => {
    const table = document.querySelector('.leases.live')?.closest('.tablewrap');
    return { width: window.innerWidth, scroll: document.documentElement.scrollWidth,
      table_width: table?.clientWidth ?? -1, table_scroll: table?.scrollWidth ?? -1 };
  });
  await page.screenshot({ path: path.join(artifacts, 'dashboard-netns-phone.png'), fullPage: true });
  report('result', { ...bound, flow, lanes, vendor, phone, imgsAfter: await page.$$eval('img', (i) => i.length), problems });
} catch (e) {
  report('result', { error: String(e), problems });
} finally {
  await browser.close();
}
