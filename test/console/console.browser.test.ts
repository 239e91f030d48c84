// The operations console in a real browser (Debian's chromium through playwright-core): the page's
// security headers, sign-in with the super-admin token (a refused token says why), the tenant table
// against the admin API in all three models, a hostile tenant name shown as text, a tenant's page,
// suspend and resume, a move followed to its end, and an export download.
// Run by `npm run test:console` (jest.console.config.cjs), on Fastify and on Express.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import type { Page } from 'playwright-core';
import { launchChromium, startConsoleService, type ConsoleBrowser, type ConsoleService } from './console-browser';

// What the functions passed to page.evaluate use: the browser's globals (the tests' tsconfig has no DOM library).
declare const window: any, document: any, sessionStorage: any, MutationObserver: any;

const TENANTS = [
  { id: 'acme', name: 'Acme Corp', tier: 'enterprise' },
  { id: 'widget', name: 'Widget Ltd', tier: 'pro' },
  { id: 'gadget', name: 'Gadget Inc', tier: 'free' },
];
const HOSTILE_NAME = `<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>"'&amp;`;
const WAIT = { timeout: 60_000 };

interface ListedTenant {
  id: string;
  name: string;
  tier: string | null;
  strategy: string;
  status: string;
  sizeBytes: number | null;
}

/** Retries `check` until it passes (the page refreshes every 5 s) or `ms` have gone, then throws its last failure. */
async function eventually(check: () => Promise<void>, ms = 20_000): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > until) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

describe('the operations console in Chromium', () => {
  let s: ConsoleService;
  let browser: ConsoleBrowser;
  let page: Page;
  const pageErrors: string[] = [];
  const cspViolations: string[] = [];

  const api = async (method: string, path: string, body?: object) => {
    const res = await fetch(`${s.baseUrl}${path}`, {
      method,
      headers: { Authorization: `Bearer ${s.adminToken}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    assert.ok(res.ok, `${method} ${path}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : undefined;
  };
  const listed = async (): Promise<ListedTenant[]> => (await api('GET', '/admin/tenants')).items;
  const row = (id: string) => page.locator(`#tenants tbody tr[data-tenant="${id}"]`);
  /** What the page's own formatter makes of a figure (the module the table uses, loaded as the page loads it). */
  // A string, not a function: the test's compiler would turn the function's import() into a require.
  const formatted = (fn: string, value: unknown): Promise<string> =>
    page.evaluate(`import('/admin/console/format.js').then((m) => m[${JSON.stringify(fn)}](${JSON.stringify(value)}))`);

  async function createUsers(tenant: string, n: number) {
    for (let i = 0; i < n; i++) {
      const res = await fetch(`${s.baseUrl}/users`, {
        method: 'POST',
        headers: { 'X-Tenant-ID': tenant, 'Content-Type': 'application/json' },
        body: JSON.stringify({ email: `user${i}@${tenant}.test`, name: `User ${i}` }),
      });
      assert.equal(res.status, 201, await res.text());
    }
  }

  async function signIn(token: string) {
    await page.locator('#token').fill(token);
    await page.locator('#token-form button[type=submit]').click();
  }

  beforeAll(async () => {
    s = await startConsoleService(TENANTS);
    await api('POST', '/admin/tenants', { id: 'hostile', name: HOSTILE_NAME, tier: 'free' });
    for (const t of ['acme', 'widget', 'gadget', 'hostile']) await createUsers(t, 3);
    browser = await launchChromium();
    page = await browser.context.newPage();
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.on('console', (msg) => {
      if (/Content Security Policy/i.test(msg.text())) cspViolations.push(msg.text());
    });
    page.on('dialog', (dialog) => void dialog.accept());
  });
  afterAll(async () => {
    await browser?.close();
    await s?.t.close();
  });

  it('serves the page with its security headers and asks for the token, which never goes into a URL', async () => {
    const res = await page.goto(`${s.baseUrl}/admin/console`);
    assert.ok(res);
    assert.equal(res.status(), 200);
    const headers = res.headers();
    assert.match(headers['content-security-policy'], /script-src 'self'/);
    assert.doesNotMatch(headers['content-security-policy'], /unsafe-inline|unsafe-eval/);
    assert.match(headers['content-security-policy'], /frame-ancestors 'none'/);
    assert.equal(headers['x-frame-options'], 'DENY');
    assert.equal(headers['cache-control'], 'no-store');
    await page.locator('#sign-in').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#view').isVisible(), false);
    const requested: string[] = [];
    page.on('request', (r) => requested.push(r.url()));
    await signIn(s.adminToken);
    await row('acme').waitFor(WAIT);
    assert.ok(requested.some((u) => u.includes('/admin/tenants')));
    assert.ok(!requested.some((u) => u.includes(s.adminToken)), 'the token went into a URL');
    assert.equal(await page.evaluate(() => sessionStorage.length), 1);
  });

  it('shows every tenant as the API lists it: model, tier, status, size', async () => {
    const tenants = await listed();
    assert.deepEqual(new Set(tenants.map((t) => t.strategy)), new Set(['shared', 'schema', 'database']));
    await page.waitForFunction((n) => document.querySelectorAll('#tenants tbody tr').length === n, tenants.length, WAIT);
    for (const t of tenants) {
      const r = row(t.id);
      assert.equal(await r.locator('.tenant-id').textContent(), t.id);
      assert.equal(await r.locator('.tenant-name').textContent(), t.name);
      assert.equal(await r.locator('[data-col=strategy]').textContent(), await formatted('model', t.strategy));
      assert.equal(await r.locator('[data-col=tier]').textContent(), t.tier ?? '—');
      assert.equal(await r.locator('[data-col=status] .badge').textContent(), t.status);
      assert.notEqual(t.sizeBytes, null, `${t.id} has a size`);
    }
    // Sizes on disk may move a little between two reads (PostgreSQL's own files): the page shows what the API says within a refresh.
    await eventually(async () => {
      for (const t of await listed())
        assert.equal(await row(t.id).locator('[data-col=size]').textContent(), await formatted('bytes', t.sizeBytes), t.id);
    });
  });

  it("shows each tenant's cost this month as GET /admin/usage gives it, and its noisy flag", async () => {
    // The page asks for the month's usage every 30 s.
    await eventually(async () => {
      const usage = await api('GET', '/admin/usage?period=month');
      assert.equal(usage.tenants.length, (await listed()).length);
      for (const u of usage.tenants) {
        const money = await page.evaluate(
          `import('/admin/console/format.js').then((m) => m.money(${JSON.stringify(u.cost.total)}, ${JSON.stringify(usage.prices.currency)}))`,
        );
        assert.equal(await row(u.tenantId).locator('[data-col=cost]').textContent(), money, u.tenantId);
      }
    }, 45_000);
    const noisy = await api('GET', '/admin/tenants/noisy?seconds=300');
    for (const t of await listed()) {
      const flagged = noisy.tenants.some((n: { tenantId: string }) => n.tenantId === t.id);
      assert.equal(await row(t.id).locator('[data-col=noisy]').textContent(), flagged ? 'noisy' : 'no', t.id);
    }
  });

  it('shows a hostile tenant name as text: nothing of it runs or becomes an element', async () => {
    assert.equal(await row('hostile').locator('.tenant-name').textContent(), HOSTILE_NAME);
    assert.equal(await page.locator('#tenants img, #tenants script').count(), 0);
    await page.locator('#tenants a.tenant-id', { hasText: 'hostile' }).click();
    await page.locator('.tenant-page[data-tenant="hostile"] .page-head p').filter({ hasText: 'onerror' }).waitFor(WAIT);
    assert.equal(await page.locator('.tenant-page .page-head p').textContent(), HOSTILE_NAME);
    assert.equal(await page.locator('main img, main script').count(), 0);
    assert.equal(await page.evaluate(() => window.__xss), undefined);
    await page.goto(`${s.baseUrl}/admin/console#/`);
    await row('acme').waitFor(WAIT);
  });

  it("shows a tenant's page: where it lives, its rows, its migrations", async () => {
    await page.locator('#tenants a.tenant-id', { hasText: 'widget' }).click();
    const facts = page.locator('.tenant-page [data-slot=facts]');
    await facts.getByText('schema (bridge)').waitFor(WAIT);
    await facts.getByText('users 3').waitFor(WAIT);
    const migrations = await api('GET', '/admin/tenants/widget/migrations');
    assert.equal(migrations.targets.length, 1);
    assert.equal(migrations.targets[0].status, 'current');
    const cells = page.locator('.tenant-page [data-slot=migrations] tbody tr td');
    await cells.filter({ hasText: migrations.latest }).first().waitFor(WAIT);
    assert.equal(await page.locator('.tenant-page [data-slot=migrations] .badge').textContent(), 'current');
    await page.locator('.tenant-page a.back').click();
    await row('widget').waitFor(WAIT);
  });

  it('suspends a tenant (its requests get 403) and resumes it', async () => {
    await row('widget').locator('button[data-action=suspend]').click();
    await row('widget').locator('.badge.status-suspended').waitFor(WAIT);
    assert.equal((await listed()).find((t) => t.id === 'widget')?.status, 'suspended');
    assert.equal((await fetch(`${s.baseUrl}/users`, { headers: { 'X-Tenant-ID': 'widget' } })).status, 403);
    await row('widget').locator('button[data-action=resume]').click();
    await row('widget').locator('.badge.status-active').waitFor(WAIT);
    assert.equal((await listed()).find((t) => t.id === 'widget')?.status, 'active');
    assert.equal((await fetch(`${s.baseUrl}/users`, { headers: { 'X-Tenant-ID': 'widget' } })).status, 200);
  });

  it('moves a tenant to another model, shows its progress, and sees it finish', async () => {
    const before = await (await fetch(`${s.baseUrl}/users`, { headers: { 'X-Tenant-ID': 'gadget' } })).json();
    // Every text the row's move line shows, as the page shows it.
    await page.evaluate(() => {
      const seen: string[] = (window.__moveTexts = []);
      const cell = document.querySelector('#tenants tr[data-tenant="gadget"] .move-detail')!;
      new MutationObserver(() => seen.push(cell.textContent ?? '')).observe(cell, { childList: true, characterData: true, subtree: true });
    });
    await row('gadget').locator('button[data-action=move]').click();
    await page.locator('#move-dialog').waitFor({ state: 'visible' });
    await page.locator('#move-strategy').selectOption('schema');
    await page.locator('#move-submit').click();
    await row('gadget').locator('.move-detail', { hasText: 'moved to schema' }).waitFor(WAIT);
    await row('gadget').locator('[data-col=strategy]', { hasText: 'schema (bridge)' }).waitFor(WAIT);
    const texts: string[] = await page.evaluate(() => window.__moveTexts);
    assert.ok(
      texts.some((t) => t.startsWith('→ schema')),
      `the move's progress was shown: ${JSON.stringify(texts)}`,
    );
    const after = (await listed()).find((t) => t.id === 'gadget');
    assert.equal(after?.strategy, 'schema');
    assert.equal(after?.status, 'active');
    const rows = await (await fetch(`${s.baseUrl}/users`, { headers: { 'X-Tenant-ID': 'gadget' } })).json();
    assert.deepEqual(rows, before, 'the moved tenant serves the same rows');
  });

  it('refuses a move the API refuses, and says why in the dialog', async () => {
    await row('acme').locator('button[data-action=move]').click();
    await page.locator('#move-strategy').selectOption('database');
    await page.locator('#move-tier').fill('no-such-tier');
    await page.locator('#move-submit').click();
    await page.locator('#move-error').filter({ hasText: /4\d\d/ }).waitFor(WAIT);
    await page.locator('#move-cancel').click();
    assert.equal((await listed()).find((t) => t.id === 'acme')?.strategy, 'database');
  });

  it('exports a tenant as an NDJSON download', async () => {
    const [download] = await Promise.all([page.waitForEvent('download', WAIT), row('acme').locator('button[data-action=export]').click()]);
    assert.equal(download.suggestedFilename(), 'acme.ndjson');
    const lines = readFileSync((await download.path())!, 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.equal(lines[0].type, 'tenant');
    assert.equal(lines[0].tenant.id, 'acme');
    const users = (await (await fetch(`${s.baseUrl}/users`, { headers: { 'X-Tenant-ID': 'acme' } })).json()) as { items: unknown[] };
    const exported = lines.filter((l) => l.table === 'users');
    assert.equal(exported.length, users.items.length, JSON.stringify(lines.slice(0, 3)));
  });

  it('says why a token is refused: 403 without the super_admin role, 401 for a bad one', async () => {
    await page.locator('#sign-out').click();
    await page.locator('#sign-in').waitFor({ state: 'visible' });
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    await signIn(await s.sign({ sub: 'u1', tenant_id: 'acme', role: 'admin' }));
    await page.locator('#sign-in-error', { hasText: '403' }).waitFor(WAIT);
    assert.match((await page.locator('#sign-in-error').textContent()) ?? '', /super_admin/);
    await signIn('not-a-token');
    await page.locator('#sign-in-error', { hasText: '401' }).waitFor(WAIT);
    assert.equal(await page.evaluate(() => sessionStorage.length), 0, 'a refused token is forgotten');
  });

  it('ran without a script error or a Content-Security-Policy violation', () => {
    assert.deepEqual(pageErrors, []);
    assert.deepEqual(cspViolations, []);
  });
});
