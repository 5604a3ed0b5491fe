// The portal's server side over real HTTPS, without a browser: what it serves and with
// which headers, the session cookie and CSRF protection, who may sign in, and the
// identity provider sign-in (authorization code + PKCE) step by step, including the ways
// it can fail. Logs never get a password, a code or a token.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { httpRequestJson, type HttpResponse } from '../../src/util/http-client.js';
import { CITUS_PASSWORD, psql } from '../helpers/pgwarden.js';
import { savedAdmin, type SavedAdmin } from '../helpers/entra.js';
import { formOf } from '../idp/helpers.js';
import { PORTAL_TEST_CLIENT_ID, startPortalEnv, startPortalServer, type PortalEnv } from './helpers.js';

let env: PortalEnv;
let admin: SavedAdmin;

before(async () => {
  env = await startPortalEnv({ authMethod: 'both' });
  admin = await savedAdmin(env.pg);
});
after(() => env?.destroy());

/** A browser's cookie jar, as far as these tests need one. */
class Jar {
  readonly cookies = new Map<string, string>();
  readonly attributes = new Map<string, string>();

  take(res: HttpResponse): void {
    const set = res.headers['set-cookie'];
    for (const line of Array.isArray(set) ? set : set ? [set] : []) {
      const [pair = '', ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      this.attributes.set(name, attrs.map((a) => a.trim()).join('; '));
      if (value === '' || /max-age=0|expires=thu, 01 jan 1970/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

async function call(
  jar: Jar,
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  path: string,
  options: { json?: unknown; form?: Record<string, string>; headers?: Record<string, string>; base?: string } = {},
): Promise<HttpResponse> {
  const url = path.startsWith('https://') ? path : `${options.base ?? env.url}${path}`;
  const res = await httpRequestJson(url, {
    method,
    ca: env.ca,
    headers: { ...(jar.cookies.size ? { cookie: jar.header() } : {}), ...options.headers },
    ...(options.json !== undefined ? { json: options.json } : {}),
    ...(options.form ? { form: options.form } : {}),
  });
  jar.take(res);
  return res;
}

const origin = () => env.url;

async function signInCitus(jar: Jar): Promise<string> {
  const res = await call(jar, 'POST', '/portal/session', { json: { password: CITUS_PASSWORD }, headers: { origin: origin() } });
  assert.equal(res.status, 201, res.text());
  const session = (await call(jar, 'GET', '/portal/session')).json<{ signedIn: boolean; csrf: string }>();
  assert.equal(session.signedIn, true);
  return session.csrf;
}

describe('what the portal serves', () => {
  test('the page, with a strict Content Security Policy and no caching', async () => {
    const res = await call(new Jar(), 'GET', '/');
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /^text\/html/);
    const csp = String(res.headers['content-security-policy']);
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(res.headers['x-frame-options'], 'DENY');
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
    assert.equal(res.headers['referrer-policy'], 'no-referrer');
    assert.equal(res.headers['cache-control'], 'no-cache');
    const html = res.text();
    assert.doesNotMatch(html, /<script>|<style>|style="|https?:\/\//, 'no inline script or style, nothing from elsewhere');
    const assets = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    assert.equal(assets.length, 2, 'one script and one style sheet');
    for (const a of assets) {
      const r = await call(new Jar(), 'GET', a);
      assert.equal(r.status, 200, a);
      assert.match(String(r.headers['cache-control']), /immutable/);
      assert.ok(r.body.length > 1000);
    }
    assert.equal((await call(new Jar(), 'GET', '/favicon.svg')).status, 200);
    assert.equal((await call(new Jar(), 'GET', '/assets/nothing-here.js')).status, 404);
  });

  test('the API still answers problems, and the OpenAPI document does not list the portal', async () => {
    const res = await call(new Jar(), 'GET', '/api/v1/roles');
    assert.equal(res.status, 401);
    const doc = (await call(new Jar(), 'GET', '/api/v1/openapi.json')).json<{ paths: Record<string, unknown> }>();
    assert.deepEqual(
      Object.keys(doc.paths).filter((p) => !p.startsWith('/api/v1/')),
      [],
    );
  });

  test('an unbuilt portal says so', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'pgwarden-portal-empty-'));
    const server = await startPortalServer(env.pg, { assetsDir: empty });
    try {
      const res = await call(new Jar(), 'GET', '/', { base: server.url });
      assert.equal(res.status, 404);
      assert.match(res.json<{ detail: string }>().detail, /The portal is not built: run npm run build/);
    } finally {
      await server.close();
      await rm(empty, { recursive: true, force: true });
    }
  });
});

describe('citus sign-in, the session cookie and CSRF', () => {
  test('before signing in: how one can sign in', async () => {
    const res = await call(new Jar(), 'GET', '/portal/session');
    assert.equal(res.status, 200);
    assert.deepEqual(res.json(), { signedIn: false, signIn: { citus: true, entra: true } });
    assert.equal(res.headers['cache-control'], 'no-store');
  });

  test('a wrong password, another site, or a form post are refused', async () => {
    const jar = new Jar();
    const wrong = await call(jar, 'POST', '/portal/session', { json: { password: 'nope' }, headers: { origin: origin() } });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.json<{ detail: string }>().detail, 'The citus password is wrong.');
    const elsewhere = await call(jar, 'POST', '/portal/session', { json: { password: CITUS_PASSWORD }, headers: { origin: 'https://evil.example' } });
    assert.equal(elsewhere.status, 403);
    const form = await call(jar, 'POST', '/portal/session', { form: { password: CITUS_PASSWORD }, headers: { origin: origin() } });
    assert.equal(form.status, 415);
    assert.equal(jar.cookies.size, 0, 'no session');
  });

  test('the session cookie is HttpOnly, Secure and SameSite=Strict; changes need the CSRF token', async () => {
    const jar = new Jar();
    const csrf = await signInCitus(jar);
    const attrs = jar.attributes.get('pgwarden_session')!;
    for (const a of ['Path=/', 'HttpOnly', 'Secure', 'SameSite=Strict']) assert.ok(attrs.includes(a), `${a} in ${attrs}`);
    assert.equal((await call(jar, 'GET', '/api/v1/roles')).status, 200);
    const noCsrf = await call(jar, 'PUT', '/api/v1/authentication', { json: { methods: 'both' } });
    assert.equal(noCsrf.status, 403);
    assert.match(noCsrf.json<{ detail: string }>().detail, /CSRF/);
    const withCsrf = await call(jar, 'PUT', '/api/v1/authentication', { json: { methods: 'both' }, headers: { 'x-csrf-token': csrf } });
    assert.equal(withCsrf.status, 200);
    // Sign-out needs the token too, ends the session and clears the cookie.
    assert.equal((await call(jar, 'DELETE', '/portal/session', { headers: { origin: origin() } })).status, 403);
    assert.equal((await call(jar, 'DELETE', '/portal/session', { headers: { origin: origin(), 'x-csrf-token': csrf } })).status, 204);
    assert.equal(jar.cookies.has('pgwarden_session'), false);
    assert.equal((await call(jar, 'GET', '/portal/session')).json<{ signedIn: boolean }>().signedIn, false);
  });

  test('a new sign-in replaces the old session', async () => {
    const jar = new Jar();
    await signInCitus(jar);
    const old = jar.cookies.get('pgwarden_session')!;
    await signInCitus(jar);
    assert.notEqual(jar.cookies.get('pgwarden_session'), old);
    const stale = new Jar();
    stale.cookies.set('pgwarden_session', old);
    assert.equal((await call(stale, 'GET', '/api/v1/roles')).status, 401);
  });
});

/** Follows the identity provider sign-in as a browser would, with Origin set as the
 * provider expects; returns the callback's redirect. */
async function entraSignIn(jar: Jar, username: string, password: string): Promise<HttpResponse> {
  const start = await call(jar, 'GET', '/portal/signin/entra');
  assert.equal(start.status, 303);
  const authorize = new URL(String(start.headers.location));
  const page = await call(jar, 'GET', authorize.toString());
  assert.equal(page.status, 200, page.text());
  const { hidden, cookie, action } = formOf(page);
  const idp = env.pg.idp!.authority;
  const posted = await httpRequestJson(`${idp}${action}`, { ca: env.ca, form: { ...hidden, username, password }, headers: { cookie, origin: idp } });
  assert.equal(posted.status, 302, posted.text());
  const back = new URL(String(posted.headers.location));
  return call(jar, 'GET', back.toString());
}

describe('sign-in with the identity provider', () => {
  test('the authorize request: PKCE S256, a state, the portal as client, the callback as redirect URI', async () => {
    const jar = new Jar();
    const start = await call(jar, 'GET', '/portal/signin/entra');
    const u = new URL(String(start.headers.location));
    assert.equal(`${u.origin}${u.pathname}`, `${env.pg.idp!.authority}/${env.pg.idp!.tenantId}/oauth2/v2.0/authorize`);
    assert.equal(u.searchParams.get('client_id'), PORTAL_TEST_CLIENT_ID);
    assert.equal(u.searchParams.get('response_type'), 'code');
    assert.equal(u.searchParams.get('redirect_uri'), `${env.url}/portal/signin/callback`);
    assert.equal(u.searchParams.get('code_challenge_method'), 'S256');
    assert.match(u.searchParams.get('code_challenge')!, /^[A-Za-z0-9_-]{43}$/);
    assert.match(u.searchParams.get('state')!, /^[A-Za-z0-9_-]{32}$/);
    assert.equal(u.searchParams.get('scope'), 'https://token.postgres.cosmos.azure.com/.default');
    const attrs = jar.attributes.get('pgwarden_signin')!;
    for (const a of ['Path=/portal/', 'HttpOnly', 'Secure', 'SameSite=Lax']) assert.ok(attrs.includes(a), `${a} in ${attrs}`);
  });

  test('an admin gets a session; the access token stays on the server', async () => {
    const jar = new Jar();
    const back = await entraSignIn(jar, admin.username, admin.password);
    assert.equal(back.status, 303);
    assert.equal(back.headers.location, '/');
    assert.equal(back.body.length, 0);
    assert.equal(jar.cookies.has('pgwarden_signin'), false, 'the sign-in cookie is cleared');
    const session = (await call(jar, 'GET', '/portal/session')).json<{ signedIn: boolean; user: { kind: string; name: string } }>();
    assert.deepEqual(session.user, { kind: 'entra', name: admin.username, type: 'user' });
    assert.doesNotMatch(JSON.stringify(session), /eyJ/);
    assert.equal((await call(jar, 'GET', '/api/v1/entra-admins')).status, 200);
  });

  test('a code is good once, and only in the browser that started the sign-in', async () => {
    const jar = new Jar();
    const start = await call(jar, 'GET', '/portal/signin/entra');
    const page = await call(jar, 'GET', String(start.headers.location));
    const { hidden, cookie, action } = formOf(page);
    const idp = env.pg.idp!.authority;
    const posted = await httpRequestJson(`${idp}${action}`, {
      ca: env.ca,
      form: { ...hidden, username: admin.username, password: admin.password },
      headers: { cookie, origin: idp },
    });
    const callback = String(posted.headers.location);
    // Another browser (no sign-in cookie) brings the code: refused, and told why.
    const other = new Jar();
    const stolen = await call(other, 'GET', callback);
    assert.equal(stolen.status, 303);
    assert.equal(other.cookies.has('pgwarden_session'), false);
    const told = (await call(other, 'GET', '/portal/session')).json<{ signedIn: boolean; error?: string }>();
    assert.equal(told.signedIn, false);
    assert.equal(told.error, 'This sign-in expired or was started in another window. Please sign in again.');
    assert.equal((await call(other, 'GET', '/portal/session')).json<{ error?: string }>().error, undefined, 'told once');
    // The right browser succeeds once; the same callback again fails.
    assert.equal((await call(jar, 'GET', callback)).headers.location, '/');
    assert.equal(jar.cookies.has('pgwarden_session'), true);
    const session = jar.cookies.get('pgwarden_session');
    await call(jar, 'GET', callback);
    assert.equal(jar.cookies.get('pgwarden_session'), session, 'no second session from the same code');
    const replay = (await call(jar, 'GET', '/portal/session')).json<{ signedIn: boolean }>();
    assert.equal(replay.signedIn, true, 'the first session goes on');
    const forged = new Jar();
    forged.cookies.set('pgwarden_signin', 'made-up');
    await call(forged, 'GET', callback);
    assert.equal(forged.cookies.has('pgwarden_session'), false);
  });

  test('a refusal by the provider, a wrong state, or a user who is not an admin: the reason on the sign-in page', async () => {
    const jar = new Jar();
    const start = await call(jar, 'GET', '/portal/signin/entra');
    const state = new URL(String(start.headers.location)).searchParams.get('state')!;
    await call(
      jar,
      'GET',
      '/portal/signin/callback?error=access_denied' +
        `&error_description=${encodeURIComponent('AADSTS65004: User declined to consent.\r\nTrace ID: 1')}&state=${state}`,
    );
    assert.equal(
      (await call(jar, 'GET', '/portal/session')).json<{ error: string }>().error,
      'Microsoft Entra ID did not sign you in: AADSTS65004: User declined to consent.',
    );

    await call(jar, 'GET', '/portal/signin/entra');
    await call(jar, 'GET', `/portal/signin/callback?code=x&state=wrong`);
    assert.match((await call(jar, 'GET', '/portal/session')).json<{ error: string }>().error, /expired or was started in another window/);

    await env.pg.idp!.directory.addUser({ userPrincipalName: 'visitor', displayName: 'Visitor', password: 'Visitor-Passw0rd-1' });
    const visitor = new Jar();
    await entraSignIn(visitor, `visitor@${env.pg.idp!.tenantDomain}`, 'Visitor-Passw0rd-1');
    assert.equal(visitor.cookies.has('pgwarden_session'), false);
    assert.equal((await call(visitor, 'GET', '/portal/session')).json<{ error: string }>().error, 'Only Microsoft Entra admins of this cluster may manage it.');
  });
});

describe('who may sign in follows the authentication methods', () => {
  test('Entra only: citus may not sign in; PostgreSQL only: the identity provider is not offered', async () => {
    const jar = new Jar();
    const csrf = await signInCitus(jar);
    const set = (methods: string) => call(jar, 'PUT', '/api/v1/authentication', { json: { methods }, headers: { 'x-csrf-token': csrf } });
    try {
      assert.equal((await set('entra')).status, 200);
      assert.deepEqual((await call(new Jar(), 'GET', '/portal/session')).json(), { signedIn: false, signIn: { citus: false, entra: true } });
      // citus's own session ends when the page next asks, and with it the API's answer.
      const ended = (await call(jar, 'GET', '/portal/session')).json<{ signedIn: boolean; error: string }>();
      assert.equal(ended.signedIn, false);
      assert.match(ended.error, /^Your session ended: PostgreSQL authentication is disabled/);
      assert.equal(jar.cookies.has('pgwarden_session'), false);
      const refused = await call(new Jar(), 'POST', '/portal/session', { json: { password: CITUS_PASSWORD }, headers: { origin: origin() } });
      assert.equal(refused.status, 403);
      assert.match(refused.json<{ detail: string }>().detail, /PostgreSQL authentication is disabled for this cluster/);
      assert.match((await psql(env.pg.conn('citus'), 'select 1', CITUS_PASSWORD)).stderr, /PostgreSQL authentication is disabled for this cluster/);

      const entraJar = new Jar();
      await entraSignIn(entraJar, admin.username, admin.password);
      const entraCsrf = (await call(entraJar, 'GET', '/portal/session')).json<{ csrf: string }>().csrf;
      assert.equal(
        (await call(entraJar, 'PUT', '/api/v1/authentication', { json: { methods: 'postgres' }, headers: { 'x-csrf-token': entraCsrf } })).status,
        200,
      );
      assert.deepEqual((await call(new Jar(), 'GET', '/portal/session')).json(), { signedIn: false, signIn: { citus: true, entra: false } });
    } finally {
      const fresh = new Jar();
      const c = await signInCitus(fresh);
      assert.equal((await call(fresh, 'PUT', '/api/v1/authentication', { json: { methods: 'both' }, headers: { 'x-csrf-token': c } })).status, 200);
    }
  });
});

test('no password, code or token in the logs', async () => {
  const dir = join(env.pg.dataDir, 'logs');
  let all = '';
  for (const f of await readdir(dir)) all += await readFile(join(dir, f), 'utf8');
  assert.ok(all.length > 0);
  for (const secret of [CITUS_PASSWORD, admin.password, 'Visitor-Passw0rd-1']) assert.ok(!all.includes(secret), 'a password is in the logs');
  assert.doesNotMatch(all, /eyJ[\w-]{10,}\.[\w-]{10,}\./, 'a token is in the logs');
  assert.doesNotMatch(all, /code=[\w.-]{20,}/, 'an authorization code is in the logs');
});
