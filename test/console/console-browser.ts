import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JWTPayload, SignJWT } from 'jose';
import { chromium, type BrowserContext } from 'playwright-core';
import type { TenantDefinition } from '../../libs/tenancy/src';
import { startTestApp, type TestApp } from '../support/test-app';

/** Debian's chromium (`apt-get install chromium`), which `.ci/run` installs. */
export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/** Headless, sandbox-free (a container's root), and quiet: no updates, sync or background traffic. */
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface ConsoleBrowser {
  context: BrowserContext;
  close(): Promise<void>;
}

/**
 * Chromium through playwright-core, on a new empty profile (`--user-data-dir`, which Playwright
 * passes for a persistent context) that `close` deletes.
 */
export async function launchChromium(viewport = { width: 1440, height: 1000 }): Promise<ConsoleBrowser> {
  const profile = mkdtempSync(join(tmpdir(), 'nt-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport,
    acceptDownloads: true,
    timeout: 60_000,
  });
  return {
    context,
    close: async () => {
      await context.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export interface ConsoleService {
  t: TestApp;
  /** `http://127.0.0.1:<port>` of the listening service. */
  baseUrl: string;
  /** A bearer token with the super_admin role. */
  adminToken: string;
  /** Signs a token with the service's secret. */
  sign(claims: JWTPayload): Promise<string>;
}

/** The reference service (as `npm start` wires it) listening on a free port of 127.0.0.1, with a JWT secret. */
export async function startConsoleService(tenants: TenantDefinition[]): Promise<ConsoleService> {
  const secret = `console-suite-secret-${Date.now()}-0123456789abcdef`;
  const t = await startTestApp({ tenants, env: { JWT_SECRET: secret } });
  await t.app.listen(0, '127.0.0.1');
  const { port } = t.app.getHttpServer().address() as AddressInfo;
  const sign = (claims: JWTPayload) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuedAt()
      .setExpirationTime('30m')
      .sign(new TextEncoder().encode(secret));
  return { t, baseUrl: `http://127.0.0.1:${port}`, adminToken: await sign({ sub: 'operator', role: 'super_admin' }), sign };
}
