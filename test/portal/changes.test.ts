// The page's staging rules (src/portal/web/src/changes.ts): what Save will do, in which
// order, and what the person is told before.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  adminRows,
  applyOrder,
  describe as describeChange,
  effectiveMethod,
  effectiveSessionExpiry,
  notices,
  roleRows,
  stageAddAdmins,
  stageAddRole,
  stageDeleteRole,
  stageMethod,
  stageRemoveAdmin,
  stageResetPassword,
  stageSessionExpiry,
  takenRoleNames,
  unstage,
  type ServerState,
} from '../../src/portal/web/src/changes.js';

const server: ServerState = {
  method: 'postgres',
  admins: [{ name: 'admin@t.example', type: 'user', objectId: 'o1', tenantId: 't', isAdmin: true }],
  roles: [
    { name: 'citus', builtIn: true, canLogin: true, memberOf: [] },
    { name: 'app', builtIn: false, canLogin: true, memberOf: [] },
  ],
};
const citus = { kind: 'citus' as const, name: 'citus' };

test('choosing the saved method again leaves nothing to save', () => {
  let c = stageMethod([], server, 'both');
  assert.equal(effectiveMethod(c, server), 'both');
  c = stageMethod(c, server, 'entra');
  assert.equal(c.length, 1);
  assert.equal(describeChange(c[0]!), 'Authentication methods: PostgreSQL authentication only → Microsoft Entra authentication');
  assert.deepEqual(stageMethod(c, server, 'postgres'), []);
});

test('admins: picking one twice adds it once; removing an unsaved one unstages it; re-adding a removed one keeps it', () => {
  let c = stageAddAdmins([], server, [{ name: 'dba@t.example', type: 'user', objectId: 'o2' }]);
  c = stageAddAdmins(c, server, [
    { name: 'dba@t.example', type: 'user', objectId: 'o2' },
    { name: 'admin@t.example', type: 'user' },
  ]);
  assert.deepEqual(
    c.map((x) => x.kind),
    ['add-admin'],
  );
  assert.deepEqual(stageRemoveAdmin(c, server, 'dba@t.example'), []);
  c = stageRemoveAdmin([], server, 'admin@t.example');
  assert.deepEqual(
    adminRows(c, server).map((r) => [r.name, r.status]),
    [['admin@t.example', 'removed']],
  );
  assert.deepEqual(stageAddAdmins(c, server, [{ name: 'admin@t.example', type: 'user' }]), []);
});

test('roles: a new role reset or deleted before Save changes only the staged addition', () => {
  let c = stageAddRole([], 'db_user', 'Passw0rd-1!');
  c = stageResetPassword(c, 'db_user', 'Passw0rd-2!');
  assert.deepEqual(
    c.map((x) => ({ kind: x.kind, password: 'password' in x ? x.password : undefined })),
    [{ kind: 'add-role', password: 'Passw0rd-2!' }],
  );
  assert.deepEqual(takenRoleNames(c, server), ['citus', 'app', 'db_user']);
  assert.deepEqual(stageDeleteRole(c, 'db_user'), []);
  c = stageResetPassword([], 'app', 'Passw0rd-1!');
  c = stageDeleteRole(c, 'app');
  assert.deepEqual(
    c.map((x) => x.kind),
    ['delete-role'],
    'a deletion drops the reset',
  );
  assert.deepEqual(
    roleRows(c, server).map((r) => [r.name, r.status]),
    [
      ['citus', 'saved'],
      ['app', 'removed'],
    ],
  );
  assert.deepEqual(unstage(c, c[0]!.id), []);
});

test('Save applies admins and roles first and the methods last', () => {
  let c = stageMethod([], server, 'entra');
  c = stageDeleteRole(c, 'app');
  c = stageAddRole(c, 'db_user', 'Passw0rd-1!');
  c = stageAddAdmins(c, server, [{ name: 'dba@t.example', type: 'user' }]);
  assert.deepEqual(
    applyOrder(c).map((x) => x.kind),
    ['add-admin', 'add-role', 'delete-role', 'method'],
  );
});

test('Entra only without an admin blocks Save; citus is warned that it will be disabled', () => {
  const none: ServerState = { ...server, admins: [] };
  assert.deepEqual(
    notices(stageMethod([], none, 'entra'), none, citus).map((n) => n.level),
    ['error', 'warning'],
  );
  const withAdmin = stageMethod([], server, 'entra');
  assert.deepEqual(
    notices(withAdmin, server, citus).map((n) => n.level),
    ['warning'],
  );
  const removesSelf = stageRemoveAdmin([], server, 'admin@t.example');
  assert.match(notices(removesSelf, server, { kind: 'entra', name: 'admin@t.example' })[0]!.text, /removing yourself/);
});

test('session expiry: never unless saved otherwise, one change at most, applied before the methods', () => {
  assert.equal(effectiveSessionExpiry([], server), 'never');
  let c = stageSessionExpiry([], server, 'token');
  assert.equal(effectiveSessionExpiry(c, server), 'token');
  assert.equal(describeChange(c[0]!), 'End sessions when their access token expires');
  assert.deepEqual(stageSessionExpiry(c, server, 'never'), []);
  c = stageMethod(c, server, 'both');
  assert.deepEqual(
    applyOrder(c).map((x) => x.kind),
    ['session-expiry', 'method'],
  );
  const saved: ServerState = { ...server, sessionExpiry: 'token' };
  assert.equal(describeChange(stageSessionExpiry([], saved, 'never')[0]!), 'Keep sessions after their access token expires');
});
