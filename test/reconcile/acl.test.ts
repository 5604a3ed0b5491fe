// ACLs compared per grantee, grantor, privilege and grant option, and the statements
// that close the gap.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deltaSql, diffAcl } from '../../src/reconcile/acl.js';
import { normaliseAcl, parseAclItem } from '../../src/reconcile/acl-text.js';
import { BOOTSTRAP, OWNER, PUBLIC, type AclEntry } from '../../src/reconcile/model.js';

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
    'REVOKE INSERT, DELETE ON TABLE "s"."t" FROM "bob" CASCADE; ' +
      'GRANT UPDATE ON TABLE "s"."t" TO "bob"; GRANT SELECT ON TABLE "s"."t" TO "bob" WITH GRANT OPTION',
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

test('aclitem text parses as aclitemout() writes it', () => {
  assert.deepEqual(
    parseAclItem('citus=arwdDxtm/citus')?.privileges.map(([p]) => p),
    ['INSERT', 'SELECT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER', 'MAINTAIN'],
  );
  assert.deepEqual(parseAclItem('=Tc/postgres'), {
    grantee: '',
    grantor: 'postgres',
    privileges: [
      ['TEMPORARY', false],
      ['CONNECT', false],
    ],
  });
  assert.deepEqual(parseAclItem('"quo""te=/x"=r*U/"Mixed Case"'), {
    grantee: 'quo"te=/x',
    grantor: 'Mixed Case',
    privileges: [
      ['SELECT', true],
      ['USAGE', false],
    ],
  });
  assert.deepEqual(parseAclItem('"user@tenant.onmicrosoft.com"=X/app_owner')?.grantee, 'user@tenant.onmicrosoft.com');
  for (const bad of ['', 'x', 'x=r', 'x=q/y', '"x=r/y', 'x=r/"y']) assert.equal(parseAclItem(bad), undefined, bad);
});

test('normalised: the owner and the bootstrap superuser become placeholders; unknown names are left out', () => {
  const ctx = { bootstrapName: 'postgres', known: new Set(['postgres', 'citus', 'bob']) };
  assert.deepEqual(normaliseAcl(['citus=r*/citus', 'bob=w/citus', '=U/postgres', '16999=r/citus'], 'citus', ctx, []), [
    e(OWNER, 'SELECT', true),
    e('bob', 'UPDATE'),
    e(PUBLIC, 'USAGE', false, BOOTSTRAP),
  ]);
  assert.deepEqual(normaliseAcl(null, 'citus', ctx, [e(OWNER, 'USAGE')]), [e(OWNER, 'USAGE')]);
});
