// ACLs compared per grantee, grantor, privilege and grant option, and the statements
// that close the gap.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deltaSql, diffAcl } from '../../src/reconcile/acl.js';
import { OWNER, PUBLIC, type AclEntry } from '../../src/reconcile/model.js';

const e = (grantee: string, privilege: string, grantable = false, grantor = OWNER): AclEntry => ({ grantee, grantor, privilege, grantable });

test('equal ACLs in another order need nothing', () => {
  const a = [e(OWNER, 'SELECT'), e(OWNER, 'INSERT'), e('bob', 'SELECT'), e(PUBLIC, 'USAGE')];
  assert.deepEqual(diffAcl(a, [...a].reverse()), []);
});

test('missing privileges are granted, extra ones revoked, per grantee', () => {
  const d = diffAcl([e('bob', 'SELECT'), e('bob', 'UPDATE'), e('eve', 'INSERT')], [e('bob', 'SELECT'), e('bob', 'DELETE')]);
  assert.deepEqual(d, [
    { grantee: 'bob', grantor: OWNER, grant: ['UPDATE'], grantWithOption: [], revoke: ['DELETE'], revokeOption: [] },
    { grantee: 'eve', grantor: OWNER, grant: ['INSERT'], grantWithOption: [], revoke: [], revokeOption: [] },
  ]);
});

test('the grant option is added and taken away on its own', () => {
  const d = diffAcl([e('bob', 'SELECT', true), e('bob', 'INSERT')], [e('bob', 'SELECT'), e('bob', 'INSERT', true)]);
  assert.deepEqual(d, [{ grantee: 'bob', grantor: OWNER, grant: [], grantWithOption: ['SELECT'], revoke: [], revokeOption: ['INSERT'] }]);
});

test('the same privilege from two grantors is two entries', () => {
  const d = diffAcl([e('bob', 'SELECT'), e('bob', 'SELECT', false, 'alice')], [e('bob', 'SELECT')]);
  assert.equal(d.length, 1);
  assert.equal(d[0]!.grantor, 'alice');
  assert.deepEqual(d[0]!.grant, ['SELECT']);
});

test('unknown privilege words never reach a statement', () => {
  assert.deepEqual(diffAcl([e('bob', 'SELECT; DROP TABLE x')], []), []);
});

test('revokes come before grants; a grant by someone other than the owner runs as that role', () => {
  const [d] = diffAcl([e('bob', 'SELECT', true), e('bob', 'UPDATE')], [e('bob', 'DELETE'), e('bob', 'INSERT', true)]);
  assert.equal(
    deltaSql({ ...d!, revokeOption: [] }, { on: 'ON TABLE "s"."t"' }, '"bob"'),
    'REVOKE INSERT, DELETE ON TABLE "s"."t" FROM "bob" CASCADE; GRANT UPDATE ON TABLE "s"."t" TO "bob"; GRANT SELECT ON TABLE "s"."t" TO "bob" WITH GRANT OPTION',
  );
  assert.equal(
    deltaSql(diffAcl([e('x', 'SELECT')], [])[0]!, { on: 'ON TABLE "t"', columns: ' ("c")' }, '"x"', '"alice"'),
    'SET ROLE "alice"; GRANT SELECT ("c") ON TABLE "t" TO "x"; RESET ROLE',
  );
  assert.equal(
    deltaSql(diffAcl([], [e(PUBLIC, 'EXECUTE')])[0]!, { prefix: 'ALTER DEFAULT PRIVILEGES FOR ROLE "r" ', on: 'ON ROUTINES' }, 'PUBLIC'),
    'ALTER DEFAULT PRIVILEGES FOR ROLE "r" REVOKE EXECUTE ON ROUTINES FROM PUBLIC CASCADE',
  );
});
