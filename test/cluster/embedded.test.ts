// The embedded cluster: what every node looks like, what survives a restart, what is
// left behind after a stop (nothing).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CITUS_PASSWORD, psql, startTestPgwarden, type TestPgwarden } from '../helpers/pgwarden.js';
import { alive } from '../helpers/pgwarden.js';

let pw: TestPgwarden;

before(async () => {
  pw = await startTestPgwarden({ workers: 2 });
});
after(async () => {
  await pw?.destroy();
});

test('a coordinator and two workers run, each with citus as the managed service has it', async () => {
  assert.equal(pw.cluster.nodes.length, 3);
  for (const node of pw.cluster.nodes) {
    const row = await pw.cluster.withSuperuser(node, async (c) => {
      const r = await c.query(`
        select r.rolcanlogin, r.rolsuper, r.rolcreaterole, r.rolcreatedb, r.rolreplication, r.rolbypassrls,
               r.rolpassword like 'SCRAM-SHA-256$%' as scram,
               has_database_privilege('citus', 'postgres', 'CREATE') as db_create,
               has_schema_privilege('citus', 'public', 'CREATE') as schema_create,
               current_setting('password_encryption') as enc,
               current_setting('listen_addresses') as listen,
               (select array_agg(distinct auth_method) from pg_hba_file_rules) as hba
          from pg_authid r where r.rolname = 'citus'`);
      return r.rows[0];
    });
    assert.deepEqual(
      row,
      {
        rolcanlogin: true,
        rolsuper: false,
        rolcreaterole: false,
        rolcreatedb: false,
        rolreplication: false,
        rolbypassrls: false,
        scram: true,
        db_create: true,
        schema_create: true,
        enc: 'scram-sha-256',
        listen: '',
        hba: ['scram-sha-256'],
      },
      node.name,
    );
  }
});

test('every node has the service database citus, where citus may create what it may in postgres', async () => {
  for (const node of pw.cluster.nodes) {
    const row = await pw.cluster.withSuperuser(
      node,
      async (c) => {
        const r = await c.query(`
        select current_database() as db, pg_get_userbyid(d.datdba) as owner,
               has_database_privilege('citus', 'citus', 'CONNECT, CREATE, TEMPORARY') as db_privileges,
               has_schema_privilege('citus', 'public', 'USAGE, CREATE') as schema_privileges
          from pg_database d where d.datname = current_database()`);
        return r.rows[0];
      },
      'citus',
    );
    assert.deepEqual(row, { db: 'citus', owner: 'postgres', db_privileges: true, schema_privileges: true }, node.name);
  }
});

test('citus creates tables in postgres and grants on what it owns, but cannot create roles', async () => {
  const r = await psql(pw.conn('citus'), 'create table owned_by_citus(id int); grant select on owned_by_citus to public; select 1', CITUS_PASSWORD);
  assert.equal(r.code, 0, r.stderr);
  const role = await psql(pw.conn('citus'), 'create role sneaky', CITUS_PASSWORD);
  assert.match(role.stderr, /permission denied to create role/);
});

test('the same verifier (same salt) for citus on every node', async () => {
  const verifiers = await Promise.all(
    pw.cluster.nodes.map((n) =>
      pw.cluster.withSuperuser(n, async (c) => (await c.query("select rolpassword from pg_authid where rolname = 'citus'")).rows[0].rolpassword as string),
    ),
  );
  assert.equal(new Set(verifiers.map((v) => v.split('$')[1])).size, 1, 'one salt everywhere');
});

test('secrets are readable only by their owner', async () => {
  for (const file of ['citus.password', 'secrets.json', 'tls/server.key', 'tls/ca.key']) {
    const mode = (await stat(join(pw.dataDir, file))).mode & 0o777;
    assert.equal(mode, 0o600, `${file} has mode ${mode.toString(8)}`);
  }
  assert.equal((await readFile(join(pw.dataDir, 'citus.password'), 'utf8')).trim(), CITUS_PASSWORD);
});

test('a restart keeps the data; a stop leaves no PostgreSQL process behind', async () => {
  const create = await psql(pw.conn('citus'), 'create table survives(v text); insert into survives values ($$kept$$)', CITUS_PASSWORD);
  assert.equal(create.code, 0, create.stderr);
  const pids = pw.cluster.nodes.map((n) => n.pid!);
  assert.ok(pids.every(alive));
  await pw.stop();
  assert.ok(
    pids.every((p) => !alive(p)),
    'a server is still running after stop',
  );

  const again = await startTestPgwarden({}, pw.dataDir);
  try {
    const r = await psql(again.conn('citus'), 'select v from survives', CITUS_PASSWORD);
    assert.equal(r.stdout.trim(), 'kept', r.stderr);
  } finally {
    const newPids = again.cluster.nodes.map((n) => n.pid!);
    await again.stop();
    assert.ok(newPids.every((p) => !alive(p)));
  }
});
