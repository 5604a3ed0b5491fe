// Signing key rotation as a verifier sees it: the next key is published before it signs,
// old tokens stay verifiable until they expire, then the retired key disappears.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { idpPaths } from '../../src/idp/paths.js';
import { RETIRED_KEY_GRACE_SECONDS, SigningKeys } from '../../src/idp/signing-keys.js';
import { headerOf, startIdp, type TestIdp } from './helpers.js';

const PG = 'https://token.postgres.cosmos.azure.com';
const LIFETIME_MINUTES = 5;
let t: TestIdp;
let client: { appId: string; secret: string };

before(async () => {
  t = await startIdp({ tokenLifetimeMinutes: { min: LIFETIME_MINUTES, max: LIFETIME_MINUTES } });
  const sp = await t.idp.directory.addServicePrincipal({ displayName: 'app' });
  client = { appId: sp.servicePrincipal.appId, secret: sp.secret };
});
after(() => t.destroy());

const keySet = async (): Promise<JSONWebKeySet> => (await t.get(`/${t.tenantId}/discovery/v2.0/keys`)).json<JSONWebKeySet>();
const token = async (): Promise<string> =>
  (
    await t.post(`/${t.tenantId}/oauth2/v2.0/token`, {
      grant_type: 'client_credentials',
      client_id: client.appId,
      client_secret: client.secret,
      scope: `${PG}/.default`,
    })
  ).json<{ access_token: string }>().access_token;
const verifyWith = (jwks: JSONWebKeySet, jwt: string) =>
  jwtVerify(jwt, createLocalJWKSet(jwks), { issuer: t.idp.issuers.v2, audience: PG, currentDate: new Date(t.clock.now()) });

test('keys.json is 0600 and holds an active and a next key', async () => {
  const path = idpPaths(t.dataDir).keys;
  assert.equal((await stat(path)).mode & 0o777, 0o600);
  const file = JSON.parse(await readFile(path, 'utf8')) as { keys: Array<{ state: string }> };
  assert.deepEqual(file.keys.map((k) => k.state).sort(), ['active', 'next']);
});

test(
  'rotation: a verifier holding the key set from before verifies new tokens at once; ' + 'old tokens keep working; the retired key leaves after its last token',
  async () => {
    const before = await keySet();
    assert.equal(before.keys.length, 2);
    const oldToken = await token();
    const oldKid = headerOf(oldToken).kid;
    const nextKid = before.keys.map((k) => k.kid).find((k) => k !== oldKid)!;

    const rotation = await t.idp.rotateKeys();
    assert.deepEqual(rotation.retired, oldKid);
    assert.deepEqual(rotation.active, nextKid);

    const newToken = await token();
    assert.equal(headerOf(newToken).kid, nextKid, 'signed with the key published before the rotation');
    await verifyWith(before, newToken); // the stale key set already knows it: no refetch, no restart
    const after = await keySet();
    assert.deepEqual(after.keys.map((k) => k.kid).sort(), [oldKid, nextKid, rotation.next].sort());
    await verifyWith(after, oldToken);
    await verifyWith(after, newToken);

    // The retired key stays while its tokens may live (plus the clock-skew grace)...
    t.clock.advance((LIFETIME_MINUTES * 60 + RETIRED_KEY_GRACE_SECONDS - 5) * 1000);
    assert.ok((await keySet()).keys.some((k) => k.kid === oldKid));
    // ...and then goes.
    t.clock.advance(10_000);
    const later = await keySet();
    assert.deepEqual(later.keys.map((k) => k.kid).sort(), [nextKid, rotation.next].sort());
    await assert.rejects(verifyWith(later, oldToken));
  },
);

test('a rotation made by another process (through the file) is seen by the running server at once', async () => {
  const beforeKids = (await keySet()).keys.map((k) => k.kid);
  const elsewhere = new SigningKeys(idpPaths(t.dataDir).keys, t.clock.now);
  const rotation = await elsewhere.rotate();
  assert.equal(headerOf(await token()).kid, rotation.active);
  assert.ok(beforeKids.includes(rotation.active));
  assert.ok((await keySet()).keys.some((k) => k.kid === rotation.next));
});

test('keys retired long ago are dropped from the file at the next rotation', async () => {
  await t.idp.rotateKeys();
  t.clock.advance(2 * 3600_000);
  await t.idp.rotateKeys();
  const file = JSON.parse(await readFile(idpPaths(t.dataDir).keys, 'utf8')) as { keys: Array<{ state: string }> };
  assert.deepEqual(
    file.keys.map((k) => k.state),
    ['active', 'next', 'retired'],
  );
});
