// A real embedded identity provider for one test: a temporary data directory with the
// local CA, HTTPS on a free port, a movable clock, and helpers that talk to it over real
// HTTPS and verify what it issues with jose.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createLocalJWKSet, jwtVerify, type JWTPayload, type JWTVerifyResult } from 'jose';
import { EmbeddedIdp, type EmbeddedIdpOptions, type SeededAdmin } from '../../src/idp/embedded-idp.js';
import { ensureLocalTls } from '../../src/tls/certificates.js';
import { httpRequestJson, type HttpResponse } from '../../src/util/http-client.js';
import { createLogger, type Logger } from '../../src/util/log.js';
import { makeDataDir } from '../helpers/pgwarden.js';

export interface TestClock {
  now(): number;
  advance(ms: number): void;
}

export function testClock(): TestClock {
  let offset = 0;
  return { now: () => Date.now() + offset, advance: (ms) => void (offset += ms) };
}

export interface TestIdp {
  readonly idp: EmbeddedIdp;
  readonly dataDir: string;
  readonly ca: string;
  readonly authority: string;
  readonly tenantId: string;
  readonly admin: SeededAdmin;
  readonly clock: TestClock;
  readonly log: Logger;
  readonly logFile: string;
  get(path: string, headers?: Record<string, string>): Promise<HttpResponse>;
  post(path: string, form: Record<string, string>, headers?: Record<string, string>): Promise<HttpResponse>;
  /** Verifies a token's signature against the published key set, its issuer and audience. */
  verify(token: string, version: '1.0' | '2.0', audience: string): Promise<JWTVerifyResult<JWTPayload>>;
  destroy(): Promise<void>;
}

export async function startIdp(options: Partial<Omit<EmbeddedIdpOptions, 'dataDir' | 'tls' | 'log' | 'now'>> = {}, dataDir?: string): Promise<TestIdp> {
  const dir = dataDir ?? (await makeDataDir('pgwarden-idp-test-'));
  const tls = await ensureLocalTls(dir, []);
  const logFile = join(dir, 'logs', 'idp.log');
  const log = createLogger({ file: logFile, level: 'debug', stderrLevel: 'silent' });
  const clock = testClock();
  const idp = await EmbeddedIdp.open({ dataDir: dir, tls, log, now: clock.now, ...options });
  const admin = await idp.seedIfEmpty();
  if (!admin) throw new Error('the test data directory was not new');
  await idp.listen({ host: '127.0.0.1', port: 0 });
  const authority = idp.authority;
  const ca = tls.caPem!;
  return {
    idp,
    dataDir: dir,
    ca,
    authority,
    tenantId: idp.tenantId,
    admin,
    clock,
    log,
    logFile,
    get: (path, headers = {}) => httpRequestJson(`${authority}${path}`, { ca, headers }),
    post: (path, form, headers = {}) => httpRequestJson(`${authority}${path}`, { ca, form, headers }),
    verify: async (token, version, audience) => {
      const path = version === '1.0' ? 'discovery/keys' : 'discovery/v2.0/keys';
      const jwks = (await httpRequestJson(`${authority}/${idp.tenantId}/${path}`, { ca })).json<{ keys: never[] }>();
      return jwtVerify(token, createLocalJWKSet(jwks), {
        issuer: version === '1.0' ? idp.issuers.v1 : idp.issuers.v2,
        audience,
        algorithms: ['RS256'],
        currentDate: new Date(clock.now()),
      });
    },
    destroy: async () => {
      await idp.close();
      await new Promise<void>((resolve) => log.flush(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A service principal as tests use it: its ids and its secret. */
export interface TestSp {
  appId: string;
  objectId: string;
  secret: string;
}

/** Adds a service principal with a secret to the provider's directory. */
export async function addSp(t: TestIdp, displayName: string): Promise<TestSp> {
  const made = await t.idp.directory.addServicePrincipal({ displayName });
  return { appId: made.servicePrincipal.appId, objectId: made.servicePrincipal.objectId, secret: made.secret };
}

/** A JWT's claims, unverified (for checks after verify, or of tokens meant to fail). */
export function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
}

export function headerOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString('utf8')) as Record<string, unknown>;
}

/** The hidden fields of a page's form and the form cookie it set: what a browser would send back. */
export function formOf(page: HttpResponse): { hidden: Record<string, string>; cookie: string; action: string } {
  const html = page.text();
  const hidden: Record<string, string> = {};
  for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) hidden[m[1]!] = unescapeHtml(m[2]!);
  const action = unescapeHtml(/<form method="post" action="([^"]+)">/.exec(html)?.[1] ?? '');
  const setCookie = page.headers['set-cookie'];
  const cookie = (Array.isArray(setCookie) ? setCookie[0] : setCookie)?.split(';')[0] ?? '';
  return { hidden, cookie, action };
}

function unescapeHtml(s: string): string {
  return s
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}
