// 200 random role and privilege operations on the coordinator (seeded; the seed is
// printed on failure, and RECONCILE_SEED=<n> replays it), with worker-1 stopped for a
// third of them, while the reconciler runs as it would in production (event trigger,
// probes). After one more pass, every worker's roles, memberships, role settings and
// ACLs equal the coordinator's (catalog-snapshot.ts).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Operations, prng, SETUP_SQL } from './random-operations.js';
import { startBareCluster, type BareCluster } from './cluster.js';
import { asRole, differences, snapshot, startReconciler, type TestReconciler } from './helpers.js';

const OPERATIONS = 200;
const STOP_AT = 70;
const START_AT = 140;

let bare: BareCluster;
let r: TestReconciler;

before(async () => {
  bare = await startBareCluster(2);
  r = await startReconciler(bare.cluster, { reassignGraceMs: 0 });
  await asRole(bare.cluster, SETUP_SQL);
  for (const node of bare.cluster.nodes) await bare.cluster.withSuperuser(node, (c) => c.query('CREATE TABLE public.sys1 (id int)'));
});
after(async () => {
  await r?.reconciler.stop();
  await bare?.destroy();
});

test(`${OPERATIONS} random operations, a worker down for a third of them: every worker ends equal to the coordinator`, async (t) => {
  // A fixed seed in CI (this one once found a bug: a grant recorded as made by a role
  // that no longer holds ADMIN); RECONCILE_SEED=random explores, RECONCILE_SEED=<n> replays.
  const given = process.env.RECONCILE_SEED ?? '1338412836';
  const seed = given === 'random' ? Math.floor(Math.random() * 2 ** 31) : Number(given);
  t.diagnostic(`seed ${seed} (RECONCILE_SEED=${seed} replays it)`);
  const { cluster } = bare;
  const w1 = cluster.workers[0]!;
  await cluster.withSuperuser(cluster.coordinator, async (c) => {
    const ops = new Operations(c, prng(seed));
    for (let i = 0; i < OPERATIONS; i++) {
      if (i === STOP_AT) await w1.stop();
      if (i === START_AT) await w1.start();
      await ops.one();
    }
    t.diagnostic(`${ops.failed} of the generated statements failed on the coordinator (expected for some)`);
  });
  const report = await r.reconciler.runPass('test: the end');
  const end = await snapshot(cluster, cluster.coordinator);
  t.diagnostic(`the coordinator ends with ${Object.entries(end).map(([k, v]) => `${v.length} ${k}`).join(', ')}`);
  const byGrantees = [...end.relacl, ...end.proacl].filter((l) => !/\/(<owner>|<bootstrap>)$/.test(l)).length + end.members.filter((l) => !l.includes('|<bootstrap>|')).length;
  t.diagnostic(`${byGrantees} of those were granted by a role other than the owner or a superuser`);
  const left = await differences(cluster);
  assert.deepEqual(left, [], `seed ${seed}: the workers differ from the coordinator; pass report: ${JSON.stringify(report.nodes.map((n) => ({ node: n.node, errors: n.errors, remaining: n.remaining })))}`);
  for (const n of report.nodes) assert.deepEqual(n.errors, [], `seed ${seed}: ${n.node}`);
  assert.deepEqual(r.reconciler.status().map((s) => s.state), ['in-sync', 'in-sync'], `seed ${seed}`);
});
