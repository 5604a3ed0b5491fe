// A coordinator that closes a new session while the gateway is still signing in to it
// (found by `npm run chaos`: sessions opened while the coordinator restarted were reset, and
// their clients got "internal error in pgwarden" or a silent close). The client is told
// what happened, as PostgreSQL's own clients would be: 08006, the server closed the
// connection.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { CITUS_PASSWORD, signInOutcome, startTestPgwarden, waitFor, type TestPgwarden } from '../helpers/pgwarden.js';

let pw: TestPgwarden;
let ca: string;

before(async () => {
  // No kept sessions: every sign-in opens a new one.
  pw = await startTestPgwarden({ workers: 0, serverPool: { maxIdle: 0 } });
  ca = await readFile(pw.caPath, 'utf8');
});
after(async () => {
  await pw?.cluster.withSuperuser(pw.cluster.coordinator, async (c) => {
    await c.query('ALTER SYSTEM RESET pre_auth_delay');
    await c.query('SELECT pg_reload_conf()');
  });
  await pw?.destroy();
});

/** The postmaster's children now. */
async function children(postmaster: number): Promise<Set<number>> {
  const out = new Set<number>();
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => '');
    // pid (comm) state ppid ...: comm may hold spaces, so read after its closing parenthesis.
    if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === postmaster) out.add(Number(name));
  }
  return out;
}

function signIn(): Promise<string> {
  return signInOutcome({ host: 'localhost', port: pw.port, user: 'citus', password: CITUS_PASSWORD, database: 'postgres', ssl: { ca } });
}

test('a server session that ends without a word during the sign-in: the client gets 08006, not an internal error', async () => {
  const postmaster = pw.cluster.coordinator.pid!;
  assert.equal(await signIn(), 'ok', 'a sign-in before (the catalog connections of the gateway are open)');
  // New sessions wait 2 s before their authentication; the one that starts now is then
  // quit (SIGQUIT: a backend still authenticating leaves without a message).
  await pw.cluster.withSuperuser(pw.cluster.coordinator, async (c) => {
    await c.query("ALTER SYSTEM SET pre_auth_delay = '2s'");
    await c.query('SELECT pg_reload_conf()');
  });
  const before = await children(postmaster);
  const answer = signIn();
  let backend: number | undefined;
  await waitFor(
    async () => {
      backend = [...(await children(postmaster))].find((p) => !before.has(p));
      return backend !== undefined;
    },
    10_000,
    'the new session to start',
  );
  await sleep(200);
  process.kill(backend!, 'SIGQUIT');
  assert.match(await answer, /^08006 the database server closed the connection during sign-in/);
  // The coordinator restarts its sessions after a crash; sign-ins succeed again.
  await waitFor(
    () =>
      pw.cluster
        .withSuperuser(pw.cluster.coordinator, async (c) => {
          await c.query('ALTER SYSTEM RESET pre_auth_delay');
          await c.query('SELECT pg_reload_conf()');
        })
        .then(
          () => true,
          () => false,
        ),
    60_000,
    'the coordinator to be back',
  );
  await waitFor(async () => (await signIn()) === 'ok', 60_000, 'sign-ins to succeed again');
});
