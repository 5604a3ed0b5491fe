// Server sessions handed from one client to the next (src/gateway/server-pool.ts): only
// after a clean end while idle, reset to a new session's state, never past a change of
// the role's password, LOGIN or CONNECT, and never with a cancel key another client knew.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as tlsConnect } from 'node:tls';
import pg from 'pg';
import postgres from 'postgres';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { psql, run, startTestPgwarden, waitFor, type TestPgwarden } from '../helpers/pgwarden.js';
import { buildCancelRequest } from '../../src/protocol/startup.js';
import { formatScramSecret, makeScramSecret } from '../../src/scram/primitives.js';
import { quoteLiteral } from '../../src/util/sql.js';

const ROLE = 'reuse_user';
const PASSWORD = 'Reuse-Passw0rd';

let pw: TestPgwarden;

async function asSuperuser(sql: string): Promise<void> {
  await pw.cluster.withSuperuser(pw.cluster.coordinator, (c) => c.query(sql));
}

function client(options: Partial<pg.ClientConfig> = {}): pg.Client {
  return new pg.Client({
    host: '127.0.0.1',
    port: pw.port,
    user: ROLE,
    password: PASSWORD,
    database: 'postgres',
    ssl: { rejectUnauthorized: false },
    ...options,
  });
}

/** Signs in, runs `work`, ends cleanly; returns the backend's process id. */
async function session<T>(
  work: (c: pg.Client) => Promise<T> = async () => undefined as T,
  options: Partial<pg.ClientConfig> = {},
): Promise<{ pid: number; result: T }> {
  const c = client(options);
  await c.connect();
  try {
    const pid = (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    return { pid, result: await work(c) };
  } finally {
    await c.end();
  }
}

/** Waits until backend `pid` runs `query`. */
async function waitRunning(pid: number, query: string): Promise<void> {
  await waitFor(
    async () => {
      const r = await pw.cluster.withSuperuser(pw.cluster.coordinator, (c) =>
        c.query("SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND query = $2 AND state = 'active'", [pid, query]),
      );
      return r.rowCount === 1;
    },
    10_000,
    `backend ${pid} to run ${query}`,
  );
}

const idle = (): number => pw.gateway.serverPoolStats.idle;
const waitIdle = (n = 1): Promise<void> => waitFor(() => idle() >= n, 5_000, `${n} idle server session(s)`);

before(async () => {
  pw = await startTestPgwarden({ workers: 0 });
  await asSuperuser(`CREATE ROLE ${ROLE} LOGIN PASSWORD ${quoteLiteral(formatScramSecret(makeScramSecret(PASSWORD)))}`);
  await asSuperuser(`CREATE TABLE public.reuse_t (id int); GRANT ALL ON public.reuse_t TO ${ROLE}; GRANT CREATE ON SCHEMA public TO ${ROLE}`);
});
after(async () => {
  await pw?.destroy();
});

describe('a clean end hands the server session to the next client', () => {
  test('the next client of the same role and database gets the same backend', async () => {
    const first = await session();
    await waitIdle();
    const before = pw.gateway.serverPoolStats.reused;
    const second = await session();
    assert.equal(second.pid, first.pid);
    assert.equal(pw.gateway.serverPoolStats.reused, before + 1);
  });

  test('a session taken again and again gathers no listeners (no MaxListenersExceededWarning after 15 clients)', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
    process.on('warning', onWarning);
    try {
      await waitIdle();
      const pids = new Set<number>();
      for (let i = 0; i < 15; i++) {
        pids.add((await session()).pid);
        await waitIdle();
      }
      assert.equal(pids.size, 1, 'one backend for all');
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(
        warnings.filter((w) => w.includes('MaxListeners')),
        [],
      );
    } finally {
      process.off('warning', onWarning);
    }
  });

  test('psql, one connection after another, keeps one backend', async () => {
    await waitIdle();
    const pids = new Set<string>();
    for (let i = 0; i < 3; i++) {
      const r = await psql(pw.conn(ROLE), 'select pg_backend_pid()', PASSWORD);
      assert.equal(r.stderr, '');
      pids.add(r.stdout.trim());
      await waitIdle();
    }
    assert.equal(pids.size, 1);
  });

  test('pgbench -C (a new connection per transaction, 4 at once): every transaction succeeds on kept sessions', async () => {
    const script = join(pw.dataDir, 'reuse.sql');
    await writeFile(script, "SELECT count(*) FROM public.reuse_t;\nSET application_name = 'dirty';\n");
    const before = pw.gateway.serverPoolStats.reused;
    const r = await run('pgbench', ['-n', '-C', '-c', '4', '-j', '2', '-t', '25', '-f', script, pw.conn(ROLE)], {
      env: { PGPASSWORD: PASSWORD },
      timeoutMs: 60_000,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /number of transactions actually processed: 100\/100/);
    assert.match(r.stdout, /number of failed transactions: 0/);
    assert.ok(pw.gateway.serverPoolStats.reused - before >= 50, `reused ${pw.gateway.serverPoolStats.reused - before} of 100`);
  });

  test('nothing of the first session is left for the second', async () => {
    // Startup parameters of their own: the pgbench sessions of the test before, still
    // being reset and kept, cannot come between the two.
    const own = { options: '-c geqo=on' };
    const first = await session(async (c) => {
      await c.query("SET search_path = pg_catalog; SET statement_timeout = '7s'; SET application_name = 'changed'");
      await c.query('PREPARE leftover AS SELECT 1');
      await c.query('CREATE TEMP TABLE leftover_t (x int)');
      await c.query('LISTEN leftover_channel');
      await c.query('SELECT pg_advisory_lock(4242)');
      await c.query('BEGIN; DECLARE leftover_c CURSOR WITH HOLD FOR SELECT 1; COMMIT');
    }, own);
    // Kept once every reset under way (the first session's among them) has ended.
    await waitFor(() => pw.gateway.serverPoolStats.resetting === 0 && idle() >= 1, 5_000, 'the first session to be kept');
    const second = await session(async (c) => {
      const settings = await c.query<{ search_path: string; statement_timeout: string; application_name: string }>(
        "SELECT current_setting('search_path') AS search_path, current_setting('statement_timeout') AS statement_timeout, " +
          "current_setting('application_name') AS application_name",
      );
      const left = await c.query<{ prepared: string; temp: string; listening: string; locks: string; cursors: string }>(
        `SELECT (SELECT count(*) FROM pg_prepared_statements) AS prepared,
                (SELECT count(*) FROM pg_class WHERE relname = 'leftover_t') AS temp,
                (SELECT count(*) FROM pg_listening_channels()) AS listening,
                (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()) AS locks,
                (SELECT count(*) FROM pg_cursors) AS cursors`,
      );
      return { settings: settings.rows[0]!, left: left.rows[0]! };
    }, own);
    assert.equal(second.pid, first.pid, 'the session was reused');
    assert.deepEqual(second.result.settings, { search_path: '"$user", public', statement_timeout: '0', application_name: '' });
    assert.deepEqual(second.result.left, { prepared: '0', temp: '0', listening: '0', locks: '0', cursors: '0' });
  });

  test('the client is told the parameters as they are after the reset', async () => {
    // postgres.js keeps the ParameterStatus values it is sent.
    const open = () =>
      postgres({ host: '127.0.0.1', port: pw.port, user: ROLE, password: PASSWORD, database: 'postgres', ssl: { rejectUnauthorized: false }, max: 1 });
    const first = open();
    const [was] = await first`SELECT pg_backend_pid() AS pid`;
    await first`SELECT set_config('application_name', 'changed', false), set_config('DateStyle', 'German', false)`;
    assert.equal(first.parameters.DateStyle, 'German, DMY');
    // Sessions of the tests before may be kept already: wait for this one.
    const kept = idle();
    await first.end();
    await waitIdle(kept + 1);
    const second = open();
    try {
      const [row] = await second`SELECT pg_backend_pid() AS pid, current_setting('DateStyle') AS datestyle`;
      assert.equal(row!.pid, was!.pid, 'the session was reused');
      assert.equal(row!.datestyle, 'ISO, MDY');
      assert.equal(second.parameters.DateStyle, 'ISO, MDY');
      assert.equal(second.parameters.application_name, 'postgres.js');
    } finally {
      await second.end();
    }
  });

  test('other startup parameters, another database or another role get their own session', async () => {
    await waitIdle();
    const plain = await session();
    await waitIdle();
    const named = await session(undefined, { application_name: 'reuse-test' });
    assert.notEqual(named.pid, plain.pid);
  });
});

describe('no reuse unless the session is clean', () => {
  test('a client that leaves inside a transaction: the backend ends, and nothing is committed', async () => {
    await waitIdle();
    const c = client();
    await c.connect();
    const pid = (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    await c.query('BEGIN');
    await c.query('INSERT INTO public.reuse_t VALUES (1)');
    await c.end();
    const next = await session((c2) => c2.query<{ n: string }>('SELECT count(*) AS n FROM public.reuse_t'));
    assert.notEqual(next.pid, pid);
    assert.equal(next.result.rows[0]!.n, '0');
  });

  test('a client that drops the connection without Terminate: the backend ends', async () => {
    await waitIdle();
    const c = client();
    await c.connect();
    const pid = (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    c.on('error', () => undefined);
    (c as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
    const next = await session();
    assert.notEqual(next.pid, pid);
  });

  test('pipelined statements from postgres.js, then a clean end: the next client gets a clean session', async () => {
    await waitIdle();
    const sql = postgres({
      host: '127.0.0.1',
      port: pw.port,
      user: ROLE,
      password: PASSWORD,
      database: 'postgres',
      ssl: { rejectUnauthorized: false },
      max: 1,
    });
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => sql`SELECT ${i}::int AS i`));
    assert.deepEqual(
      results.map((r) => r[0]!.i),
      Array.from({ length: 20 }, (_, i) => i),
    );
    await sql.end();
    await waitIdle();
    const next = await session((c) => c.query<{ n: string }>('SELECT count(*) AS n FROM pg_prepared_statements'));
    assert.equal(next.result.rows[0]!.n, '0');
  });
});

describe('a kept session never outlives what allowed it', () => {
  test('a password changed in SQL: the old password is refused at once, the new one works', async () => {
    const user = 'reuse_pw';
    await asSuperuser(`CREATE ROLE ${user} LOGIN PASSWORD ${quoteLiteral(formatScramSecret(makeScramSecret(PASSWORD)))}`);
    await session(undefined, { user });
    await waitIdle();
    await asSuperuser(`ALTER ROLE ${user} PASSWORD ${quoteLiteral(formatScramSecret(makeScramSecret('Other-Passw0rd')))}`);
    await assert.rejects(session(undefined, { user }), /password authentication failed/);
    const next = await session(undefined, { user, password: 'Other-Passw0rd' });
    assert.ok(next.pid > 0);
  });

  test('NOLOGIN and REVOKE CONNECT take effect on the next sign-in', async () => {
    await session();
    await waitIdle();
    await asSuperuser(`ALTER ROLE ${ROLE} NOLOGIN`);
    await assert.rejects(session(), /not permitted to log in|password authentication failed/);
    await asSuperuser(`ALTER ROLE ${ROLE} LOGIN`);
    await session();
    await waitIdle();
    await asSuperuser(`REVOKE CONNECT ON DATABASE postgres FROM PUBLIC`);
    try {
      await assert.rejects(session(), /permission denied for database "postgres"/);
    } finally {
      await asSuperuser(`GRANT CONNECT ON DATABASE postgres TO PUBLIC`);
    }
    await session();
  });

  test('ALTER ROLE ... SET and ALTER DATABASE ... SET reach the next client: kept sessions started before are closed', async () => {
    const show = (c: pg.Client) =>
      c
        .query<{ work_mem: string; lock_timeout: string }>("SELECT current_setting('work_mem') AS work_mem, current_setting('lock_timeout') AS lock_timeout")
        .then((r) => r.rows[0]!);
    const first = await session(show);
    await waitIdle();
    // No trigger fires on these commands: the gateway sees them in its re-read (every second).
    await asSuperuser(`ALTER ROLE ${ROLE} IN DATABASE postgres SET work_mem = '7MB'`);
    await waitFor(() => idle() === 0, 5_000, 'the kept session closed after ALTER ROLE ... SET');
    const second = await session(show);
    assert.notEqual(second.pid, first.pid);
    assert.deepEqual(second.result, { work_mem: '7MB', lock_timeout: first.result.lock_timeout });
    await waitIdle();
    await asSuperuser(`ALTER DATABASE postgres SET lock_timeout = '3s'`);
    try {
      await waitFor(() => idle() === 0, 5_000, 'the kept session closed after ALTER DATABASE ... SET');
      const third = await session(show);
      assert.deepEqual(third.result, { work_mem: '7MB', lock_timeout: '3s' });
    } finally {
      await asSuperuser(`ALTER DATABASE postgres RESET lock_timeout; ALTER ROLE ${ROLE} IN DATABASE postgres RESET work_mem`);
    }
  });

  test("a cancel key of an earlier client cannot cancel the next client's query", async () => {
    const first = client();
    await first.connect();
    const old = first as unknown as { processID: number; secretKey: number };
    const oldKey = { pid: old.processID, secret: old.secretKey };
    await first.end();
    await waitIdle();
    const second = client();
    await second.connect();
    try {
      const now = second as unknown as { processID: number; secretKey: number };
      assert.equal(now.processID, oldKey.pid, 'the session was reused');
      assert.notEqual(now.secretKey, oldKey.secret, 'every client gets a cancel secret of its own');
      const running = second.query('SELECT pg_sleep(1.5)');
      await waitRunning(now.processID, 'SELECT pg_sleep(1.5)');
      await sendCancel(oldKey.pid, oldKey.secret);
      await running; // not canceled
      const again = second.query('SELECT pg_sleep(10)');
      await waitRunning(now.processID, 'SELECT pg_sleep(10)');
      await sendCancel(now.processID, now.secretKey);
      await assert.rejects(again, /canceling statement due to user request/);
    } finally {
      await second.end();
    }
  });

  test('a kept session does not take the slot a new one needs: CONNECTION LIMIT 1', async () => {
    const user = 'reuse_limited';
    await asSuperuser(`CREATE ROLE ${user} LOGIN CONNECTION LIMIT 1 PASSWORD ${quoteLiteral(formatScramSecret(makeScramSecret(PASSWORD)))}`);
    const kept = idle();
    await session(undefined, { user });
    await waitIdle(kept + 1);
    // Other startup parameters: the kept session cannot serve it, and it holds the role's
    // one connection. The gateway closes kept sessions and tries again.
    const other = await session(undefined, { user, application_name: 'another' });
    assert.ok(other.pid > 0);
  });

  test('with --server-pool 0 every client gets a backend of its own', async () => {
    const other = await startTestPgwarden({ workers: 0, serverPool: { maxIdle: 0 } });
    try {
      await other.cluster.withSuperuser(other.cluster.coordinator, (c) =>
        c.query(`CREATE ROLE ${ROLE} LOGIN PASSWORD ${quoteLiteral(formatScramSecret(makeScramSecret(PASSWORD)))}`),
      );
      const pids = new Set<string>();
      for (let i = 0; i < 2; i++) pids.add((await psql(other.conn(ROLE), 'select pg_backend_pid()', PASSWORD)).stdout.trim());
      assert.equal(pids.size, 2);
      assert.equal(other.gateway.serverPoolStats.idle, 0);
    } finally {
      await other.destroy();
    }
  });
});

/** A CancelRequest over TLS, as libpq sends it. */
function sendCancel(pid: number, secret: number): Promise<void> {
  const key = Buffer.alloc(4);
  key.writeInt32BE(secret | 0, 0);
  return new Promise((resolve) => {
    const socket = tlsConnect({ host: '127.0.0.1', port: pw.port, rejectUnauthorized: false, ALPNProtocols: ['postgresql'] }, () => {
      socket.end(buildCancelRequest(pid, key));
    });
    socket.on('error', () => resolve());
    socket.on('close', () => resolve());
  });
}
