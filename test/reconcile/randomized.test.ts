// 200 random role and privilege operations on the coordinator (seeded; the seed is
// printed on failure, and RECONCILE_SEED=<n> replays it), with worker-1 stopped for a
// third of them, while the reconciler runs as it would in production (event trigger,
// probes). After one more pass, every worker's roles, memberships, role settings and
// ACLs equal the coordinator's (catalog-snapshot.ts).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertConverged, chooseSeed, runOperations, SETUP_SQL } from './random-operations.js';
import { startBareCluster, type BareCluster } from './cluster.js';
import { asRole, startReconciler, type TestReconciler } from './helpers.js';

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
  // This fixed seed once found a bug: a grant recorded as made by a role that no longer holds ADMIN.
  const seed = chooseSeed(t, 1338412836);
  const { cluster } = bare;
  await runOperations(t, cluster, seed, OPERATIONS, STOP_AT, START_AT);
  const end = await assertConverged(t, r.reconciler, cluster, seed);
  const byGrantees =
    [...end.relacl, ...end.proacl].filter((l) => !/\/(<owner>|<bootstrap>)$/.test(l)).length + end.members.filter((l) => !l.includes('|<bootstrap>|')).length;
  t.diagnostic(`${byGrantees} of those were granted by a role other than the owner or a superuser`);
  assert.deepEqual(
    r.reconciler.status().map((s) => s.state),
    ['in-sync', 'in-sync'],
    `seed ${seed}`,
  );
});
