// pgwarden in front of an existing Citus cluster (`pgwarden up --coordinator ...
// --worker ...`): servers pgwarden does not run, SCRAM for every client, the node
// certificate between nodes. It starts (no distributed deadlock at bootstrap), writes
// roles on the coordinator only and lets Citus carry them, and breaks no Citus operation:
// reference tables (two-phase commit through the coordinator's own placement), a shard
// move, and citus_add_node of a new worker, which then has every role.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import type { RunningPgwarden } from '../../src/pgwarden.js';
import { makeDataDir, psql, startExternalPgwarden } from '../helpers/pgwarden.js';
import { apiClient, basic, type ApiClient } from '../helpers/api.js';
import { skipWithoutCitus, startExistingCitus, type ExistingCitus } from '../helpers/citus.js';

const CITUS = 'Existing-Citus-Passw0rd';

describe('an existing Citus cluster', { skip: skipWithoutCitus }, () => {
  let existingDir: string;
  let pgwardenDir: string;
  let cluster: ExistingCitus;
  let pw: RunningPgwarden;
  let stopped = false;
  let api: ApiClient;
  const gateway = (user: string) => `host=127.0.0.1 port=${pw.address.port} user=${user} dbname=postgres sslmode=require`;
  const asCitus = async (sql: string) => {
    const r = await psql(gateway('citus'), sql, CITUS);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim().split('\n').at(-1)!;
  };

  before(async () => {
    existingDir = await makeDataDir();
    pgwardenDir = await makeDataDir();
    cluster = await startExistingCitus(existingDir, 2);
    const [coordinator, ...workers] = cluster.nodes;
    pw = await startExternalPgwarden(
      pgwardenDir,
      CITUS,
      cluster.conninfo(coordinator!),
      workers.map((w) => cluster.conninfo(w)),
    );
    api = apiClient(pw.apiUrl, pw.tls.caPath!, basic('citus', CITUS));
  });
  after(async () => {
    if (!stopped) await pw?.stop();
    await cluster?.stop();
    await rm(existingDir, { recursive: true, force: true });
    await rm(pgwardenDir, { recursive: true, force: true });
  });

  test('pgwarden starts in front of it; citus exists on every node with one verifier', async () => {
    const verifiers = await Promise.all(
      cluster.nodes.map((n) =>
        cluster.query<{ v: string; login: boolean }>(n, "SELECT rolpassword AS v, rolcanlogin AS login FROM pg_authid WHERE rolname = 'citus'"),
      ),
    );
    assert.equal(new Set(verifiers.map((r) => r[0]?.v)).size, 1);
    assert.ok(verifiers.every((r) => r[0]?.login === true));
    assert.equal(await asCitus('SELECT current_user'), 'citus');
  });

  test('reference and distributed tables, a shard move, and a repartition join as citus and as a native role', async () => {
    await asCitus(`
      SET citus.shard_count = 4;
      CREATE TABLE items (id bigint PRIMARY KEY, grp int);
      SELECT create_distributed_table('items', 'id');
      INSERT INTO items SELECT g, g % 5 FROM generate_series(1, 100) g;
      CREATE TABLE grps (id int PRIMARY KEY);
      SELECT create_reference_table('grps');
      INSERT INTO grps SELECT generate_series(0, 4);`);
    // Move one shard to the other worker (block_writes: no logical replication needed).
    const [, w1, w2] = cluster.nodes;
    const shard = (
      await cluster.query<{ id: string; port: number }>(
        cluster.nodes[0]!,
        "SELECT shardid::text AS id, nodeport AS port FROM citus_shards WHERE table_name = 'items'::regclass LIMIT 1",
      )
    )[0]!;
    const [from, to] = shard.port === w1!.spec.port ? [w1!, w2!] : [w2!, w1!];
    await cluster.query(
      cluster.nodes[0]!,
      `SELECT citus_move_shard_placement(${shard.id}, '127.0.0.1', ${from.spec.port}, '127.0.0.1', ${to.spec.port}, shard_transfer_mode => 'block_writes')`,
    );
    assert.equal(await asCitus('SELECT count(*) FROM items JOIN grps ON grps.id = items.grp'), '100');

    const add = await api.call('POST', '/api/v1/roles', { name: 'app user', password: 'App-User-Passw0rd' });
    assert.equal(add.status, 201, JSON.stringify(add.data));
    await asCitus('GRANT SELECT ON items, grps TO "app user"');
    const r = await psql(
      gateway("'app user'"),
      'SET citus.enable_repartition_joins = on; SELECT count(*) FROM items a JOIN items b ON a.grp = b.grp',
      'App-User-Passw0rd',
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim().split('\n').at(-1), String(5 * 20 * 20));
  });

  test('a worker added with citus_add_node has every role with the same verifier before it serves a query', async () => {
    const node = await cluster.addWorker();
    const roles = await cluster.query<{ rolname: string; v: string | null }>(
      node,
      "SELECT rolname, rolpassword AS v FROM pg_authid WHERE rolname IN ('citus', 'app user', 'pgwarden_admin') ORDER BY 1",
    );
    const want = await cluster.query<{ rolname: string; v: string | null }>(
      cluster.nodes[0]!,
      "SELECT rolname, rolpassword AS v FROM pg_authid WHERE rolname IN ('citus', 'app user', 'pgwarden_admin') ORDER BY 1",
    );
    assert.deepEqual(roles, want);
    // Citus copies reference tables to a new worker when asked (or at the next
    // distributed table); then the native role's reads still work, now over three workers.
    await cluster.query(cluster.nodes[0]!, "SELECT replicate_reference_tables('block_writes')");
    const placed = await cluster.query<{ n: string }>(
      cluster.nodes[0]!,
      `SELECT count(*)::text AS n FROM citus_shards WHERE table_name = 'grps'::regclass AND nodeport = ${node.spec.port}`,
    );
    assert.equal(placed[0]!.n, '1');
    const r = await psql(gateway("'app user'"), 'SELECT count(*) FROM items JOIN grps ON grps.id = items.grp', 'App-User-Passw0rd');
    assert.equal(r.stdout.trim(), '100', r.stderr);
  });

  test('the rebalancer moves shards to the new worker; the native role still reads everything', async () => {
    await cluster.query(cluster.nodes[0]!, "SELECT rebalance_table_shards(shard_transfer_mode => 'block_writes')");
    const newest = cluster.nodes.at(-1)!;
    const placed = await cluster.query<{ n: string }>(
      cluster.nodes[0]!,
      `SELECT count(*)::text AS n FROM citus_shards WHERE table_name = 'items'::regclass AND nodeport = ${newest.spec.port}`,
    );
    assert.ok(Number(placed[0]!.n) > 0, 'shards moved to the new worker');
    const r = await psql(gateway("'app user'"), 'SELECT count(*) FROM items', 'App-User-Passw0rd');
    assert.equal(r.stdout.trim(), '100', r.stderr);
  });

  test('after pgwarden stops, Citus operations still work (nothing it left behind breaks them)', async () => {
    await pw.stop();
    stopped = true;
    const [coordinator] = cluster.nodes;
    await cluster.query(coordinator!, 'CREATE TABLE after_stop (id int PRIMARY KEY)');
    await cluster.query(coordinator!, "SELECT create_reference_table('after_stop')");
    await cluster.query(coordinator!, 'CREATE TABLE after_stop_d (id bigint PRIMARY KEY)');
    await cluster.query(coordinator!, "SELECT create_distributed_table('after_stop_d', 'id')");
    await cluster.query(coordinator!, 'GRANT SELECT ON after_stop, after_stop_d TO "app user"');
    const n = await cluster.query<{ n: string }>(
      coordinator!,
      "SELECT count(*)::text AS n FROM citus_shards WHERE table_name IN ('after_stop'::regclass, 'after_stop_d'::regclass)",
    );
    assert.ok(Number(n[0]!.n) > 0);
  });
});
