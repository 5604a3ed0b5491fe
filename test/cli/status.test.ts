// `pgwarden status` through a worker outage: unreachable while it is down, then in sync
// again with the changes made meanwhile (the reconciler catches it up).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { CITUS_PASSWORD, runCli, startTestPgwarden, waitFor, type TestPgwarden } from '../helpers/pgwarden.js';
import { apiClient, basic } from '../helpers/api.js';

let pw: TestPgwarden;

before(async () => {
  pw = await startTestPgwarden();
});
after(async () => {
  await pw?.destroy();
});

async function status(): Promise<string> {
  const r = await runCli(['status', '--data-dir', pw.dataDir], { env: { PGWARDEN_CITUS_PASSWORD: CITUS_PASSWORD } });
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

test('a worker down, a change, the worker back: status shows it, and the worker catches up', async () => {
  await waitFor(async () => /worker-1 +worker +up +in-sync/.test(await status()), 20_000, 'worker-1 in sync');
  const before = await status();
  assert.match(
    before,
    /^authentication: both; propagation: by pgwarden\nNODE +KIND +STATE +SYNC +DETAIL\ncoordinator +coordinator +up *\nworker-1 +worker +up +in-sync/,
  );

  const worker = pw.cluster.workers[0]!;
  await worker.stop();
  try {
    await waitFor(async () => /worker-1 +worker +down +unreachable +since \d{4}-/.test(await status()), 20_000, 'worker-1 unreachable');
    const api = apiClient(pw.apiUrl, pw.caPath, basic('citus', CITUS_PASSWORD));
    const add = await api.call('POST', '/api/v1/roles', { name: 'added_while_down', password: 'Added-Passw0rd-1' });
    assert.equal(add.status, 201);
    assert.equal(add.data.nodes.find((n: { node: string }) => n.node === 'worker-1').ok, false, 'worker-1 could not be reached');
    const cluster = await api.call('GET', '/api/v1/cluster');
    assert.equal(cluster.data.nodes.find((n: { name: string }) => n.name === 'worker-1').sync.state, 'unreachable');
  } finally {
    await worker.start();
  }
  await waitFor(
    async () => ((await pw.cluster.withSuperuser(worker, (c) => c.query("select 1 from pg_roles where rolname = 'added_while_down'"))).rowCount ?? 0) === 1,
    10_000,
    'the role on worker-1',
  );
  await waitFor(async () => /worker-1 +worker +up +in-sync/.test(await status()), 10_000, 'worker-1 in sync again');
});
