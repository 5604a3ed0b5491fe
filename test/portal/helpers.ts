// What a portal test needs: a real pgwarden (cluster, gateway, API, embedded identity
// provider), the portal, and Debian's chromium driven by playwright-core.
//
// The portal runs on a second API server built from the same parts as pgwarden's own
// (buildApi with the portal plugin), because src/pgwarden.ts does not mount it yet; as
// soon as pgwarden's own API serves the portal, the tests use that instead.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { chromium, type Browser, type BrowserContext, type ConsoleMessage, type Page } from 'playwright-core';
import { buildApi, listenApi } from '../../src/api/server.js';
import { SessionStore } from '../../src/api/sessions.js';
import { AuditWriter } from '../../src/catalog/audit.js';
import type { AuthMethod } from '../../src/catalog/auth-method.js';
import { DEFAULT_AUDIENCES, type EntraConfig } from '../../src/identity/config.js';
import { TokenVerifier } from '../../src/identity/verify-token.js';
import { PORTAL_APPLICATION, portalPlugin, type PortalOptions } from '../../src/portal/index.js';
import { httpRequestJson } from '../../src/util/http-client.js';
import { createLogger } from '../../src/util/log.js';
import { startTestPgwarden, type TestPgwarden } from '../helpers/pgwarden.js';
import type { PgwardenOptions } from '../../src/pgwarden.js';

/** The application id the portal signs in as in the tests (registered in the embedded tenant). */
export const PORTAL_TEST_CLIENT_ID = PORTAL_APPLICATION.appId;

export interface PortalEnv {
  readonly pg: TestPgwarden;
  /** The portal's base URL, https://127.0.0.1:PORT */
  readonly url: string;
  readonly ca: string;
  destroy(): Promise<void>;
}

/** pgwarden with its embedded identity provider, and the portal. */
export async function startPortalEnv(options: { authMethod?: AuthMethod; pgwarden?: Partial<PgwardenOptions> } = {}): Promise<PortalEnv> {
  const pg = await startTestPgwarden({ authMethod: options.authMethod ?? 'both', ...options.pgwarden });
  let portal: PortalServer | undefined;
  try {
    await pg.idp!.directory.registerPublicClient(PORTAL_APPLICATION);
    const ca = readFileSync(pg.caPath, 'utf8');
    if (!(await servesPortal(pg.apiUrl, ca))) portal = await startPortalServer(pg, { entra: { clientId: PORTAL_TEST_CLIENT_ID } });
    const server = portal;
    return {
      pg,
      url: server?.url ?? pg.apiUrl,
      ca,
      destroy: async () => {
        await server?.close();
        await pg.destroy();
      },
    };
  } catch (e) {
    await portal?.close().catch(() => undefined);
    await pg.destroy().catch(() => undefined);
    throw e;
  }
}

export interface PortalServer {
  readonly url: string;
  close(): Promise<void>;
}

/** An API server with the portal, built from the parts of a running pgwarden, on port 0. */
export async function startPortalServer(pg: TestPgwarden, options: PortalOptions): Promise<PortalServer> {
  const idp = pg.idp!;
  const entra: EntraConfig = {
    authority: idp.authority,
    tenantId: idp.tenantId,
    audiences: DEFAULT_AUDIENCES,
    clockSkewSeconds: 60,
    ...(pg.tls.caPem ? { ca: pg.tls.caPem } : {}),
  };
  const log = createLogger({ file: join(pg.dataDir, 'logs', 'portal.log'), level: 'debug', stderrLevel: 'silent' });
  const pool = pg.cluster.gatewayPool();
  const audit = new AuditWriter(pool, log);
  const verifier = new TokenVerifier(entra);
  const app: FastifyInstance = await buildApi(
    {
      admin: pg.cluster,
      gatewaySecret: pg.cluster.gatewaySecret,
      tenantId: idp.tenantId,
      verifier,
      directory: { search: (q, types) => idp.directory.search(q, types) },
      audit,
      citusPasswordFile: pg.cluster.citusPasswordFile,
      log,
    },
    { tls: pg.tls, sessions: new SessionStore(), plugins: [portalPlugin(options)] },
  );
  app.addHook('onClose', async () => {
    await audit.flush();
    await pool.end();
    verifier.keys.close();
    await new Promise<void>((resolve) => log.flush(() => resolve()));
  });
  try {
    const address = await listenApi(app, '127.0.0.1', 0);
    return { url: `https://127.0.0.1:${address.port}`, close: () => app.close() };
  } catch (e) {
    await app.close();
    throw e;
  }
}

async function servesPortal(url: string, ca: string): Promise<boolean> {
  const r = await httpRequestJson(`${url}/portal/session`, { ca });
  return r.status === 200;
}

export const CHROMIUM = '/usr/bin/chromium';

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`the portal tests drive Debian's chromium at ${CHROMIUM}: apt-get install chromium (never a downloaded browser)`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

/** Page errors and console errors, which fail a test unless it expected them. */
export class PageErrors {
  readonly errors: string[] = [];
  private readonly allowed: RegExp[] = [];

  watch(page: Page): void {
    page.on('pageerror', (e) => this.errors.push(`pageerror: ${e.message}`));
    page.on('console', (m: ConsoleMessage) => {
      if (m.type() === 'error' && !this.allowed.some((re) => re.test(m.text()))) this.errors.push(`console.error: ${m.text()} (${m.location().url})`);
    });
  }

  /** A failure the test provokes on purpose (the browser logs the HTTP status of a
   * fetch); returns the function that ends the allowance. */
  allow(re: RegExp): () => void {
    this.allowed.push(re);
    return () => {
      const i = this.allowed.indexOf(re);
      if (i >= 0) this.allowed.splice(i, 1);
    };
  }
}

export async function newContext(browser: Browser, viewport = { width: 1280, height: 800 }): Promise<BrowserContext> {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport, reducedMotion: 'reduce', locale: 'en-US', timezoneId: 'UTC' });
  // A step that does not happen within this time will not happen.
  context.setDefaultTimeout(10_000);
  return context;
}
