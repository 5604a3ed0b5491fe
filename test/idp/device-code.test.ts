// The device code flow end to end: the device asks for a code, a "browser" (plain HTTPS
// requests) opens /devicelogin, enters the code and signs in, the device polls.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { AZURE_CLI_CLIENT_ID } from '../../src/idp/model.js';
import { formOf, startIdp, type TestIdp } from './helpers.js';

const PG = 'https://token.postgres.cosmos.azure.com';
let t: TestIdp;
let alice: { upn: string; oid: string };
const PASSWORD = 'Alice-passw0rd!';

before(async () => {
  t = await startIdp();
  const { user } = await t.idp.directory.addUser({ userPrincipalName: 'alice', displayName: 'Alice', password: PASSWORD });
  alice = { upn: user.userPrincipalName!, oid: user.objectId };
});
after(() => t.destroy());

async function deviceCode(version: '1.0' | '2.0' = '2.0'): Promise<Record<string, string | number>> {
  const path = version === '1.0' ? 'oauth2/devicecode' : 'oauth2/v2.0/devicecode';
  const form: Record<string, string> =
    version === '1.0'
      ? { client_id: AZURE_CLI_CLIENT_ID, resource: PG }
      : { client_id: AZURE_CLI_CLIENT_ID, scope: `${PG}/.default offline_access openid profile` };
  const r = await t.post(`/${t.tenantId}/${path}`, form);
  assert.equal(r.status, 200, r.text());
  return r.json();
}

/** What a person does in a browser: open the page, fill in the form, send it. */
async function signInOnPage(
  code: string,
  username: string,
  password: string,
  tamper: (f: Record<string, string>, h: Record<string, string>) => void = () => undefined,
) {
  const page = await t.get('/devicelogin');
  assert.equal(page.status, 200);
  const { hidden, cookie, action } = formOf(page);
  assert.equal(action, '/devicelogin');
  const form = { ...hidden, code, username, password };
  const headers = { cookie, origin: t.authority };
  tamper(form, headers);
  return t.post(action, form, headers);
}

const poll = (deviceCodeValue: string) =>
  t.post(`/${t.tenantId}/oauth2/v2.0/token`, {
    grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
    client_id: AZURE_CLI_CLIENT_ID,
    device_code: deviceCodeValue,
  });

test("v2 device code: the answer and its message are shaped like Entra's", async () => {
  const dc = await deviceCode();
  assert.deepEqual(Object.keys(dc), ['user_code', 'device_code', 'verification_uri', 'expires_in', 'interval', 'message']);
  assert.match(String(dc.user_code), /^[A-Z0-9]{9}$/);
  assert.equal(dc.verification_uri, `${t.authority}/devicelogin`);
  assert.equal(dc.expires_in, 900);
  assert.equal(dc.interval, 5);
  assert.equal(dc.message, `To sign in, use a web browser to open the page ${t.authority}/devicelogin and enter the code ${dc.user_code} to authenticate.`);
});

test('end to end: pending, slow_down, sign-in on the page, then tokens (once)', async () => {
  const dc = await deviceCode();
  const first = await poll(String(dc.device_code));
  assert.equal(first.status, 400);
  assert.equal(first.json<{ error: string }>().error, 'authorization_pending');
  assert.deepEqual(first.json<{ error_codes: number[] }>().error_codes, [70016]);
  assert.equal((await poll(String(dc.device_code))).json<{ error: string }>().error, 'slow_down', 'polled faster than the interval');

  const page = await signInOnPage(String(dc.user_code).toLowerCase(), alice.upn, PASSWORD);
  assert.equal(page.status, 200, page.text());
  assert.match(page.text(), /You have signed in to the Microsoft Azure CLI application on your device/);

  const r = await poll(String(dc.device_code));
  assert.equal(r.status, 200, r.text());
  const body = r.json<Record<string, string>>();
  const { payload } = await t.verify(body.access_token!, '2.0', PG);
  assert.equal(payload.preferred_username, alice.upn);
  assert.ok(body.refresh_token && body.id_token);
  assert.equal((await poll(String(dc.device_code))).json<{ error: string }>().error, 'invalid_grant', 'a device code is redeemed once');
});

test('v1 device code: verification_url, string numbers, the code parameter, v1 tokens', async () => {
  const dc = await deviceCode('1.0');
  assert.deepEqual(Object.keys(dc), ['user_code', 'device_code', 'verification_url', 'expires_in', 'interval', 'message']);
  assert.equal(dc.expires_in, '900');
  assert.equal((await signInOnPage(String(dc.user_code), alice.upn, PASSWORD)).status, 200);
  const r = await t.post(`/${t.tenantId}/oauth2/token`, {
    grant_type: 'device_code',
    client_id: AZURE_CLI_CLIENT_ID,
    code: String(dc.device_code),
    resource: PG,
  });
  assert.equal(r.status, 200, r.text());
  assert.equal((await t.verify(r.json<{ access_token: string }>().access_token, '1.0', PG)).payload.upn, alice.upn);
});

test('the page refuses a wrong code, a wrong password (same words as an unknown user), a missing cookie, a foreign origin', async () => {
  const dc = await deviceCode();
  const wrongCode = await signInOnPage('BBBBBBBBB', alice.upn, PASSWORD);
  assert.equal(wrongCode.status, 400);
  assert.match(wrongCode.text(), /That code didn&#39;t work/);
  const wrongPassword = await signInOnPage(String(dc.user_code), alice.upn, 'nope-nope-nope');
  const unknownUser = await signInOnPage(String(dc.user_code), 'nobody@example.com', PASSWORD);
  for (const r of [wrongPassword, unknownUser]) {
    assert.equal(r.status, 400);
    assert.match(r.text(), /role="alert">Your account or password is incorrect\.</);
  }
  const noCookie = await signInOnPage(String(dc.user_code), alice.upn, PASSWORD, (_f, h) => delete h.cookie);
  assert.equal(noCookie.status, 403);
  const otherCookie = await signInOnPage(String(dc.user_code), alice.upn, PASSWORD, (_f, h) => (h.cookie = '__Host-pgwarden-form=AAAAAAAAAAAAAAAAAAAAAA'));
  assert.equal(otherCookie.status, 403);
  const foreign = await signInOnPage(String(dc.user_code), alice.upn, PASSWORD, (_f, h) => (h.origin = 'https://evil.example'));
  assert.equal(foreign.status, 403);
  assert.equal((await poll(String(dc.device_code))).json<{ error: string }>().error, 'authorization_pending', 'nothing was approved');
});

test('the page is self-contained and locked down: CSP without scripts, no framing, labels for every field', async () => {
  const page = await t.get('/devicelogin?code=ABC');
  const csp = String(page.headers['content-security-policy']);
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /form-action 'self'/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.doesNotMatch(csp, /script-src/);
  assert.equal(page.headers['x-frame-options'], 'DENY');
  assert.equal(page.headers['cache-control'], 'no-store');
  assert.match(String(page.headers['set-cookie']), /^__Host-pgwarden-form=[^;]+; Path=\/; Secure; HttpOnly; SameSite=Strict/);
  const html = page.text();
  assert.doesNotMatch(html, /<script|https?:\/\/(?!localhost)/);
  assert.match(html, /<html lang="en">/);
  for (const id of ['code', 'username', 'password']) assert.match(html, new RegExp(`<label for="${id}">`));
  assert.match(html, /id="code" name="code" type="text" autocomplete="one-time-code" required value="ABC"/);
});

test('a device code expires after 15 minutes: expired_token, and the page no longer takes it', async () => {
  const dc = await deviceCode();
  t.clock.advance(901_000);
  try {
    const r = await poll(String(dc.device_code));
    assert.equal(r.json<{ error: string }>().error, 'expired_token');
    assert.deepEqual(r.json<{ error_codes: number[] }>().error_codes, [70019]);
    assert.equal((await signInOnPage(String(dc.user_code), alice.upn, PASSWORD)).status, 400);
  } finally {
    t.clock.advance(-901_000);
  }
});

test('another client cannot redeem the device code', async () => {
  const dc = await deviceCode();
  await signInOnPage(String(dc.user_code), alice.upn, PASSWORD);
  const sp = await t.idp.directory.addServicePrincipal({ displayName: 'thief' });
  const r = await t.post(`/${t.tenantId}/oauth2/v2.0/token`, {
    grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
    client_id: sp.servicePrincipal.appId,
    client_secret: sp.secret,
    device_code: String(dc.device_code),
  });
  assert.equal(r.json<{ error: string }>().error, 'invalid_grant');
});
