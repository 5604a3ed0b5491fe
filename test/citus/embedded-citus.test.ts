// `pgwarden up --citus`: the embedded cluster is a real Citus 14 cluster (coordinator +
// 2 workers, SCRAM for every client, the node certificate between nodes). Through the
// gateway, as the seed's user would: distributed and reference tables, a repartition
// join (worker to worker), native roles and Entra principals reading a distributed table
// after a GRANT; every role and ACL on every node, shards included; Entra-only and back;
// a change while a worker is down.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EmbeddedCluster } from '../../src/cluster/embedded.js';
import { createLogger } from '../../src/util/log.js';
import { CITUS_PASSWORD, makeDataDir, psql, runCli, startTestPgwarden, waitFor, type TestPgwarden } from '../helpers/pgwarden.js';
import { apiClient, basic, bearer, type ApiClient } from '../helpers/api.js';
import { savedAdmin, userToken } from '../helpers/entra.js';
import { CITUS_BIN, onEveryNode, skipWithoutCitus } from '../helpers/citus.js';
import { rm } from 'node:fs/promises';

let pw: TestPgwarden;
let api: ApiClient;

const asCitus = (sql: string) => psql(pw.conn('citus'), sql, CITUS_PASSWORD);

async function ok(r: Promise<{ code: number | null; stdout: string; stderr: string }>): Promise<string> {
  const x = await r;
  assert.equal(x.code, 0, x.stderr);
  // psql -c with several statements prints each one's output: the last line is the answer.
  return x.stdout.trim().split('\n').at(-1)!;
}

describe('pgwarden up --citus', { skip: skipWithoutCitus }, () => {
  before(async () => {
    pw = await startTestPgwarden({ citus: true, postgresBin: CITUS_BIN });
    api = apiClient(pw.apiUrl, pw.caPath, basic('citus', CITUS_PASSWORD));
  });
  after(async () => {
    await pw?.destroy();
  });

  test('the embedded nodes are one Citus cluster: the extension everywhere, the workers in the metadata', async () => {
    const ext = await onEveryNode<{ v: string }>(pw, "SELECT extversion AS v FROM pg_extension WHERE extname = 'citus'");
    for (const [node, rows] of Object.entries(ext)) assert.match(rows[0]?.v ?? '', /^1[34]\./, node);
    const nodes = await ok(asCitus('SELECT count(*) FROM pg_dist_node WHERE isactive'));
    assert.equal(nodes, '3');
    const mode = await api.call('GET', '/api/v1/cluster');
    assert.equal(mode.status, 200);
    assert.equal(mode.data.propagation?.mode ?? mode.data.mode ?? 'citus', 'citus');
  });

  test('as citus: create_distributed_table, create_reference_table (two-phase commit) and a repartition join', async () => {
    // 4 shards, not Citus's 32: a repartition join opens a connection per fetch between
    // workers, which on two shared cores takes about 30 s with 32 shards.
    await ok(
      asCitus(`
      SET citus.shard_count = 4;
      CREATE TABLE events (id bigint PRIMARY KEY, kind int);
      SELECT create_distributed_table('events', 'id');
      INSERT INTO events SELECT g, g % 7 FROM generate_series(1, 200) g;
      CREATE TABLE kinds (id int PRIMARY KEY, name text);
      SELECT create_reference_table('kinds');
      INSERT INTO kinds SELECT g, 'kind ' || g FROM generate_series(0, 6) g;`),
    );
    assert.equal(await ok(asCitus('SELECT count(*) FROM events JOIN kinds ON kinds.id = events.kind')), '200');
    assert.equal(
      await ok(asCitus('SET citus.enable_repartition_joins = on; SELECT count(*) FROM events a JOIN events b ON a.kind = b.kind')),
      String(expectedSelfJoin()),
    );
    // Shards on both workers.
    const shards = await onEveryNode<{ n: string }>(pw, "SELECT count(*)::text AS n FROM pg_class WHERE relname ~ '^events_[0-9]+$'");
    assert.ok(Number(shards['worker-1']![0]!.n) > 0 && Number(shards['worker-2']![0]!.n) > 0, JSON.stringify(shards));
  });

  test('a native role added through the API reads a distributed table after GRANT, on every shard, and joins across workers', async () => {
    const add = await api.call('POST', '/api/v1/roles', { name: 'db_user', password: 'Db-User-Passw0rd' });
    assert.equal(add.status, 201, JSON.stringify(add.data));
    assert.deepEqual(
      add.data.nodes.map((n: { ok: boolean }) => n.ok),
      [true, true],
    );
    const verifiers = await onEveryNode<{ v: string }>(pw, "SELECT rolpassword AS v FROM pg_authid WHERE rolname = 'db_user'");
    assert.equal(new Set(Object.values(verifiers).map((r) => r[0]?.v)).size, 1, 'the same verifier on every node');

    const denied = await psql(pw.conn('db_user'), 'SELECT count(*) FROM events', 'Db-User-Passw0rd');
    assert.match(denied.stderr, /permission denied for table events/);
    await ok(asCitus('GRANT SELECT ON events, kinds TO db_user'));
    assert.equal(await ok(psql(pw.conn('db_user'), 'SELECT count(*) FROM events', 'Db-User-Passw0rd')), '200');
    assert.equal(
      await ok(
        psql(pw.conn('db_user'), 'SET citus.enable_repartition_joins = on; SELECT count(*) FROM events a JOIN events b ON a.kind = b.kind', 'Db-User-Passw0rd'),
      ),
      String(expectedSelfJoin()),
    );
    // Every shard of events on the workers grants db_user SELECT.
    const acl = await onEveryNode<{ shards: string; granted: string }>(
      pw,
      `SELECT count(*)::text AS shards, count(*) FILTER (WHERE has_table_privilege('db_user', c.oid, 'SELECT'))::text AS granted
         FROM pg_class c WHERE c.relname ~ '^events_[0-9]+$'`,
    );
    for (const node of ['worker-1', 'worker-2']) {
      const r = acl[node]![0]!;
      assert.ok(Number(r.shards) > 0, `${node} has shards`);
      assert.equal(r.granted, r.shards, `${node}: every shard grants SELECT`);
    }
  });

  test('the service database citus is a Citus database too: psql as citus with no dbname, a distributed table, a GRANT on every shard', async () => {
    // As the managed service's connection strings read; without dbname, libpq asks for the user's name.
    const inService = (sql: string) => psql(`host=127.0.0.1 port=${pw.port} user=citus sslmode=require`, sql, CITUS_PASSWORD);
    assert.equal(await ok(inService('SELECT current_database()')), 'citus');
    assert.equal(await ok(inService('SELECT count(*) FROM pg_dist_node WHERE isactive')), '3');
    await ok(
      inService(`
      SET citus.shard_count = 4;
      CREATE TABLE service_events (id bigint PRIMARY KEY);
      SELECT create_distributed_table('service_events', 'id');
      INSERT INTO service_events SELECT generate_series(1, 50);
      GRANT SELECT ON service_events TO db_user`),
    );
    assert.equal(await ok(psql(pw.conn('db_user', 'dbname=citus'), 'SELECT count(*) FROM service_events', 'Db-User-Passw0rd')), '50');
    const shards = await onEveryNode<{ shards: string; granted: string }>(
      pw,
      `SELECT count(*)::text AS shards, count(*) FILTER (WHERE has_table_privilege('db_user', c.oid, 'SELECT'))::text AS granted
         FROM pg_class c WHERE c.relname ~ '^service_events_[0-9]+$'`,
      [],
      'citus',
    );
    for (const node of ['worker-1', 'worker-2']) {
      assert.ok(Number(shards[node]![0]!.shards) > 0, `${node} has shards in citus`);
      assert.equal(shards[node]![0]!.granted, shards[node]![0]!.shards, `${node}: every shard grants SELECT`);
    }
  });

  test('an Entra principal reads a distributed table after GRANT SELECT ON ALL TABLES IN SCHEMA, and a worker-to-worker join', async () => {
    const upn = `analyst@${pw.idp!.tenantDomain}`;
    await pw.idp!.directory.addUser({ userPrincipalName: upn, displayName: 'Analyst', password: 'Analyst-Passw0rd-1' });
    const add = await api.call('POST', '/api/v1/entra-principals', { name: upn });
    assert.equal(add.status, 201, JSON.stringify(add.data));
    await ok(asCitus(`GRANT SELECT ON ALL TABLES IN SCHEMA public TO "${upn}"`));
    const token = await userToken(pw, upn, 'Analyst-Passw0rd-1');
    assert.equal(await ok(psql(pw.conn(upn), 'SELECT count(*) FROM events JOIN kinds ON kinds.id = events.kind', token)), '200');
    assert.equal(
      await ok(psql(pw.conn(upn), 'SET citus.enable_repartition_joins = on; SELECT count(*) FROM events a JOIN events b ON a.kind = b.kind', token)),
      String(expectedSelfJoin()),
    );
    const onShards = async () => {
      const rows = await onEveryNode<{ shards: string; granted: string }>(
        pw,
        `SELECT count(*)::text AS shards, count(*) FILTER (WHERE has_table_privilege($1, c.oid, 'SELECT'))::text AS granted
           FROM pg_class c WHERE c.relname ~ '^(events|kinds)_[0-9]+$'`,
        [upn],
      );
      return [rows['worker-1']![0]!, rows['worker-2']![0]!];
    };
    for (const r of await onShards()) {
      assert.ok(Number(r.shards) > 0);
      assert.equal(r.granted, r.shards, 'every shard placement grants the Entra principal SELECT');
    }
    await ok(asCitus(`REVOKE SELECT ON ALL TABLES IN SCHEMA public FROM "${upn}"`));
    const after = await psql(pw.conn(upn), 'SELECT count(*) FROM events', token);
    assert.match(after.stderr, /permission denied/);
    for (const r of await onShards()) assert.equal(r.granted, '0', 'the REVOKE reached every shard placement');
  });

  test('native roles added, reset and deleted through the CLI reach every node once; a worker down is exit 4 naming it', async () => {
    const verifiers = async () =>
      Object.values(await onEveryNode<{ v: string }>(pw, "SELECT rolpassword AS v FROM pg_authid WHERE rolname = 'Cli User'")).map((r) => r[0]?.v);
    const add = await runCli(['role', 'add', 'Cli User', '--password-stdin', '--data-dir', pw.dataDir], { input: 'Cli-User-Passw0rd-1\n' });
    assert.equal(add.code, 0, add.stderr);
    assert.match(add.stdout, /added role "Cli User"\n {2}worker-1: done\n {2}worker-2: done/);
    const first = await verifiers();
    assert.equal(new Set(first).size, 1, 'one verifier on every node');
    assert.ok(first[0]);
    const reset = await runCli(['role', 'reset-password', 'Cli User', '--password-stdin', '--data-dir', pw.dataDir], { input: 'Cli-User-Passw0rd-2\n' });
    assert.equal(reset.code, 0, reset.stderr);
    const second = await verifiers();
    assert.equal(new Set(second).size, 1);
    assert.notEqual(second[0], first[0]);
    assert.equal(await ok(psql(pw.conn('Cli User'), 'SELECT current_user', 'Cli-User-Passw0rd-2')), 'Cli User');

    const worker = pw.cluster.workers[0]!;
    await worker.stop();
    try {
      const refused = await runCli(['role', 'delete', 'Cli User', '--data-dir', pw.dataDir]);
      assert.equal(refused.code, 4, refused.stdout + refused.stderr);
      assert.match(refused.stderr, /worker-1 \(127\.0\.0\.1:\d+\) cannot be reached.*nothing was changed/);
    } finally {
      await worker.start();
    }
    const del = await runCli(['role', 'delete', 'Cli User', '--data-dir', pw.dataDir]);
    assert.equal(del.code, 0, del.stderr);
    assert.deepEqual(await verifiers(), [undefined, undefined, undefined]);
  });

  test('Microsoft Entra only makes citus NOLOGIN on every node; both brings it back', async () => {
    assert.equal((await api.call('PUT', '/api/v1/authentication', { methods: 'entra' })).status, 200);
    let login = await onEveryNode<{ l: boolean }>(pw, "SELECT rolcanlogin AS l FROM pg_roles WHERE rolname = 'citus'");
    assert.deepEqual(
      Object.values(login).map((r) => r[0]?.l),
      [false, false, false],
    );
    // citus cannot sign in now: an Entra admin switches back.
    const admin = await savedAdmin(pw);
    const token = await userToken(pw, admin.username, admin.password);
    const back = await api.call('PUT', '/api/v1/authentication', { methods: 'both' }, bearer(token));
    assert.equal(back.status, 200, JSON.stringify(back.data));
    login = await onEveryNode<{ l: boolean }>(pw, "SELECT rolcanlogin AS l FROM pg_roles WHERE rolname = 'citus'");
    assert.deepEqual(
      Object.values(login).map((r) => r[0]?.l),
      [true, true, true],
    );
  });

  test('a role that owns objects is refused with the reason, and deleted with reassignTo on every node', async () => {
    await api.call('POST', '/api/v1/roles', { name: 'owner_role', password: 'Owner-Passw0rd-1' });
    await pw.cluster.withSuperuser(pw.cluster.coordinator, (c) => c.query('GRANT CREATE ON SCHEMA public TO owner_role'));
    // Citus leaves this GRANT on the coordinator; the reconciler brings it to the workers.
    await waitFor(
      async () => {
        const r = await onEveryNode<{ ok: boolean }>(pw, "SELECT has_schema_privilege('owner_role', 'public', 'CREATE') AS ok");
        return Object.values(r).every((rows) => rows[0]?.ok === true);
      },
      10_000,
      'CREATE on public for owner_role on every node',
    );
    await ok(
      psql(
        pw.conn('owner_role'),
        "SET citus.shard_count = 4; CREATE TABLE owned (id bigint PRIMARY KEY); SELECT create_distributed_table('owned', 'id')",
        'Owner-Passw0rd-1',
      ),
    );
    const refused = await api.call('DELETE', '/api/v1/roles/owner_role');
    assert.equal(refused.status, 409, JSON.stringify(refused.data));
    assert.match(refused.data.detail ?? refused.data.title, /owns objects|owner of/);
    const deleted = await api.call('DELETE', '/api/v1/roles/owner_role?reassignTo=citus');
    assert.equal(deleted.status, 200, JSON.stringify(deleted.data));
    const left = await onEveryNode<{ n: string }>(pw, "SELECT count(*)::text AS n FROM pg_roles WHERE rolname = 'owner_role'");
    assert.deepEqual(
      Object.values(left).map((r) => r[0]?.n),
      ['0', '0', '0'],
    );
    const owners = await onEveryNode<{ o: string }>(pw, "SELECT DISTINCT pg_get_userbyid(relowner) AS o FROM pg_class WHERE relname ~ '^owned(_[0-9]+)?$'");
    for (const [node, rows] of Object.entries(owners))
      assert.deepEqual(
        rows.map((r) => r.o),
        ['citus'],
        node,
      );
  });

  test('a change while a worker is down: 503 naming the worker and what to do, nothing half-applied; it matches once back', async () => {
    const worker = pw.cluster.workers[1]!;
    await worker.stop();
    try {
      const r = await api.call('POST', '/api/v1/roles', { name: 'while_down', password: 'While-Down-Passw0rd' });
      assert.equal(r.status, 503, JSON.stringify(r.data));
      assert.match(r.data.detail, /worker-2 \(127\.0\.0\.1:\d+\) cannot be reached.*nothing was changed.*Start that node/);
      const on = await pw.cluster.withSuperuser(pw.cluster.coordinator, (c) => c.query("SELECT 1 FROM pg_roles WHERE rolname = 'while_down'"));
      assert.equal(on.rowCount, 0, 'nothing on the coordinator');
    } finally {
      await worker.start();
    }
    const add = await api.call('POST', '/api/v1/roles', { name: 'while_down', password: 'While-Down-Passw0rd' });
    assert.equal(add.status, 201, JSON.stringify(add.data));
    assert.equal(await ok(psql(pw.conn('while_down'), 'SELECT current_user', 'While-Down-Passw0rd')), 'while_down');
  });

  test('ALTER DEFAULT PRIVILEGES (Citus leaves it on the coordinator) reaches every node, also a worker that was down, once it is back', async (t) => {
    const defacl = async () =>
      Object.values(
        await onEveryNode<{ acl: string | null }>(
          pw,
          "SELECT defaclacl::text AS acl FROM pg_default_acl WHERE defaclrole = 'citus'::regrole AND defaclobjtype = 'r' AND defaclnamespace = 0",
        ),
      ).map((r) => r[0]?.acl ?? null);
    await ok(asCitus('ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO db_user'));
    await waitFor(async () => (await defacl()).every((a) => a?.includes('db_user=r/citus')), 5_000, 'the default privileges on every node');

    const worker = pw.cluster.workers[1]!;
    await worker.stop();
    try {
      // Citus needs no worker for this: it succeeds while worker-2 is down.
      await ok(asCitus('ALTER DEFAULT PRIVILEGES REVOKE SELECT ON TABLES FROM db_user'));
    } finally {
      await worker.start();
    }
    // The probe notices the return within a second and asks for a pass (`worker-2 is
    // reachable again`); how long that took is reported, not asserted (a loaded machine).
    const back = Date.now();
    await waitFor(async () => (await defacl()).every((a) => !a?.includes('db_user')), 60_000, 'worker-2 to match after its return');
    t.diagnostic(`worker-2 matched ${Date.now() - back} ms after it was started again`);
    // A table created after it, and distributed, grants nothing to db_user anywhere.
    await ok(asCitus("SET citus.shard_count = 4; CREATE TABLE later (id bigint PRIMARY KEY); SELECT create_distributed_table('later', 'id')"));
    const granted = await onEveryNode<{ n: string }>(
      pw,
      "SELECT count(*) FILTER (WHERE has_table_privilege('db_user', c.oid, 'SELECT'))::text AS n FROM pg_class c WHERE c.relname ~ '^later(_[0-9]+)?$'",
    );
    assert.deepEqual(
      Object.values(granted).map((r) => r[0]?.n),
      ['0', '0', '0'],
    );
  });

  test('a worker changed by hand is repaired by the reconciler, with Citus propagation off for its statements', async () => {
    const w1 = pw.cluster.workers[0]!;
    const granted = await pw.cluster.withSuperuser(w1, (c) =>
      c.query<{ ok: boolean }>(
        "SET citus.enable_ddl_propagation = off; REVOKE SELECT ON events FROM db_user; SELECT has_table_privilege('db_user', 'events', 'SELECT') AS ok",
      ),
    );
    assert.equal((granted as unknown as Array<{ rows: Array<{ ok: boolean }> }>)[2]!.rows[0]!.ok, false, 'revoked on worker-1 by hand');
    pw.reconciler.trigger('test');
    await waitFor(
      async () => {
        const r = await pw.cluster.withSuperuser(w1, (c) => c.query<{ ok: boolean }>("SELECT has_table_privilege('db_user', 'events', 'SELECT') AS ok"));
        return r.rows[0]!.ok;
      },
      10_000,
      'the reconciler to repair the worker',
    );
    // A shard placement changed by hand is repaired too: it gets its table's privileges.
    const shard = await pw.cluster.withSuperuser(w1, async (c) => {
      await c.query('SET citus.override_table_visibility = off');
      const r = await c.query<{ shard: string }>("SELECT relname AS shard FROM pg_class WHERE relname ~ '^events_[0-9]+$' LIMIT 1");
      const name = r.rows[0]!.shard;
      await c.query(`REVOKE SELECT ON public.${name} FROM db_user`);
      return name;
    });
    pw.reconciler.trigger('test');
    await waitFor(
      async () => {
        const r = await pw.cluster.withSuperuser(w1, (c) =>
          c.query<{ ok: boolean }>(`SELECT has_table_privilege('db_user', 'public.${shard}', 'SELECT') AS ok`),
        );
        return r.rows[0]!.ok;
      },
      10_000,
      `the reconciler to repair shard ${shard}`,
    );
    // The statement stayed on worker-1: Citus did not send it on (the coordinator still has one grant).
    const coord = await pw.cluster.withSuperuser(pw.cluster.coordinator, (c) =>
      c.query<{ ok: boolean }>("SELECT has_table_privilege('db_user', 'events', 'SELECT') AS ok"),
    );
    assert.equal(coord.rows[0]!.ok, true);
  });
});

describe('--citus without Citus', { skip: false }, () => {
  test('stops with a message that says where to get Citus', async () => {
    const dir = await makeDataDir();
    try {
      await assert.rejects(
        EmbeddedCluster.open({ dataDir: dir, citus: true, log: createLogger({ level: 'silent' }) }),
        /--citus: the PostgreSQL in .* has no Citus \(citus\.so\)\. Install PostgreSQL with Citus 13 or 14 .* --postgres-bin/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/** events joined with itself on kind: 200 rows in 7 kinds (0..6). */
function expectedSelfJoin(): number {
  const perKind = Array.from({ length: 7 }, (_, k) => Array.from({ length: 200 }, (_, i) => i + 1).filter((g) => g % 7 === k).length);
  return perKind.reduce((a, n) => a + n * n, 0);
}
