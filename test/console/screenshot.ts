// `npm run console:screenshot`: docs/console.png, the operations console over a small demo fleet
// (tenants in all three models, one suspended) after a few minutes of real traffic through the
// service (a steady load per tenant, one tenant far louder than the rest, a few failing requests),
// taken in Debian's chromium. Uses TEST_DATABASE_URL when set, else a throwaway embedded PostgreSQL.
// TRAFFIC_SECONDS (default 180) sets how long the traffic runs before the picture.
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import globalSetup from '../jest/global-setup';
import globalTeardown from '../jest/global-teardown';
import { repoRoot } from '../support/repo-root';
import { launchChromium, startConsoleService } from './console-browser';

const FLEET = [
  { id: 'acme', name: 'Acme Corporation', tier: 'enterprise', perSecond: 12 },
  { id: 'globex', name: 'Globex', tier: 'enterprise', perSecond: 6 },
  { id: 'initech', name: 'Initech', tier: 'pro', perSecond: 4 },
  { id: 'umbrella', name: 'Umbrella Health', tier: 'pro', perSecond: 3 },
  { id: 'hooli', name: 'Hooli', tier: 'free', perSecond: 45 },
  { id: 'pied-piper', name: 'Pied Piper', tier: 'free', perSecond: 2 },
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
    await Promise.all(
      FLEET.filter((t) => t.perSecond > 0).map(async (t) => {
        for (let tick = 0; Date.now() < until; tick++) {
          const started = Date.now();
          // The load swells and ebbs over a few minutes, differently for each tenant.
          const rate = Math.max(1, Math.round(t.perSecond * (1 + 0.5 * Math.sin(tick / 20 + t.id.length))));
          await Promise.all(
            Array.from({ length: rate }, (_, i) =>
              i % 17 === 3
                ? send(t.id, `/users/${randomUUID()}`) // a 404 now and then
                : i % 5 === 0
                  ? send(t.id, '/users', { email: `${randomUUID()}@${t.id}.example`, name: 'Load' })
                  : send(t.id, '/users?limit=20'),
            ),
          );
          sent += rate;
          await new Promise((r) => setTimeout(r, Math.max(0, 1000 - (Date.now() - started))));
        }
      }),
    );
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
