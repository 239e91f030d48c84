// `npm run console:screenshot`: docs/console.png, the operations console over a small demo fleet
// (tenants in all three models, one suspended) after a few minutes of real traffic through the
// service (a load per tenant that swells and ebbs, one tenant far louder than the rest, a few
// requests for rows that do not exist),
// taken in Debian's chromium. Uses TEST_DATABASE_URL when set, else a throwaway embedded PostgreSQL.
// TRAFFIC_SECONDS (default 180) sets how long the traffic runs before the picture; with
// TENANT_SCREENSHOT=<file.png>, the busiest tenant's page is taken too, into that file.
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import globalSetup from '../jest/global-setup';
import globalTeardown from '../jest/global-teardown';
import { repoRoot } from '../support/repo-root';
import { launchChromium, startConsoleService } from './console-browser';

const FLEET = [
  { id: 'acme', name: 'Acme Corporation', tier: 'enterprise', perSecond: 5 },
  { id: 'globex', name: 'Globex', tier: 'enterprise', perSecond: 3 },
  { id: 'initech', name: 'Initech', tier: 'pro', perSecond: 2 },
  { id: 'umbrella', name: 'Umbrella Health', tier: 'pro', perSecond: 2 },
  { id: 'hooli', name: 'Hooli', tier: 'free', perSecond: 30 },
  { id: 'pied-piper', name: 'Pied Piper', tier: 'free', perSecond: 1 },
  { id: 'vandelay', name: 'Vandelay Industries', tier: 'free', perSecond: 0 },
];

async function main(): Promise<void> {
  const seconds = Number(process.env.TRAFFIC_SECONDS ?? 180);
  await globalSetup();
  const service = await startConsoleService(FLEET.map(({ id, name, tier }) => ({ id, name, tier })));
  const browser = await launchChromium({ width: 1440, height: 1024 });
  try {
    const { baseUrl, adminToken } = service;
    const send = (tenant: string, path: string, body?: object) =>
      fetch(`${baseUrl}${path}`, {
        method: body ? 'POST' : 'GET',
        headers: { 'X-Tenant-ID': tenant, ...(body ? { 'Content-Type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      }).then((r) => r.arrayBuffer());
    // Some rows in every tenant, so sizes and exports differ.
    for (const [n, t] of FLEET.entries()) {
      for (let i = 0; i < 5 + n * 7; i++) await send(t.id, '/users', { email: `u${i}@${t.id}.example`, name: `User ${i}` });
    }
    await fetch(`${baseUrl}/admin/tenants/vandelay/suspend`, { method: 'POST', headers: { Authorization: `Bearer ${adminToken}` } });

    console.log(`traffic for ${seconds} s...`);
    const until = Date.now() + seconds * 1000;
    let sent = 0;
    const pending = new Set<Promise<unknown>>();
    await Promise.all(
      FLEET.filter((t) => t.perSecond > 0).map(async (t) => {
        for (let tick = 0; Date.now() < until; tick++) {
          // The load swells and ebbs over a few minutes, differently for each tenant; each second's
          // requests are spread over the second.
          const rate = Math.max(1, Math.round(t.perSecond * (1 + 0.5 * Math.sin(tick / 30 + t.id.length))));
          for (let i = 0; i < rate; i++) {
            const request =
              (tick + i) % 97 === 3
                ? send(t.id, `/users/${randomUUID()}`) // a 404 now and then
                : i % 5 === 0
                  ? send(t.id, '/users', { email: `${randomUUID()}@${t.id}.example`, name: 'Load' })
                  : send(t.id, '/users?limit=20');
            pending.add(request);
            void request.then(
              () => pending.delete(request),
              () => pending.delete(request),
            );
            sent++;
            await new Promise((r) => setTimeout(r, 1000 / rate));
          }
        }
      }),
    );
    await Promise.all(pending);
    console.log(`sent ${sent} requests`);

    const page = await browser.context.newPage();
    await page.goto(`${baseUrl}/admin/console`);
    await page.locator('#token').fill(adminToken);
    await page.locator('#token-form button[type=submit]').click();
    await page.locator('#tenants tbody tr[data-tenant="acme"]').waitFor({ timeout: 60_000 });
    await page.locator('.chart-svg').waitFor({ timeout: 60_000 });
    // The next refresh, so every figure has come in.
    await page.waitForTimeout(6000);
    const file = join(repoRoot(), 'docs', 'console.png');
    mkdirSync(join(repoRoot(), 'docs'), { recursive: true });
    await page.screenshot({ path: file, fullPage: true });
    console.log(`wrote ${file}`);
    const tenantShot = process.env.TENANT_SCREENSHOT;
    if (tenantShot) {
      await page.goto(`${baseUrl}/admin/console#/tenant/hooli`);
      await page.locator('.tenant-page [data-slot=usage] .chart-svg').first().waitFor({ timeout: 60_000 });
      await page.waitForTimeout(1000);
      await page.screenshot({ path: tenantShot, fullPage: true });
      console.log(`wrote ${tenantShot}`);
    }
  } finally {
    await browser.close();
    await service.t.close();
    await globalTeardown();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
