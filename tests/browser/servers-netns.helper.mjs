// Run by tests/tests/shared_db.rs inside a daemon's network namespace (never on its own): opens the dashboard
// of one of two servers sharing a PostgreSQL lease database and reports, through files in STATE_DIR, what the
// servers card and the lease table show before and after the other server dies.
// Usage: node servers-netns.helper.mjs BASE STATE_DIR ARTIFACTS
import { renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

const [base, state, artifacts] = process.argv.slice(2);
// Written aside and renamed into place: the test polls for the file and must never read half of it.
const report = (name, value) => {
  writeFileSync(path.join(state, `${name}.tmp`), JSON.stringify(value));
  renameSync(path.join(state, `${name}.tmp`), path.join(state, name));
};
const problems = [];
const servers = (page) => page.$$eval('[data-testid=server]', (s) => s.map((x) => `${x.dataset.name}:${x.dataset.state}`));

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  await page.goto(`${base}/#dashboard`);
  await page.waitForSelector('[data-testid=server][data-state=up] >> nth=1', { timeout: 30000 });
  const row = page.locator('[data-testid=lease-row][data-state=bound]').first();
  await row.waitFor({ timeout: 60000 });
  report('up', { servers: await servers(page), made: await row.locator('[data-testid=lease-server]').innerText() });
  await page.waitForSelector('[data-testid=server][data-state=down]', { timeout: 60000 });
  await page.screenshot({ path: path.join(artifacts, 'dashboard-servers.png'), fullPage: true });
  report('result', { servers: await servers(page), problems });
} catch (e) {
  report('result', { error: String(e), problems });
} finally {
  await browser.close();
}
