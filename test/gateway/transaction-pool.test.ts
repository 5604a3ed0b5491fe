// The transaction pool's port (--pool-port): clients sign in exactly as on the session
// port (SCRAM, Entra tokens) and share a bounded set of server sessions per role and
// database, one transaction at a time. Real clients only: psql, pgbench (simple,
// extended and prepared; its -i uses COPY), pg, postgres (pipelines, cancel).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import pg from 'pg';
import postgres from 'postgres';
import { CITUS_PASSWORD, psql, run, startTestPgwarden, waitFor, type TestPgwarden } from '../helpers/pgwarden.js';
import { savedAdmin, userToken } from '../helpers/entra.js';
import { apiClient, basic, bearer } from '../helpers/api.js';

const POOL_SIZE = 2;
let pw: TestPgwarden;
let ca: string;
let poolPort: number;

before(async () => {
  pw = await startTestPgwarden({ transactionPool: { port: 0, size: POOL_SIZE, waitTimeoutMs: 30_000 } });
  ca = await readFile(pw.caPath, 'utf8');
  poolPort = pw.gateway.poolAddress!.port;
});
after(async () => {
  await pw?.destroy();
});

const poolConn = (user: string, extra = '') => `host=127.0.0.1 port=${poolPort} user='${user}' dbname=postgres sslmode=require ${extra}`.trim();

function pgClient(user = 'citus', password = CITUS_PASSWORD): pg.Client {
  const client = new pg.Client({ host: 'localhost', port: poolPort, user, password, database: 'postgres', ssl: { ca } });
  client.on('error', () => undefined);
  return client;
}

/** The server sessions of the pg clients' group (psql's, with its application_name and
 * client_encoding, is another): backends of the role without an application_name. */
async function backendsOf(role: string): Promise<number> {
  return pw.cluster.withSuperuser(pw.cluster.coordinator, async (c) => {
    const r = await c.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = $1 AND application_name = ''", [role]);
    return r.rows[0]!.n;
  });
}

test('psql signs in with SCRAM and with a token; twelve clients at once share at most two server sessions', async () => {
  const one = await psql(poolConn('citus'), 'select current_user', CITUS_PASSWORD);
  assert.equal(one.code, 0, one.stderr);
  assert.match(one.stdout, /citus/);
  const admin = await savedAdmin(pw);
  const token = await userToken(pw, admin.username, admin.password);
  const entra = await psql(poolConn(admin.username), 'select current_user', token);
  assert.equal(entra.code, 0, entra.stderr);
  assert.match(entra.stdout, new RegExp(admin.username));
  const wrong = await psql(poolConn('citus'), 'select 1', 'wrong password');
  assert.match(wrong.stderr, /password authentication failed for user "citus"/);

  const clients = Array.from({ length: 12 }, () => pgClient());
  await Promise.all(clients.map((c) => c.connect()));
  const pids = new Set<number>();
  await Promise.all(
    clients.map(async (c) => {
      for (let i = 0; i < 5; i++) {
        await c.query('BEGIN');
        pids.add((await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid, pg_sleep(0.01)')).rows[0]!.pid);
        await c.query('COMMIT');
      }
    }),
  );
  await Promise.all(clients.map((c) => c.end()));
  assert.ok(pids.size <= POOL_SIZE, `transactions ran on ${pids.size} server sessions`);
  assert.ok((await backendsOf('citus')) <= POOL_SIZE);
  const metrics = (await apiClient(pw.apiUrl, pw.caPath).call('GET', '/metrics', undefined, null)).body.toString();
  assert.match(metrics, /^pgwarden_pool_server_sessions\{state="idle"\} [1-9]/m);
  assert.match(metrics, /^pgwarden_pool_clients_waiting 0$/m);
});

test('pgbench -i (COPY) and pgbench in simple, extended and prepared modes, 8 clients on 2 server sessions', async () => {
  const env = { PGPASSWORD: CITUS_PASSWORD, PGSSLMODE: 'require' };
  const args = ['-h', '127.0.0.1', '-p', String(poolPort), '-U', 'citus', 'postgres'];
  const init = await run('pgbench', ['-i', '-s', '1', '-q', ...args], { env, timeoutMs: 120_000 });
  assert.equal(init.code, 0, init.stderr);
  for (const mode of ['simple', 'extended', 'prepared']) {
    // One thread per client: pgbench prepares each statement with a blocking call, and one
    // thread of several clients blocked on a client that waits for a server session,
    // while the thread's other clients hold both in open transactions, would wait forever
    // (with PgBouncer too).
    const bench = await run('pgbench', ['-M', mode, '-c', '8', '-j', '8', '-t', '40', '-n', ...args], { env, timeoutMs: 120_000 });
    assert.equal(bench.code, 0, `${mode}: ${bench.stderr}`);
    assert.match(bench.stdout, /number of failed transactions: 0/, mode);
    assert.match(bench.stdout, /number of transactions actually processed: 320\/320/, mode);
  }
});

test("named prepared statements are each client's own, whichever server session runs them", async () => {
  const a = pgClient();
  const b = pgClient();
  await Promise.all([a.connect(), b.connect()]);
  for (let i = 0; i < 20; i++) {
    // Same name, different statements: each client gets its own answer.
    const [ra, rb] = await Promise.all([
      a.query({ name: 'same', text: 'SELECT $1::int + 1 AS v', values: [i] }),
      b.query({ name: 'same', text: 'SELECT $1::int * 10 AS v', values: [i] }),
    ]);
    assert.equal(ra.rows[0].v, i + 1);
    assert.equal(rb.rows[0].v, i * 10);
  }
  await Promise.all([a.end(), b.end()]);
});

test('postgres.js: pipelined prepared queries from 6 connections, and a cancel reaches the right backend', async () => {
  const sql = postgres({
    host: 'localhost',
    port: poolPort,
    user: 'citus',
    pass: CITUS_PASSWORD,
    database: 'postgres',
    ssl: { ca },
    max: 6,
    onnotice: () => undefined,
  });
  try {
    const results = await Promise.all(Array.from({ length: 60 }, (_, i) => sql`SELECT ${i}::int AS i, count(*)::int AS n FROM pgbench_branches`));
    assert.deepEqual(
      results.map((r) => r[0]!.i),
      Array.from({ length: 60 }, (_, i) => i),
    );
    const slow = sql`SELECT pg_sleep(30)`;
    const started = Date.now();
    const cancelled = slow.then(
      () => 'finished',
      (e: { code?: string }) => e.code,
    );
    setTimeout(() => void slow.cancel(), 300);
    assert.equal(await cancelled, '57014');
    assert.ok(Date.now() - started < 25_000, 'the query ended before its 30 s');
    assert.equal((await sql`SELECT 1 AS one`)[0]!.one, 1, 'the pool serves on after a cancel');
  } finally {
    await sql.end({ timeout: 5 });
  }
});

test('what would leak to another client is refused with the reason; the transaction-scoped forms work', async () => {
  const c = pgClient();
  await c.connect();
  try {
    for (const statement of [
      "SET work_mem = '1MB'",
      'LISTEN news',
      'SELECT pg_advisory_lock(42)',
      'CREATE TEMP TABLE scratch (id int)',
      'PREPARE p AS SELECT 1',
      'DECLARE c CURSOR WITH HOLD FOR SELECT 1',
    ]) {
      await assert.rejects(c.query(statement), (e: Error & { code?: string }) => {
        assert.equal(e.code, '0A000', statement);
        assert.match(e.message, /is not supported on the transaction pool port/, statement);
        return true;
      });
    }
    // Also inside a multi-statement query string and behind a comment.
    await assert.rejects(c.query("/* x */ SELECT 1; set  search_path = 'public'"), /SET \(a session setting\) is not supported/);
    await c.query('BEGIN');
    await c.query("SET LOCAL work_mem = '1MB'");
    assert.equal((await c.query('SHOW work_mem')).rows[0].work_mem, '1MB');
    await c.query('SELECT pg_advisory_xact_lock(42)');
    await c.query('CREATE TEMP TABLE scratch (id int) ON COMMIT DROP');
    await c.query('COMMIT');
    // A string that only looks like a SET is not refused.
    assert.equal((await c.query("SELECT 'SET x = 1' AS s")).rows[0].s, 'SET x = 1');
  } finally {
    await c.end();
  }
});

test('a native role added, used, password reset: the old password is refused, the new one works', async () => {
  const api = apiClient(pw.apiUrl, pw.caPath, basic('citus', CITUS_PASSWORD));
  const add = await api.call('POST', '/api/v1/roles', { name: 'Pool User', password: 'Pool-User-Passw0rd1' });
  assert.equal(add.status, 201, JSON.stringify(add.data));
  const before = await psql(poolConn('Pool User'), 'select current_user', 'Pool-User-Passw0rd1');
  assert.equal(before.code, 0, before.stderr);
  const signedIn = pgClient('Pool User', 'Pool-User-Passw0rd1');
  await signedIn.connect();
  await signedIn.query('SELECT 1');
  const reset = await api.call('POST', `/api/v1/roles/${encodeURIComponent('Pool User')}/reset-password`, { password: 'Pool-User-Passw0rd2' });
  assert.ok(reset.status < 300, JSON.stringify(reset.data));
  const old = await psql(poolConn('Pool User'), 'select 1', 'Pool-User-Passw0rd1');
  assert.match(old.stderr, /password authentication failed for user "Pool User"/);
  const now = await psql(poolConn('Pool User'), 'select current_user', 'Pool-User-Passw0rd2');
  assert.equal(now.code, 0, now.stderr);
  // The role's sessions were closed with the change: the client signed in with the old
  // password cannot open a new one, and is told so.
  await assert.rejects(signedIn.query('SELECT 1'), (e: Error & { code?: string }) => e.code === '28P01' || /password authentication failed/.test(e.message));
  await signedIn.end().catch(() => undefined);
});

test('malformed bytes after sign-in end that client with a protocol error; the pool serves on', async () => {
  for (const [garbage, said] of [
    [Buffer.from([0x51, 0, 0, 0, 2]), /invalid message length/], // a length below 4
    [Buffer.from([0x42, 0, 0, 0, 8, 0x61, 0x62, 0x63, 0x64]), /unterminated string/], // a Bind whose names never end
    [Buffer.from([0x44, 0, 0, 0, 7, 0x5a, 0x78, 0]), /unknown target "Z"/], // a Describe of neither statement nor portal
  ] as const) {
    const c = pgClient();
    await c.connect();
    const ended = new Promise<string>((resolve) => {
      c.on('error', (e: Error) => resolve(e.message));
      c.on('end', () => resolve('end'));
    });
    (c as unknown as { connection: { stream: NodeJS.WritableStream } }).connection.stream.write(garbage);
    assert.match(await ended, said);
  }
  const c = pgClient();
  await c.connect();
  assert.equal((await c.query('SELECT 41 + 1 AS v')).rows[0].v, 42);
  await c.end();
});

test('Microsoft Entra only: native sign-ins on the pool port are refused as on the session port; a token still signs in', async () => {
  const admin = await savedAdmin(pw);
  const token = await userToken(pw, admin.username, admin.password);
  const api = apiClient(pw.apiUrl, pw.caPath, bearer(token));
  const set = await api.call('PUT', '/api/v1/authentication', { methods: 'entra' });
  assert.equal(set.status, 200, JSON.stringify(set.data));
  try {
    const native = await psql(poolConn('citus'), 'select 1', CITUS_PASSWORD);
    assert.match(native.stderr, /PostgreSQL authentication is disabled for this cluster/);
    const entra = await psql(poolConn(admin.username), 'select current_user', token);
    assert.equal(entra.code, 0, entra.stderr);
  } finally {
    assert.equal((await api.call('PUT', '/api/v1/authentication', { methods: 'both' })).status, 200);
  }
});

test('server sessions that PostgreSQL ends while idle in the pool are dropped; the next transactions get new ones', async () => {
  const c = pgClient();
  await c.connect();
  await c.query('SELECT 1'); // the pool now has an idle session of this group
  const ended = await pw.cluster.withSuperuser(pw.cluster.coordinator, async (s) => {
    const r = await s.query<{ n: number }>(
      'SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))::int AS n FROM pg_stat_activity ' +
        "WHERE usename = 'citus' AND application_name = '' AND state = 'idle'",
    );
    return r.rows[0]!.n;
  });
  assert.ok(ended >= 1, 'an idle pool session was ended');
  await waitFor(
    async () => (await backendsOf('citus')) === 0 && pw.gateway.transactionPoolCounts!.idle === 0,
    10_000,
    'the pool to drop what PostgreSQL ended',
  );
  for (let i = 0; i < 5; i++) assert.equal((await c.query('SELECT 41 + 1 AS v')).rows[0].v, 42);
  await c.end();
});
