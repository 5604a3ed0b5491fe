// The gateway against real clients: psql, pgbench, node-postgres and postgres.js, over
// real TLS, in front of a real embedded cluster.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import pg from 'pg';
import postgres from 'postgres';
import { CITUS_PASSWORD, psql, run, start, startTestPgwarden, waitFor, type TestPgwarden } from '../helpers/pgwarden.js';
import { formatScramSecret, makeScramSecret } from '../../src/scram/primitives.js';
import { quoteIdent, quoteLiteral } from '../../src/util/sql.js';

let pw: TestPgwarden;

before(async () => {
  pw = await startTestPgwarden({ authTimeoutMs: 2_000 });
});
after(async () => {
  await pw?.destroy();
});

describe('psql', () => {
  test('signs in as citus with sslmode=require', async () => {
    const r = await psql(pw.conn('citus'), 'select current_user', CITUS_PASSWORD);
    assert.equal(r.stderr, '');
    assert.equal(r.stdout.trim(), 'citus');
  });

  test('verifies the certificate with sslmode=verify-full and the local CA', async () => {
    const conn = `host=localhost port=${pw.port} user=citus dbname=postgres sslmode=verify-full sslrootcert=${pw.caPath}`;
    const r = await psql(conn, 'select current_user', CITUS_PASSWORD);
    assert.equal(r.stdout.trim(), 'citus', r.stderr);
    const ssl = await psql(conn, 'select ssl from pg_stat_ssl where pid = pg_backend_pid()', CITUS_PASSWORD);
    // The session behind the gateway runs over the coordinator's Unix socket: no TLS there.
    assert.equal(ssl.stdout.trim(), 'f');
  });

  test('channel binding works when required, and is not needed when disabled', async () => {
    for (const cb of ['require', 'disable', 'prefer']) {
      const r = await psql(pw.conn('citus', `channel_binding=${cb}`), 'select current_user', CITUS_PASSWORD);
      assert.equal(r.stdout.trim(), 'citus', `channel_binding=${cb}: ${r.stderr}`);
    }
  });

  test('refuses a connection without TLS', async () => {
    const r = await psql(`host=127.0.0.1 port=${pw.port} user=citus dbname=postgres sslmode=disable`, 'select 1', CITUS_PASSWORD);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /FATAL: {2}SSL connection is required/);
  });

  test('a wrong password and an unknown user fail the same way', async () => {
    const wrong = await psql(pw.conn('citus'), 'select 1', 'not-the-password');
    assert.match(wrong.stderr, /FATAL: {2}password authentication failed for user "citus"/);
    const unknown = await psql(pw.conn('nobody_here'), 'select 1', 'whatever');
    assert.match(unknown.stderr, /FATAL: {2}password authentication failed for user "nobody_here"/);
  });

  test("the superuser, pgwarden's own roles and MD5 roles cannot sign in through the gateway", async () => {
    const superuser = await psql(pw.conn('postgres'), 'select 1', pw.cluster.secrets.superuserPassword);
    assert.match(superuser.stderr, /password authentication failed for user "postgres"/);
    const gateway = await psql(pw.conn('pgwarden_gateway'), 'select 1', pw.cluster.secrets.gatewayRolePassword);
    assert.match(gateway.stderr, /password authentication failed for user "pgwarden_gateway"/);
    await pw.cluster.withSuperuser(pw.cluster.coordinator, async (c) => {
      await c.query("SET password_encryption = 'md5'");
      await c.query("CREATE ROLE md5_role LOGIN PASSWORD 'Md5-Passw0rd'");
    });
    const md5 = await psql(pw.conn('md5_role'), 'select 1', 'Md5-Passw0rd');
    assert.match(md5.stderr, /password authentication failed for user "md5_role"/);
  });

  test('odd role names sign in: quotes, spaces, @, mixed case, non-ASCII', async () => {
    const names = ['user name "with" quotes', 'Ünïcødé@contoso.onmicrosoft.com', 'MixedCase', "o'brien"];
    await pw.cluster.withSuperuser(pw.cluster.coordinator, async (c) => {
      for (const name of names) {
        await c.query(`CREATE ROLE ${quoteIdent(name)} LOGIN PASSWORD ${quoteLiteral(formatScramSecret(makeScramSecret('Odd-Passw0rd')))}`);
      }
    });
    for (const name of names) {
      const r = await psql(pw.conn(name), 'select current_user', 'Odd-Passw0rd');
      assert.equal(r.stdout.trim(), name, r.stderr);
    }
    const lower = await psql(pw.conn('mixedcase'), 'select 1', 'Odd-Passw0rd');
    assert.match(lower.stderr, /password authentication failed for user "mixedcase"/);
  });

  test('Ctrl-C cancels a running query through the gateway', async () => {
    const child = start('psql', ['-X', pw.conn('citus'), '-c', 'select pg_sleep(60)'], { PGPASSWORD: CITUS_PASSWORD });
    try {
      await waitFor(
        async () => {
          const r = await psql(
            pw.conn('citus'),
            "select count(*) from pg_stat_activity where query = 'select pg_sleep(60)' and state = 'active'",
            CITUS_PASSWORD,
          );
          return r.stdout.trim() === '1';
        },
        15_000,
        'the query to run',
      );
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGINT');
      const code = await exited;
      assert.notEqual(code, 0);
      assert.match(child.output(), /canceling statement due to user request/);
    } finally {
      child.kill('SIGKILL');
    }
  });
});

describe('other clients', () => {
  test('pgbench initialises and runs through the gateway', async () => {
    const env = { PGPASSWORD: CITUS_PASSWORD };
    const init = await run('pgbench', ['-i', '-s', '1', '-q', pw.conn('citus')], { env, timeoutMs: 60_000 });
    assert.equal(init.code, 0, init.stderr);
    const bench = await run('pgbench', ['-S', '-c', '4', '-j', '2', '-t', '200', pw.conn('citus')], { env, timeoutMs: 60_000 });
    assert.equal(bench.code, 0, bench.stderr);
    assert.match(bench.stdout, /number of failed transactions: 0/);
  });

  test('node-postgres signs in and verifies the CA', async () => {
    const client = new pg.Client({
      host: 'localhost',
      port: pw.port,
      user: 'citus',
      password: CITUS_PASSWORD,
      database: 'postgres',
      ssl: { ca: await readFile(pw.caPath, 'utf8') },
    });
    await client.connect();
    try {
      const res = await client.query<{ u: string; n: number }>('select current_user as u, $1::int as n', [42]);
      assert.deepEqual(res.rows[0], { u: 'citus', n: 42 });
    } finally {
      await client.end();
    }
  });

  test('postgres.js signs in, with pipelined prepared statements', async () => {
    const sql = postgres({
      host: 'localhost',
      port: pw.port,
      user: 'citus',
      pass: CITUS_PASSWORD,
      database: 'postgres',
      ssl: { ca: await readFile(pw.caPath, 'utf8') },
      max: 2,
    });
    try {
      const [row] = await sql<{ u: string }[]>`select current_user as u`;
      assert.equal(row!.u, 'citus');
      const many = await Promise.all(Array.from({ length: 20 }, (_, i) => sql<{ n: number }[]>`select ${i}::int as n`));
      assert.deepEqual(
        many.map((r) => r[0]!.n),
        Array.from({ length: 20 }, (_, i) => i),
      );
    } finally {
      await sql.end();
    }
  });
});
