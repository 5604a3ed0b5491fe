// Tokens too full to list their groups ("groups overage"): the directory is asked instead
// of the token's list, and its answers are kept for a while (src/identity/group-membership.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { EntraPrincipal } from '../../src/catalog/principals.js';
import { CachedMembership, MEMBER_TTL_MS, NOT_MEMBER_TTL_MS } from '../../src/identity/group-membership.js';
import { matchPrincipalAsking } from '../../src/identity/match-principal.js';
import type { VerifiedToken } from '../../src/identity/verify-token.js';
import { isPgwardenError } from '../../src/util/errors.js';

const USER = '11111111-1111-4111-8111-111111111111';
const GROUP = '22222222-2222-4222-8222-222222222222';
const OTHER_GROUP = '33333333-3333-4333-8333-333333333333';

function token(extra: Partial<VerifiedToken> = {}): VerifiedToken {
  return {
    version: '2.0',
    tenantId: '44444444-4444-4444-8444-444444444444',
    objectId: USER,
    userNames: ['alice@example.com'],
    appId: undefined,
    identityType: 'user',
    groups: [],
    groupsOverage: true,
    audience: 'https://ossrdbms-aad.database.windows.net',
    expiresAt: Math.floor(Date.now() / 1000) + 3600,
    ...extra,
  };
}

const group: EntraPrincipal = { roleName: 'Data Readers', type: 'group', objectId: GROUP, tenantId: 't', appId: undefined, isAdmin: false };

/** A directory that counts its questions; members are "user group" pairs. */
function directory(members: string[], fail = false) {
  const asked: string[] = [];
  return {
    asked,
    isMemberOf: async (objectId: string, groupObjectId: string) => {
      asked.push(`${objectId} ${groupObjectId}`);
      // Deliberate: Graph takes a while to answer, so that questions at once overlap.
      await new Promise((r) => setTimeout(r, 5));
      if (fail) throw new Error('Graph is down');
      return members.includes(`${objectId.toLowerCase()} ${groupObjectId.toLowerCase()}`);
    },
  };
}

async function refusal(p: Promise<unknown>): Promise<Error> {
  return p.then(
    () => assert.fail('accepted'),
    (e: unknown) => e as Error,
  );
}

test('an overage token signs in as a group role when the directory says it is a member', async () => {
  const d = directory([`${USER} ${GROUP}`]);
  await matchPrincipalAsking(token(), group, new CachedMembership(d));
  assert.deepEqual(d.asked, [`${USER} ${GROUP}`]);
});

test('not a member: the same refusal as a token that lists other groups', async () => {
  const e = await refusal(matchPrincipalAsking(token(), { ...group, objectId: OTHER_GROUP }, new CachedMembership(directory([`${USER} ${GROUP}`]))));
  assert.ok(isPgwardenError(e, 'TOKEN_NOT_GROUP_MEMBER'));
  const listed = await refusal(matchPrincipalAsking(token({ groups: [GROUP], groupsOverage: false }), { ...group, objectId: OTHER_GROUP }, undefined));
  assert.equal(e.message, listed.message);
});

test('without a directory to ask: a refusal that says why and what to do', async () => {
  const e = await refusal(matchPrincipalAsking(token(), group, undefined));
  assert.ok(isPgwardenError(e, 'TOKEN_GROUPS_OVERAGE'));
  assert.match(e.message, /groups overage/);
  assert.match(e.message, /--graph-client-id/);
});

test('a directory that fails: "try again later", not "not a member"', async () => {
  const e = await refusal(matchPrincipalAsking(token(), group, new CachedMembership(directory([], true))));
  assert.ok(isPgwardenError(e, 'IDENTITY_PROVIDER_UNAVAILABLE'));
});

test('tokens that list their groups, users and service principals never ask the directory', async () => {
  const d = directory([]);
  const m = new CachedMembership(d);
  await matchPrincipalAsking(token({ groups: [GROUP], groupsOverage: false }), group, m);
  await matchPrincipalAsking(token(), { ...group, type: 'user', roleName: 'alice@example.com', objectId: USER }, m);
  assert.deepEqual(d.asked, []);
});

test('answers are kept (members 5 minutes, non-members 1 minute); questions at once share one ask; failures are not kept', async () => {
  let now = 1_000_000;
  const d = directory([`${USER} ${GROUP}`]);
  const m = new CachedMembership(d, () => now);
  assert.deepEqual(await Promise.all([m.isMemberOf(USER, GROUP), m.isMemberOf(USER.toUpperCase(), GROUP)]), [true, true]);
  assert.equal(await m.isMemberOf(USER, OTHER_GROUP), false);
  assert.equal(d.asked.length, 2);
  now += NOT_MEMBER_TTL_MS + 1;
  assert.equal(await m.isMemberOf(USER, GROUP), true);
  assert.equal(await m.isMemberOf(USER, OTHER_GROUP), false);
  assert.equal(d.asked.length, 3, 'only the non-member answer expired');
  now += MEMBER_TTL_MS;
  await m.isMemberOf(USER, GROUP);
  assert.equal(d.asked.length, 4);

  const failing = directory([], true);
  const f = new CachedMembership(failing);
  await assert.rejects(f.isMemberOf(USER, GROUP), /Graph is down/);
  await assert.rejects(f.isMemberOf(USER, GROUP), /Graph is down/);
  assert.equal(failing.asked.length, 2);
});
