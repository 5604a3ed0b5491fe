// What users do in SQL through the gateway reaches every worker: GRANT and REVOKE on one
// table or on all tables of a schema, column, sequence, routine and schema privileges,
// default privileges, grants by a grantee holding the grant option; and what fires no
// event trigger (roles, memberships, role settings, database privileges) arrives with
// the control plane's trigger().
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { addNativeRole } from '../../src/control/native-roles.js';
import { parseAclItem } from '../../src/reconcile/acl-text.js';
import { installReconcileSchema } from '../../src/reconcile/index.js';
import { CITUS_PASSWORD, psql, startTestPgwarden, waitFor, type TestPgwarden } from '../helpers/pgwarden.js';
import { asRole, differences, sql, startReconciler, waitForConvergence, type TestReconciler } from './helpers.js';

const ENTRA_USER = 'user@tenant.onmicrosoft.com';

let pw: TestPgwarden;
let r: TestReconciler;

before(async () => {
  pw = await startTestPgwarden({ workers: 2 });
  // No periodic pass: what these tests see comes from their own triggers.
  r = await startReconciler(pw.cluster, { intervalMs: 3_600_000 });
  await r.reconciler.runPass();
});
after(async () => {
  await r?.reconciler.stop();
  await pw?.destroy();
});

/** Runs SQL through the gateway as citus, as a user of the managed service would. */
async function asCitus(text: string): Promise<void> {
  const res = await psql(pw.conn('citus'), text, CITUS_PASSWORD);
  assert.equal(res.code, 0, res.stderr);
}

async function may(node: number, role: string, table: string, privilege: string): Promise<boolean> {
  const rows = await sql(pw.cluster, pw.cluster.nodes[node]!, 'SELECT has_table_privilege($1, $2, $3) AS ok', [role, table, privilege]);
  return rows[0]!.ok as boolean;
}

/** The coordinator's clock now (the clock of pg_stat_activity.query_start). */
async function coordinatorNow(): Promise<string> {
  return (await sql(pw.cluster, pw.cluster.coordinator, 'SELECT clock_timestamp()::text AS now'))[0]!.now as string;
}

/**
 * Waits until every connection that reads the shared catalogs' digest (this file's
 * reconciler's and pgwarden's own, once a second each) has begun two reads after `since`.
 * The first of them has then been compared with the read before it, and any pass that
 * comparison asks for has been asked for.
 */
async function twoDigestReadsSince(since: string): Promise<void> {
  const first = new Map<number, string>();
  await waitFor(
    async () => {
      const rows = await sql(
        pw.cluster,
        pw.cluster.coordinator,
        `SELECT pid, query_start::text AS started, query_start > $1::timestamptz AS after FROM pg_stat_activity
        WHERE query LIKE '%FROM pg_auth_members m)%' AND pid <> pg_backend_pid()`,
        [since],
      );
      for (const row of rows) if (row.after && !first.has(row.pid as number)) first.set(row.pid as number, row.started as string);
      return rows.length > 0 && rows.every((row) => row.after && first.get(row.pid as number) !== row.started);
    },
    10_000,
    "two reads of the shared catalogs' digest",
  );
}

async function relacl(node: number, table: string): Promise<unknown> {
  const rows = await sql(pw.cluster, pw.cluster.nodes[node]!, 'SELECT relacl::text FROM pg_class WHERE oid = to_regclass($1)', [table]);
  return rows[0]?.relacl;
}

test('GRANT SELECT ON mytable TO db_user through the gateway reaches every worker', async () => {
  await sql(pw.cluster, pw.cluster.coordinator, 'CREATE ROLE db_user LOGIN');
  await asCitus('CREATE TABLE mytable (id int PRIMARY KEY, secret text)');
  await asRole(pw.cluster, 'CREATE TABLE mytable (id int PRIMARY KEY, secret text)', 'citus', pw.cluster.workers);
  await asCitus('GRANT SELECT ON mytable TO db_user');
  await waitForConvergence(pw.cluster);
  for (const i of [1, 2]) assert.equal(await relacl(i, 'mytable'), '{citus=arwdDxtm/citus,db_user=r/citus}');
});

test(
  'the service database citus is looked after like postgres: psql as citus with no dbname lands there, ' + 'and a GRANT there reaches every worker at once',
  async () => {
    for (const node of pw.cluster.nodes) await sql(pw.cluster, node, 'SET ROLE citus; CREATE TABLE service_orders (id int)', [], 'citus');
    // As the managed service's connection strings read: no dbname, so libpq asks for "citus".
    const res = await psql(
      `host=127.0.0.1 port=${pw.port} user=citus sslmode=require`,
      'SELECT current_database(); GRANT SELECT ON service_orders TO db_user',
      CITUS_PASSWORD,
    );
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /^citus$/m);
    // This file's reconciler has no periodic pass: only the event trigger in citus starts one.
    const acl = async (node: number) =>
      (await sql(pw.cluster, pw.cluster.nodes[node]!, "SELECT relacl::text FROM pg_class WHERE relname = 'service_orders'", [], 'citus'))[0]?.relacl;
    await waitFor(
      async () => (await acl(1)) === '{citus=arwdDxtm/citus,db_user=r/citus}' && (await acl(2)) === (await acl(0)),
      10_000,
      'the GRANT in citus on every worker',
    );
    // The pass's log line comes when it ends.
    await waitFor(() => r.logs.some((l) => l.includes('coordinator in citus: GRANT')), 10_000, 'a pass asked for by the trigger in citus');
    assert.deepEqual(await differences(pw.cluster, pw.cluster.workers, 'citus'), []);
  },
);

test('GRANT and REVOKE ON ALL TABLES IN SCHEMA public for an Entra principal role', async () => {
  await sql(pw.cluster, pw.cluster.coordinator, `CREATE ROLE "${ENTRA_USER}" LOGIN`);
  await asRole(pw.cluster, 'CREATE TABLE orders (id int); CREATE VIEW recent_orders AS SELECT * FROM orders');
  await asCitus(`GRANT SELECT ON ALL TABLES IN SCHEMA public TO "${ENTRA_USER}"`);
  await waitForConvergence(pw.cluster);
  assert.equal(await may(2, ENTRA_USER, 'recent_orders', 'SELECT'), true);

  await asCitus(`REVOKE SELECT ON ALL TABLES IN SCHEMA public FROM "${ENTRA_USER}"`);
  await waitForConvergence(pw.cluster);
  assert.equal(await may(1, ENTRA_USER, 'orders', 'SELECT'), false);
});

test('column, sequence, routine, schema and default privileges, and grants by a grantee with the grant option', async () => {
  for (const role of ['analyst', 'Report Reader', 'app"quoted']) await sql(pw.cluster, pw.cluster.coordinator, `CREATE ROLE "${role.replace(/"/g, '""')}"`);
  await asRole(
    pw.cluster,
    `
    CREATE SCHEMA "Sales";
    CREATE TABLE "Sales".deals (id serial, amount numeric, note text);
    CREATE FUNCTION "Sales".total(since date, "limit" int DEFAULT 10) RETURNS numeric LANGUAGE sql AS 'SELECT 1::numeric';
    CREATE PROCEDURE "Sales".close_deal(id int) LANGUAGE sql AS 'SELECT 1'`,
  );
  await asCitus(`
    GRANT USAGE ON SCHEMA "Sales" TO analyst, "Report Reader";
    GRANT SELECT (id, amount), UPDATE (note) ON "Sales".deals TO "Report Reader";
    GRANT USAGE, SELECT ON SEQUENCE "Sales".deals_id_seq TO analyst;
    REVOKE EXECUTE ON FUNCTION "Sales".total(date, int) FROM PUBLIC;
    GRANT EXECUTE ON FUNCTION "Sales".total(date, int) TO analyst WITH GRANT OPTION;
    GRANT EXECUTE ON PROCEDURE "Sales".close_deal(int) TO "app""quoted";
    GRANT SELECT ON "Sales".deals TO analyst WITH GRANT OPTION;
    ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO "Report Reader";
    ALTER DEFAULT PRIVILEGES IN SCHEMA "Sales" GRANT USAGE ON SEQUENCES TO analyst;
    ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC`);
  // analyst passes on what it may: PostgreSQL records analyst as the grantor.
  await pw.cluster.withSuperuser(pw.cluster.coordinator, async (c) => {
    await c.query('SET ROLE analyst');
    await c.query('GRANT SELECT ON "Sales".deals TO "Report Reader"');
    await c.query('GRANT EXECUTE ON FUNCTION "Sales".total(date, int) TO "Report Reader"');
  });
  await waitForConvergence(pw.cluster);
  const grantors = await sql(
    pw.cluster,
    pw.cluster.workers[1]!,
    'SELECT x.grantor::regrole::text AS grantor FROM pg_class c, aclexplode(c.relacl) x ' +
      `WHERE c.oid = '"Sales".deals'::regclass AND x.grantee = '"Report Reader"'::regrole`,
  );
  assert.deepEqual(grantors, [{ grantor: 'analyst' }]);
});

test('an object only on the coordinator is skipped, and the workers stay in sync', async () => {
  await asCitus('CREATE TABLE coordinator_only (id int); GRANT SELECT ON coordinator_only TO db_user');
  const report = await r.reconciler.runPass();
  for (const n of report.nodes) {
    assert.deepEqual(n.errors, [], n.node);
    assert.equal(n.remaining, '', n.node);
    assert.ok(n.skippedObjects >= 1, n.node);
  }
  assert.deepEqual(
    r.reconciler.status().map((s) => s.state),
    ['in-sync', 'in-sync'],
  );
  await asCitus('DROP TABLE coordinator_only');
});

test('roles, memberships, role settings and database privileges arrive with trigger()', async () => {
  const c = pw.cluster.coordinator;
  await sql(pw.cluster, c, `CREATE ROLE readers NOLOGIN; CREATE ROLE "Mixed Case" LOGIN CONNECTION LIMIT 3 VALID UNTIL '2031-02-03 04:05:06+00' CREATEDB`);
  await sql(pw.cluster, c, 'GRANT readers TO "Mixed Case" WITH ADMIN TRUE, INHERIT FALSE; GRANT readers TO db_user');
  await sql(
    pw.cluster,
    c,
    `ALTER ROLE "Mixed Case" SET search_path = "$user", "Sales", public; ALTER ROLE "Mixed Case" IN DATABASE postgres SET work_mem = '8MB'`,
  );
  await sql(pw.cluster, c, 'GRANT CONNECT, TEMPORARY ON DATABASE postgres TO readers; REVOKE TEMPORARY ON DATABASE postgres FROM PUBLIC');
  r.reconciler.trigger('test: role changes');
  await waitForConvergence(pw.cluster);
  const settings = await sql(
    pw.cluster,
    pw.cluster.workers[0]!,
    `SELECT setconfig FROM pg_db_role_setting WHERE setrole = '"Mixed Case"'::regrole AND setdatabase = 0`,
  );
  assert.deepEqual(settings[0]!.setconfig, ['search_path="$user", "Sales", public']);
});

test('roles, memberships, role settings and database privileges made in SQL arrive without a trigger, long before the periodic pass', async () => {
  // No event trigger fires for these: the reconciler reads a digest of the shared
  // catalogs every second (and this file's reconciler has no periodic pass).
  const c = pw.cluster.coordinator;
  const passes = () => r.logs.filter((l) => l.includes('"reconcile-pass"'));
  const earlier = passes().length;
  await sql(pw.cluster, c, `CREATE ROLE "New Person@example.com" LOGIN; GRANT readers TO "New Person@example.com"`);
  await sql(pw.cluster, c, `ALTER ROLE "New Person@example.com" IN DATABASE postgres SET statement_timeout = '9s'`);
  await sql(pw.cluster, c, 'GRANT CREATE ON DATABASE postgres TO "New Person@example.com"');
  const changed = await coordinatorNow();
  await waitForConvergence(pw.cluster);
  const [row] = await sql(
    pw.cluster,
    pw.cluster.workers[0]!,
    "SELECT has_database_privilege('New Person@example.com', 'postgres', 'CREATE') AS can, " +
      "pg_has_role('New Person@example.com', 'readers', 'MEMBER') AS member",
  );
  assert.deepEqual(row, { can: true, member: true });
  // The workers match as soon as the pass has applied its statements; its log line comes
  // when it ends.
  await waitFor(
    () =>
      passes()
        .slice(earlier)
        .some((l) => l.includes('roles, memberships, role settings or database privileges changed')),
    10_000,
    'the log of a pass asked for by the digest',
  );
  // A pass changes nothing on the coordinator, so the digest stays put: no pass follows a
  // pass. The statements above ask for their passes by the first digest read after them
  // (a read between them may ask for one more); once the next read has begun, all are
  // asked for, and a pass asked for now ends after them.
  await twoDigestReadsSince(changed);
  await r.reconciler.runPass('test: after the changes');
  const before = passes().length;
  // A digest read that begins after every pass has ended sees what they did to the digest
  // (or the read before it did, and asked for a pass already); once the next read has
  // begun, whatever it asked for runs before, or together with, this file's last pass.
  await twoDigestReadsSince(await coordinatorNow());
  await r.reconciler.runPass('test: nothing changed');
  const reasons = passes()
    .slice(before)
    .map((l) => (JSON.parse(l) as { reasons: string[] }).reasons);
  assert.deepEqual(reasons, [['test: nothing changed']], 'no pass while nothing changes');
});

test('a changed password is copied as the same verifier, which never reaches logs, reports or status', async () => {
  await sql(pw.cluster, pw.cluster.coordinator, `ALTER ROLE db_user PASSWORD 'Db-User-Passw0rd'`);
  const report = await r.reconciler.runPass();
  const verifiers = await Promise.all(
    pw.cluster.nodes.map(async (n) => (await sql(pw.cluster, n, `SELECT rolpassword FROM pg_authid WHERE rolname = 'db_user'`))[0]!.rolpassword as string),
  );
  assert.match(verifiers[0]!, /^SCRAM-SHA-256\$/);
  assert.equal(new Set(verifiers).size, 1, 'the same verifier on every node');
  const signIn = await psql(pw.conn('db_user'), 'select current_user', 'Db-User-Passw0rd');
  assert.equal(signIn.stdout.trim(), 'db_user', signIn.stderr);

  const seen = [r.logs.join('\n'), JSON.stringify(report), JSON.stringify(r.reconciler.status()), JSON.stringify(r.transitions)].join('\n');
  const [, , , storedKey, serverKey] = verifiers[0]!.split(/[$:]/);
  for (const part of [verifiers[0]!, storedKey!, serverKey!, 'Db-User-Passw0rd']) assert.ok(!seen.includes(part), 'a secret reached the logs or a report');
  assert.ok(
    r.logs.some((l) => l.includes('reconcile-pass')),
    'the pass was logged',
  );
});

test('every ACL in the database parses to what aclexplode() says', async () => {
  const rows = await sql(
    pw.cluster,
    pw.cluster.coordinator,
    `
    SELECT acl::text[] AS items,
           (SELECT array_agg(json_build_array(CASE WHEN x.grantee = 0 THEN '' ELSE pg_get_userbyid(x.grantee)::text END,
                                              x.privilege_type, x.is_grantable, pg_get_userbyid(x.grantor)::text)::text)
              FROM aclexplode(acl) x) AS exploded
      FROM (SELECT relacl FROM pg_class UNION ALL SELECT proacl FROM pg_proc UNION ALL SELECT nspacl FROM pg_namespace
            UNION ALL SELECT datacl FROM pg_database UNION ALL SELECT attacl FROM pg_attribute UNION ALL SELECT defaclacl FROM pg_default_acl) AS a(acl)
     WHERE acl IS NOT NULL AND cardinality(acl) > 0`,
  );
  assert.ok(rows.length > 50);
  for (const row of rows) {
    const parsed = (row.items as string[]).flatMap((text) => {
      const item = parseAclItem(text);
      assert.ok(item, text);
      return item.privileges.map(([p, g]) => JSON.stringify([item.grantee, p, g, item.grantor]));
    });
    const exploded = (row.exploded as string[]).map((j) => JSON.stringify(JSON.parse(j)));
    assert.deepEqual(parsed.sort(), exploded.sort(), (row.items as string[]).join(','));
  }
});

test('roles the control plane creates on every node count as propagated; installReconcileSchema() can run again', async () => {
  await addNativeRole(pw.cluster, 'portal_user', 'Portal-User-Passw0rd');
  await r.reconciler.runPass();
  assert.deepEqual(await sql(pw.cluster, pw.cluster.coordinator, "SELECT role_name FROM pgwarden.propagated_roles WHERE role_name = 'portal_user'"), [
    { role_name: 'portal_user' },
  ]);

  await pw.cluster.withSuperuser(pw.cluster.coordinator, installReconcileSchema);
  assert.deepEqual(await sql(pw.cluster, pw.cluster.coordinator, "SELECT count(*)::int AS n FROM pg_event_trigger WHERE evtname = 'pgwarden_reconcile'"), [
    { n: 1 },
  ]);
  await asCitus('GRANT SELECT ON mytable TO portal_user');
  await waitForConvergence(pw.cluster);
});
