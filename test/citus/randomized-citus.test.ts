// The randomized sequence of test/reconcile/randomized.test.ts on a real Citus cluster:
// 200 seeded role and privilege operations on the coordinator, over distributed,
// reference and local tables, with worker-1 stopped for a third of them (Citus then
// refuses what needs every node), while Citus propagates what it does and the reconciler
// runs as in production. After one more pass, every worker's roles, memberships, role
// settings and ACLs equal the coordinator's, and every shard's ACL equals its table's.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type pg from 'pg';
import { startBareCluster, type BareCluster } from '../reconcile/cluster.js';
import { startReconciler, type TestReconciler } from '../reconcile/helpers.js';
import { assertConverged, chooseSeed, runOperations, SETUP_SQL } from '../reconcile/random-operations.js';
import { CITUS_BIN, skipWithoutCitus } from '../helpers/citus.js';

const OPERATIONS = 200;
const STOP_AT = 70;
const START_AT = 140;

describe('random operations on Citus', { skip: skipWithoutCitus }, () => {
  let bare: BareCluster;
  let r: TestReconciler;

  before(async () => {
    bare = await startBareCluster(2, { citus: true, postgresBin: CITUS_BIN });
    r = await startReconciler(bare.cluster, { reassignGraceMs: 0 });
    // Citus does not carry GRANTs on schema public to the workers: the first pass does.
    await r.reconciler.runPass('setup');
    const { cluster } = bare;
    // The objects, owned by citus: created on the coordinator (Citus carries schemas and
    // functions), then two tables distributed and one made a reference table; what Citus
    // leaves on the coordinator (a local table, a sequence, a view) is made on the
    // workers too, so that every node has the same objects to compare.
    await cluster.withSuperuser(cluster.coordinator, async (c) => {
      await c.query('SET ROLE citus; SET citus.shard_count = 4');
      await c.query(SETUP_SQL);
      await c.query("SELECT create_distributed_table('app.t1', 'a')");
      await c.query("SELECT create_reference_table('app.t2')");
      await c.query(`SELECT create_distributed_table('"Odd Schema"."T 3"', 'v v')`);
    });
    for (const w of cluster.workers) {
      await cluster.withSuperuser(w, async (c) => {
        await c.query('SET citus.enable_ddl_propagation = off; SET ROLE citus');
        for (const statement of SETUP_SQL.split(';')
          .map((s) => s.trim())
          .filter(Boolean)) {
          await c.query(statement).catch((e: { code?: string }) => {
            if (e.code !== '42P07' && e.code !== '42P06' && e.code !== '42723') throw e; // already exists
          });
        }
      });
    }
  });
  after(async () => {
    await r?.reconciler.stop();
    await bare?.destroy();
  });

  test(`${OPERATIONS} random operations, a worker down for a third of them: every node and every shard ends equal to the coordinator`, async (t) => {
    // Citus refuses what needs the stopped worker: most failures are those.
    const seed = chooseSeed(t, 1338412836);
    const { cluster } = bare;
    await runOperations(t, cluster, seed, OPERATIONS, STOP_AT, START_AT);
    await assertConverged(t, r.reconciler, cluster, seed);

    // Shards: each one's ACL, named after its table, equals the table's on the coordinator.
    const want = await cluster.withSuperuser(cluster.coordinator, (c) => tableAcls(c));
    let shards = 0;
    for (const w of cluster.workers) {
      const got = await cluster.withSuperuser(w, (c) => shardAcls(c));
      for (const [shard, { table, lines }] of got) {
        shards++;
        assert.deepEqual(lines, want.get(table) ?? [], `seed ${seed}: ${w.name}: shard ${shard} of ${table}`);
      }
      assert.ok(got.size > 0, `${w.name} has shards`);
    }
    t.diagnostic(`${shards} shard placements on the workers checked`);
  });
});

/** One line per privilege: "grantee=privilege[*]/grantor", the owner as <owner>. */
const ACL_LINES = `
  SELECT coalesce(array_agg(
           CASE WHEN x.grantee = 0 THEN 'PUBLIC' WHEN x.grantee = c.relowner THEN '<owner>' ELSE pg_get_userbyid(x.grantee) END
           || '=' || x.privilege_type || CASE WHEN x.is_grantable THEN '*' ELSE '' END || '/' ||
           CASE WHEN x.grantor = c.relowner THEN '<owner>' ELSE pg_get_userbyid(x.grantor) END ORDER BY 1), '{}') AS lines
    FROM aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) x`;

/** The coordinator's distributed and reference tables: their ACL lines, by table. */
async function tableAcls(c: pg.Client): Promise<Map<string, string[]>> {
  const r = await c.query<{ t: string; lines: string[] }>(
    `SELECT p.logicalrelid::text AS t, (${ACL_LINES}) AS lines FROM pg_dist_partition p JOIN pg_class c ON c.oid = p.logicalrelid`,
  );
  return new Map(r.rows.map((x) => [x.t, x.lines]));
}

/** Every shard placed on this worker: its table's name and its own ACL lines. */
async function shardAcls(c: pg.Client): Promise<Map<string, { table: string; lines: string[] }>> {
  await c.query('SET citus.override_table_visibility = off');
  const r = await c.query<{ shard: string; t: string; lines: string[] }>(
    `SELECT s.shard, s.t, (${ACL_LINES}) AS lines
       FROM (SELECT shard_name(logicalrelid, shardid) AS shard, logicalrelid::text AS t FROM pg_dist_shard) s
       JOIN pg_class c ON c.oid = to_regclass(s.shard)`,
  );
  return new Map(r.rows.map((x) => [x.shard, { table: x.t, lines: x.lines }]));
}
