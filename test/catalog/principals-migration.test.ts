// A catalog from before OpenID Connect issuers (object and tenant ids as uuid, no issuer)
// is migrated in place at the next start: its Entra principals keep their rows and keep
// signing in. Run on a real coordinator: the table is put back in its old shape, then
// the schema is installed as a start does.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { installCatalogSchema } from '../../src/catalog/schema.js';
import { coordinatorOf } from '../../src/cluster/admin.js';
import { psql, startTestPgwarden, type TestPgwarden } from '../helpers/pgwarden.js';
import { savedAdmin, userToken } from '../helpers/entra.js';

let pw: TestPgwarden;
before(async () => {
  pw = await startTestPgwarden();
});
after(async () => {
  await pw?.destroy();
});

test("an older catalog's principals table migrates cleanly, and its Entra admin still signs in", async () => {
  const admin = await savedAdmin(pw);
  const columns = (c: Parameters<Parameters<typeof pw.cluster.withAdmin>[1]>[0]) =>
    c
      .query<{ column_name: string; data_type: string; is_nullable: string }>(
        `SELECT column_name, data_type, is_nullable FROM information_schema.columns
          WHERE table_schema = 'pgwarden' AND table_name = 'entra_principals' AND column_name IN ('object_id', 'tenant_id', 'issuer') ORDER BY 1`,
      )
      .then((r) => r.rows.map((x) => `${x.column_name} ${x.data_type} ${x.is_nullable === 'YES' ? 'null' : 'not null'}`));
  await pw.cluster.withAdmin(coordinatorOf(pw.cluster), async (c) => {
    // The shape of the table as older releases created it.
    await c.query('ALTER TABLE pgwarden.entra_principals DROP CONSTRAINT entra_principals_issuer_or_tenant');
    await c.query('ALTER TABLE pgwarden.entra_principals DROP COLUMN issuer');
    await c.query('ALTER TABLE pgwarden.entra_principals ALTER COLUMN object_id TYPE uuid USING object_id::uuid');
    await c.query('ALTER TABLE pgwarden.entra_principals ALTER COLUMN tenant_id SET NOT NULL');
    assert.deepEqual(await columns(c), ['object_id uuid not null', 'tenant_id uuid not null']);
    const before = (await c.query('SELECT role_name, object_id::text, tenant_id::text FROM pgwarden.entra_principals ORDER BY 1')).rows;

    await installCatalogSchema(c, { initialAuthMethod: 'both' });
    assert.deepEqual(await columns(c), ['issuer text null', 'object_id text not null', 'tenant_id uuid null']);
    const rows = (await c.query('SELECT role_name, object_id, tenant_id::text, issuer FROM pgwarden.entra_principals ORDER BY 1')).rows;
    assert.deepEqual(
      rows,
      before.map((r) => ({ ...r, issuer: null })),
    );
    assert.ok(rows.some((r) => r.role_name === admin.username && r.object_id === admin.objectId.toLowerCase()));
    // Twice is a no-op.
    await installCatalogSchema(c, { initialAuthMethod: 'both' });
    assert.deepEqual(await columns(c), ['issuer text null', 'object_id text not null', 'tenant_id uuid null']);
    // Rows the constraint refuses: an Entra principal without a GUID, another issuer's with a tenant.
    await assert.rejects(
      c.query(`INSERT INTO pgwarden.entra_principals (role_name, principal_type, object_id, tenant_id) VALUES ('x', 'user', 'not-a-guid', $1)`, [
        admin.tenantId,
      ]),
      /entra_principals_issuer_or_tenant/,
    );
    await assert.rejects(
      c.query(`INSERT INTO pgwarden.entra_principals (role_name, principal_type, object_id, tenant_id, issuer) VALUES ('x', 'user', 's', $1, 'https://i')`, [
        admin.tenantId,
      ]),
      /entra_principals_issuer_or_tenant/,
    );
  });
  const r = await psql(pw.conn(admin.username), 'select current_user', await userToken(pw, admin.username, admin.password));
  assert.equal(r.stdout.trim(), admin.username, r.stderr);
});
