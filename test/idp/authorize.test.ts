// The authorization code flow with PKCE, as a browser app (a web portal) will use it:
// authorize page, sign-in, redirect with code and state, code redemption.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { AZURE_CLI_CLIENT_ID } from '../../src/idp/model.js';
import { formOf, startIdp, type TestIdp } from './helpers.js';

const PG = 'https://token.postgres.cosmos.azure.com';
const REDIRECT = 'http://localhost:53123/callback';
const PASSWORD = 'Alice-passw0rd!';
let t: TestIdp;
let alice: { upn: string; oid: string };

before(async () => {
  t = await startIdp();
  const { user } = await t.idp.directory.addUser({ userPrincipalName: 'alice', displayName: 'Alice', password: PASSWORD });
  alice = { upn: user.userPrincipalName!, oid: user.objectId };
});
after(() => t.destroy());

function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

function authorizeUrl(params: Record<string, string>): string {
  return `/${t.tenantId}/oauth2/v2.0/authorize?${new URLSearchParams(params).toString()}`;
}

function request(challenge: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    client_id: AZURE_CLI_CLIENT_ID,
    response_type: 'code',
    redirect_uri: REDIRECT,
    scope: `${PG}/.default openid profile offline_access`,
    state: 'state-123',
    nonce: 'nonce-456',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...extra,
  };
}

/** Opens the authorize page and signs in; returns the redirect's Location. */
async function signIn(params: Record<string, string>, username = alice.upn, password = PASSWORD): Promise<{ status: number; location?: URL; text: string }> {
  const page = await t.get(authorizeUrl(params));
  assert.equal(page.status, 200, page.text());
  const { hidden, cookie, action } = formOf(page);
  const r = await t.post(action, { ...hidden, username, password }, { cookie, origin: t.authority });
  const location = r.headers.location;
  return { status: r.status, text: r.text(), ...(typeof location === 'string' ? { location: new URL(location) } : {}) };
}

const redeem = (code: string, verifier: string, extra: Record<string, string> = {}) =>
  t.post(`/${t.tenantId}/oauth2/v2.0/token`, {
    grant_type: 'authorization_code',
    client_id: AZURE_CLI_CLIENT_ID,
    code,
    redirect_uri: REDIRECT,
    code_verifier: verifier,
    ...extra,
  });

test('sign-in page, redirect with code and state, tokens with an ID token for the client (nonce, name, oid, tid)', async () => {
  const { verifier, challenge } = pkce();
  const page = await t.get(authorizeUrl(request(challenge)));
  assert.match(String(page.headers['content-security-policy']), /form-action 'self' http:\/\/localhost:53123/);
  assert.match(page.text(), /to continue to Microsoft Azure CLI/);
  const r = await signIn(request(challenge));
  assert.equal(r.status, 302, r.text);
  assert.equal(`${r.location!.origin}${r.location!.pathname}`, REDIRECT);
  assert.equal(r.location!.searchParams.get('state'), 'state-123');
  const code = r.location!.searchParams.get('code')!;
  const tokens = await redeem(code, verifier);
  assert.equal(tokens.status, 200, tokens.text());
  const body = tokens.json<Record<string, string>>();
  assert.equal((await t.verify(body.access_token!, '2.0', PG)).payload.oid, alice.oid);
  const id = (await t.verify(body.id_token!, '2.0', AZURE_CLI_CLIENT_ID)).payload;
  assert.equal(id.nonce, 'nonce-456');
  assert.equal(id.name, 'Alice');
  assert.equal(id.preferred_username, alice.upn);
  assert.equal(id.oid, alice.oid);
  assert.equal(id.tid, t.tenantId);
  assert.ok(body.refresh_token);
  const again = await redeem(code, verifier);
  assert.deepEqual(again.json<{ error_codes: number[] }>().error_codes, [54005], 'a code is redeemed once');
});

test('a wrong code verifier is refused (and burns the code)', async () => {
  const { verifier, challenge } = pkce();
  const code = (await signIn(request(challenge))).location!.searchParams.get('code')!;
  const wrong = await redeem(code, pkce().verifier);
  assert.equal(wrong.status, 400);
  assert.equal(wrong.json<{ error: string }>().error, 'invalid_grant');
  assert.deepEqual(wrong.json<{ error_codes: number[] }>().error_codes, [501481]);
  assert.equal((await redeem(code, verifier)).status, 400);
});

test('the redirect URI must be the same at redemption', async () => {
  const { verifier, challenge } = pkce();
  const code = (await signIn(request(challenge))).location!.searchParams.get('code')!;
  const r = await redeem(code, verifier, { redirect_uri: 'http://localhost:53123/other' });
  assert.deepEqual(r.json<{ error_codes: number[] }>().error_codes, [500112]);
});

test('a public client without PKCE, or with plain PKCE, is sent back with an error and its state', async () => {
  const noPkce = request('x');
  delete (noPkce as Record<string, string | undefined>).code_challenge;
  delete (noPkce as Record<string, string | undefined>).code_challenge_method;
  for (const params of [noPkce, request(pkce().challenge, { code_challenge_method: 'plain' })]) {
    const r = await t.get(authorizeUrl(params));
    assert.equal(r.status, 302);
    const to = new URL(String(r.headers.location));
    assert.equal(to.searchParams.get('error'), 'invalid_request');
    assert.match(to.searchParams.get('error_description')!, /^AADSTS/);
    assert.equal(to.searchParams.get('state'), 'state-123');
  }
  const badType = await t.get(authorizeUrl(request(pkce().challenge, { response_type: 'token' })));
  assert.equal(new URL(String(badType.headers.location)).searchParams.get('error'), 'unsupported_response_type');
});

test('an unregistered redirect URI or an unknown client gets a page, never a redirect', async () => {
  const cases: Array<Record<string, string>> = [
    { redirect_uri: 'https://evil.example/cb' },
    { client_id: '9f0b3f5e-0000-4000-8000-000000000000' },
    { redirect_uri: 'http://localhost:1/#frag' },
  ];
  for (const extra of cases) {
    const r = await t.get(authorizeUrl(request(pkce().challenge, extra)));
    assert.equal(r.status, 400);
    assert.equal(r.headers.location, undefined);
    assert.match(r.text(), /AADSTS(50011|700016)/);
  }
});

test('a registered redirect URI of a registered public client works; 127.0.0.1 loopback works', async () => {
  const app = await t.idp.directory.registerPublicClient({ displayName: 'pgwarden portal', redirectUris: ['https://portal.example/callback'] });
  const { challenge } = pkce();
  const r = await signIn(request(challenge, { client_id: app.appId, redirect_uri: 'https://portal.example/callback' }));
  assert.equal(r.status, 302);
  assert.equal(r.location!.origin, 'https://portal.example');
  const loop = await signIn(request(challenge, { redirect_uri: 'http://127.0.0.1:9999/' }));
  assert.equal(loop.location!.origin, 'http://127.0.0.1:9999');
});

test('a wrong password shows the page again with an error, and no code', async () => {
  const r = await signIn(request(pkce().challenge), alice.upn, 'wrong-password');
  assert.equal(r.status, 400);
  assert.equal(r.location, undefined);
  assert.match(r.text, /Your account or password is incorrect/);
});

test('the sealed request cannot be changed in the form', async () => {
  const { challenge } = pkce();
  const page = await t.get(authorizeUrl(request(challenge)));
  const { hidden, cookie, action } = formOf(page);
  const [body, mac] = hidden.request!.split('.');
  const changed = JSON.parse(Buffer.from(body!, 'base64url').toString());
  changed.redirectUri = 'https://evil.example/cb';
  const forged = `${Buffer.from(JSON.stringify(changed)).toString('base64url')}.${mac}`;
  const r = await t.post(action, { ...hidden, request: forged, username: alice.upn, password: PASSWORD }, { cookie, origin: t.authority });
  assert.equal(r.status, 403);
  assert.equal(r.headers.location, undefined);
});
