// Citus mode without Citus: Citus cannot be installed here, so these tests cover what
// does not need it: which categories are repaired, and the pg_dist_authinfo plan.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { derivedPassword } from '../../src/catalog/derived-password.js';
import { CITUS_REPAIRS, conninfoValue, planAuthinfo } from '../../src/reconcile/citus.js';

const secret = Buffer.alloc(32, 7);
const alice = { roleName: 'alice@contoso.com', objectId: '11111111-1111-1111-1111-111111111111' };
const app = { roleName: "app 'one'", objectId: '22222222-2222-2222-2222-222222222222' };

test('Citus mode repairs default privileges only; it propagates the rest itself', () => {
  assert.deepEqual([...CITUS_REPAIRS], ['default-privilege']);
});

test('conninfo values are quoted as libpq reads them', () => {
  assert.equal(conninfoValue('abc'), "'abc'");
  assert.equal(conninfoValue("it's a \\ test"), "'it\\'s a \\\\ test'");
});

test('each Entra role gets its derived password; unchanged rows are left alone', () => {
  const expected = `password='${derivedPassword(secret, alice.roleName, alice.objectId)}'`;
  assert.deepEqual(planAuthinfo(secret, [alice], new Map(), new Set()), [{ kind: 'set', roleName: alice.roleName, authinfo: expected }]);
  assert.deepEqual(planAuthinfo(secret, [alice], new Map([[alice.roleName, expected]]), new Set([alice.roleName])), []);
  const [changed] = planAuthinfo(secret, [alice], new Map([[alice.roleName, "password='stale'"]]), new Set([alice.roleName]));
  assert.equal(changed?.kind, 'set');
});

test('rows of roles that stopped being principals go; rows the operator made stay', () => {
  const existing = new Map([
    [alice.roleName, 'x'],
    [app.roleName, 'y'],
    ['operator_role', 'password=keep'],
  ]);
  const actions = planAuthinfo(secret, [], existing, new Set([alice.roleName, app.roleName]));
  assert.deepEqual(actions, [
    { kind: 'delete', roleName: alice.roleName },
    { kind: 'delete', roleName: app.roleName },
  ]);
});
