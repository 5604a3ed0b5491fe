// The gateway's catalog pool (src/cluster/following-pool.ts) when a server session dies
// under a query: the query fails with the connection's error, and nothing else happens
// (node-postgres emits the error on the client too; with no listener there, it was thrown
// and ended the whole gateway: `npm run chaos`'s coordinator restart, EPIPE).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestPgwarden, waitFor, type TestPgwarden } from '../helpers/pgwarden.js';

let pw: TestPgwarden;

before(async () => {
  pw = await startTestPgwarden({ workers: 0, identity: { kind: 'none' } });
});
after(async () => {
  await pw?.destroy();
});

test('a catalog query whose server process dies fails with the connection error; the pool goes on', async () => {
  const pool = pw.cluster.gatewayPool('reads');
  try {
    const sleeping = pool.query("SELECT pg_sleep(30), 'following-pool-test'");
    let pid: number | undefined;
    await waitFor(
      async () => {
        const rows = await pw.cluster.withSuperuser(
          pw.cluster.coordinator,
          async (c) => (await c.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(30), %'")).rows,
        );
        pid = rows[0]?.pid;
        return pid !== undefined;
      },
      10_000,
      'the query to start',
    );
    // Gone without a word (no ErrorResponse): the client sees its socket end. Failed before:
    // the test process died of an unhandled 'error' event.
    process.kill(pid!, 'SIGKILL');
    await assert.rejects(sleeping, /Connection terminated unexpectedly/);
    // PostgreSQL restarts its sessions after a crashed backend; the pool then answers again.
    await waitFor(
      () =>
        pool.query('SELECT 1 AS one').then(
          (r) => r.rows[0]?.one === 1,
          () => false,
        ),
      60_000,
      'the pool to answer again',
    );
  } finally {
    await pool.end();
  }
});
