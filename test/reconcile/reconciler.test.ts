// The reconciler's life with workers that come and go: a worker that was down catches
// up as soon as it is back, with status() going unreachable -> pending -> in-sync; a
// role the reconciler propagated and the coordinator dropped goes from every worker; a
// role that only a worker has is drift, reported and left alone.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '../helpers/pgwarden.js';
import { startBareCluster, type BareCluster } from './cluster.js';
import { asRole, differences, sql, startReconciler, waitForConvergence, type TestReconciler } from './helpers.js';

/** The brief's bound for a returning worker to match the coordinator again. */
const CATCH_UP_MS = 5_000;

let bare: BareCluster;
let r: TestReconciler;

before(async () => {
  bare = await startBareCluster(2);
  r = await startReconciler(bare.cluster, { reassignGraceMs: 0 });
  await bare.cluster.withSuperuser(bare.cluster.coordinator, (c) => c.query("CREATE ROLE app LOGIN PASSWORD 'App-Passw0rd-1'; CREATE ROLE auditor"));
  await asRole(bare.cluster, 'CREATE TABLE ledger (id int, amount numeric); CREATE TABLE journal (id int)');
  await r.reconciler.runPass();
  await waitForConvergence(bare.cluster);
});
after(async () => {
  await r?.reconciler.stop();
  await bare?.destroy();
});

const stateOf = (node: string): string | undefined => r.reconciler.status().find((s) => s.node === node)?.state;

test('a worker that was down matches the coordinator within 5 s of its return: unreachable -> pending -> in-sync', async () => {
  const { cluster } = bare;
  const w1 = cluster.workers[0]!;
  const from = r.transitions.length;
  await w1.stop();
  await waitFor(() => stateOf(w1.name) === 'unreachable', 10_000, 'worker-1 to be seen as unreachable');
  const down = r.reconciler.status().find((s) => s.node === w1.name)!;
  assert.ok(down.unreachableSince && !Number.isNaN(Date.parse(down.unreachableSince)));

  // While it is down: a new role, another role's new password, a grant.
  await sql(cluster, cluster.coordinator, "CREATE ROLE newcomer LOGIN PASSWORD 'Newcomer-Passw0rd'");
  await sql(cluster, cluster.coordinator, "ALTER ROLE app PASSWORD 'App-Passw0rd-2'");
  await asRole(cluster, 'GRANT SELECT, INSERT ON ledger TO app; GRANT SELECT ON ledger TO newcomer', 'citus', [cluster.coordinator]);
  // worker-2 keeps up meanwhile: one worker down does not hold up the others.
  await waitForConvergence(cluster, 10_000, [cluster.workers[1]!]);
  assert.equal(stateOf(w1.name), 'unreachable');

  await w1.start();
  await waitForConvergence(cluster, CATCH_UP_MS, [w1]);
  await waitFor(() => stateOf(w1.name) === 'in-sync', CATCH_UP_MS, 'worker-1 to be in sync');

  const seen = r.transitions.slice(from).filter((s) => s.node === w1.name);
  const at = (state: string, after = -1): number => seen.findIndex((s, i) => i > after && s.state === state);
  const unreachable = at('unreachable');
  const pending = at('pending', unreachable);
  const found = seen.findIndex((s, i) => i > unreachable && s.state === 'pending' && /role/.test(s.pending ?? ''));
  const inSync = at('in-sync', pending);
  assert.ok(unreachable >= 0 && pending > unreachable && inSync > pending, `transitions: ${seen.map((s) => `${s.state}(${s.pending ?? ''})`).join(' -> ')}`);
  assert.ok(found > 0 && found < inSync, `a pending state named what was pending: ${seen.map((s) => s.pending ?? s.state).join(' | ')}`);
  assert.ok(seen[inSync]!.lastPassAt);
});

test('a propagated role dropped on the coordinator disappears from every worker, even one that owns a table there', async () => {
  const { cluster } = bare;
  await sql(cluster, cluster.coordinator, 'CREATE ROLE temp_worker; GRANT auditor TO temp_worker');
  await asRole(cluster, 'GRANT SELECT ON ledger TO temp_worker', 'citus', [cluster.coordinator]);
  await r.reconciler.runPass();
  await waitForConvergence(cluster);
  // On worker-2 only, the role owns a table (a leftover the coordinator never had).
  await sql(cluster, cluster.workers[1]!, 'CREATE TABLE scratch (x int); ALTER TABLE scratch OWNER TO temp_worker');

  await sql(cluster, cluster.coordinator, 'DROP OWNED BY temp_worker; DROP ROLE temp_worker');
  const report = await r.reconciler.runPass();
  for (const w of cluster.workers) {
    assert.deepEqual(await sql(cluster, w, "SELECT 1 FROM pg_roles WHERE rolname = 'temp_worker'"), [], w.name);
  }
  const owner = await sql(cluster, cluster.workers[1]!, "SELECT tableowner FROM pg_tables WHERE tablename = 'scratch'");
  assert.deepEqual(owner, [{ tableowner: 'postgres' }]);
  await sql(cluster, cluster.workers[1]!, 'DROP TABLE scratch');
  assert.deepEqual(await differences(cluster), []);
  assert.ok(report.nodes.find((n) => n.node === 'worker-2')!.notes.some((n) => /temp_worker/.test(n)));
  // Once no worker has it, the record forgets it.
  const recorded = await sql(cluster, cluster.coordinator, "SELECT 1 FROM pgwarden.propagated_roles WHERE role_name = 'temp_worker'");
  assert.deepEqual(recorded, []);
});

test('a statement that fails on one worker is reported; the rest of its changes, and the other workers, go through', async () => {
  const { cluster } = bare;
  const w2 = cluster.workers[1]!;
  const pg = await import('pg');
  // A long transaction on worker-2 holds ledger: the GRANT there waits, then gives up.
  const blocker = new pg.default.Client(w2.clientConfig('postgres', cluster.secrets.superuserPassword));
  await blocker.connect();
  try {
    await blocker.query('BEGIN; LOCK TABLE ledger IN ACCESS EXCLUSIVE MODE');
    await asRole(cluster, 'GRANT UPDATE ON ledger TO auditor; GRANT SELECT ON journal TO auditor', 'citus', [cluster.coordinator]);
    const report = await r.reconciler.runPass();
    const n2 = report.nodes.find((n) => n.node === w2.name)!;
    assert.equal(n2.errors.length, 1, JSON.stringify(n2.errors));
    assert.match(n2.errors[0]!, /table public\.ledger: grant UPDATE to "auditor".*lock timeout/);
    assert.equal(n2.remaining, '1 privilege');
    assert.deepEqual(report.nodes.find((n) => n.node === 'worker-1')!.errors, []);
    assert.deepEqual(await sql(cluster, w2, "SELECT has_table_privilege('auditor', 'journal', 'SELECT') AS ok"), [{ ok: true }]);
    const state = r.reconciler.status().find((s) => s.node === w2.name)!;
    assert.equal(state.state, 'pending');
    assert.equal(state.pending, '1 privilege');
    assert.equal(state.errors.length, 1);
  } finally {
    await blocker.query('ROLLBACK').catch(() => undefined);
    await blocker.end();
  }
  await r.reconciler.runPass();
  await waitForConvergence(cluster);
  assert.equal(stateOf(w2.name), 'in-sync');
});

test('a role only on a worker is reported as drift, with its grants, and never dropped', async () => {
  const { cluster } = bare;
  const w2 = cluster.workers[1]!;
  await sql(cluster, w2, 'CREATE ROLE hand_made');
  await asRole(cluster, 'GRANT SELECT ON ledger TO hand_made', 'citus', [w2]);
  const report = await r.reconciler.runPass();
  const node = report.nodes.find((n) => n.node === w2.name)!;
  assert.deepEqual(
    node.drift.filter((d) => d.kind === 'role-only-on-worker'),
    [{ kind: 'role-only-on-worker', subject: 'hand_made' }],
  );
  assert.equal(node.remaining, '');
  assert.equal(stateOf(w2.name), 'in-sync');
  assert.deepEqual(r.reconciler.status().find((s) => s.node === w2.name)!.drift, node.drift);
  await r.reconciler.runPass();
  assert.deepEqual(await sql(cluster, w2, "SELECT has_table_privilege('hand_made', 'ledger', 'SELECT') AS ok"), [{ ok: true }]);
  // Only the drift differs from the coordinator.
  await sql(cluster, w2, 'DROP OWNED BY hand_made; DROP ROLE hand_made');
  assert.deepEqual(await differences(cluster), []);
});
