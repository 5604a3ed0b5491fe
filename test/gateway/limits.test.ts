// Limits and throttling at the front door, metrics and probes, and draining on stop.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import pg from 'pg';
import {
  SignInThrottle,
  ROLE_FREE_FAILURES,
  ADDRESS_FREE_FAILURES,
  ADDRESS_BASE_DELAY_MS,
  ADDRESS_MAX_DELAY_MS,
  FORGET_AFTER_MS,
  ROLE_MAX_BLOCK_MS,
  MAX_ENTRIES,
  retryAfterText,
} from '../../src/util/throttle.js';
import { formatScramSecret, makeScramSecret } from '../../src/scram/primitives.js';
import { CITUS_PASSWORD, psql, startTestPgwarden, waitFor, type TestPgwarden } from '../helpers/pgwarden.js';
import { apiClient } from '../helpers/api.js';
import { errorMessage, exchange } from '../helpers/raw-client.js';

describe('the throttle, alone', () => {
  test('blocks a role/address after a few failures, doubling, capped; success clears it', () => {
    let now = 0;
    const t = new SignInThrottle(() => now);
    for (let i = 0; i < ROLE_FREE_FAILURES; i++) t.failure('1.2.3.4', 'alice');
    assert.equal(t.check('1.2.3.4', 'alice').blocked, false);
    t.failure('1.2.3.4', 'alice');
    assert.deepEqual(t.check('1.2.3.4', 'alice'), { blocked: true, retryAfterMs: 1000 });
    assert.equal(t.check('1.2.3.4', 'bob').blocked, false, 'another role from the same address is not blocked');
    assert.equal(t.check('5.6.7.8', 'alice').blocked, false, 'the same role from another address is not blocked');
    t.failure('1.2.3.4', 'alice');
    assert.equal(t.check('1.2.3.4', 'alice').retryAfterMs, 2000);
    for (let i = 0; i < 20; i++) t.failure('1.2.3.4', 'alice');
    assert.equal(t.check('1.2.3.4', 'alice').retryAfterMs, ROLE_MAX_BLOCK_MS);
    now += ROLE_MAX_BLOCK_MS + 1;
    assert.equal(t.check('1.2.3.4', 'alice').blocked, false);
    t.success('1.2.3.4', 'alice');
    t.failure('1.2.3.4', 'alice');
    assert.equal(t.check('1.2.3.4', 'alice').blocked, false, 'a success starts the count again');
  });

  // Until the redesign, an address that failed with many roles was refused for all roles,
  // right passwords included (one script behind a NAT locked everyone out). Now it is
  // never refused: the answers to its failures wait instead, as with auth_delay.
  test('an address that fails with many roles: no other role is refused; its failures are answered later and later, up to a cap', () => {
    let now = 0;
    const t = new SignInThrottle(() => now);
    const delays = Array.from({ length: ADDRESS_FREE_FAILURES + 10 }, (_, i) => t.failure('9.9.9.9', `probe${i}`));
    assert.deepEqual(delays.slice(0, ADDRESS_FREE_FAILURES), new Array(ADDRESS_FREE_FAILURES).fill(0), 'the first failures are answered at once');
    assert.equal(delays[ADDRESS_FREE_FAILURES], ADDRESS_BASE_DELAY_MS);
    assert.equal(delays[ADDRESS_FREE_FAILURES + 1], 2 * ADDRESS_BASE_DELAY_MS);
    assert.equal(delays.at(-1), ADDRESS_MAX_DELAY_MS);
    assert.deepEqual(t.check('9.9.9.9', 'somebody-new'), { blocked: false, retryAfterMs: 0 }, 'a role that did not fail is not refused');
    assert.equal(t.check('9.9.9.9', 'probe0').blocked, false, 'nor is a role that failed once');
    t.success('9.9.9.9', 'somebody-new');
    assert.equal(t.failure('9.9.9.9', 'probe0'), ADDRESS_MAX_DELAY_MS, "one role's success does not wash the address's failures away");
    assert.equal(t.failure('5.6.7.8', 'probe0'), 0, 'another address is not slowed');
    now += FORGET_AFTER_MS + 1;
    assert.equal(t.failure('9.9.9.9', 'probe0'), 0, 'forgotten after a quiet period');
  });

  test('memory stays bounded, also with long role names', () => {
    const t = new SignInThrottle(() => 0);
    for (let i = 0; i < MAX_ENTRIES + 10; i++) t.failure(`10.0.${i >> 8}.${i & 255}`, 'x');
    assert.ok(t.size <= MAX_ENTRIES);
    const long = 'r'.repeat(9_000);
    for (let i = 0; i <= ROLE_FREE_FAILURES; i++) t.failure('1.1.1.1', long);
    assert.equal(t.check('1.1.1.1', long).blocked, true);
    assert.equal(t.check('1.1.1.1', long.slice(1)).blocked, false);
    assert.ok(t.size <= MAX_ENTRIES);
  });

  test('filling the table with new role names does not wash away a block the address earned', () => {
    const t = new SignInThrottle(() => 0);
    for (let i = 0; i <= ROLE_FREE_FAILURES; i++) t.failure('6.6.6.6', 'citus');
    assert.equal(t.check('6.6.6.6', 'citus').blocked, true);
    for (let i = 0; i < MAX_ENTRIES + 10; i++) t.failure('6.6.6.6', `spray-${i}`);
    assert.ok(t.size <= MAX_ENTRIES);
    assert.equal(t.check('6.6.6.6', 'citus').blocked, true, 'citus is still refused from that address');
  });

  test('the wait is said in words', () => {
    assert.equal(retryAfterText(1), '1 second');
    assert.equal(retryAfterText(1_000), '1 second');
    assert.equal(retryAfterText(1_001), '2 seconds');
    assert.equal(retryAfterText(60_000), '60 seconds');
  });
});

describe('a gateway with small limits', () => {
  let pw: TestPgwarden;
  before(async () => {
    pw = await startTestPgwarden({ maxConnections: 3, maxPendingAuth: 3, authTimeoutMs: 3_000 });
    await pw.cluster.withSuperuser(pw.cluster.coordinator, (c) =>
      c.query(`create role throttled_role login password '${formatScramSecret(makeScramSecret('Right-Passw0rd'))}'`),
    );
  });
  after(async () => {
    await pw?.destroy();
  });

  test('failed sign-ins are throttled with a clear FATAL; other roles are not slowed', async () => {
    const ca = await readFile(pw.caPath, 'utf8');
    for (let i = 0; i < ROLE_FREE_FAILURES + 1; i++) {
      const r = await psql(pw.conn('throttled_role'), 'select 1', 'Wrong-Passw0rd');
      assert.match(r.stderr, /password authentication failed/);
    }
    // At once, in this process (the first block lasts 1 s: a psql started on a busy machine
    // could arrive after it).
    const client = new pg.Client({
      host: '127.0.0.1',
      port: pw.port,
      user: 'throttled_role',
      password: 'Right-Passw0rd',
      database: 'postgres',
      ssl: { ca },
    });
    const blocked = (await client.connect().then(
      () => client.end(),
      (e: unknown) => e,
    )) as { severity?: string; message?: string } | undefined;
    assert.equal(blocked?.severity, 'FATAL');
    assert.match(blocked?.message ?? 'signed in', /^too many failed sign-in attempts; try again in (1 second|\d+ seconds)$/);
    assert.equal((await psql(pw.conn('citus'), 'select 1', CITUS_PASSWORD)).stdout.trim(), '1');
    await waitFor(async () => (await psql(pw.conn('throttled_role'), 'select 1', 'Right-Passw0rd')).stdout.trim() === '1', 10_000, 'the block to end');
  });

  test('beyond --max-connections: 53300 too many connections', async () => {
    const ca = await readFile(pw.caPath, 'utf8');
    const clients = Array.from(
      { length: 3 },
      () => new pg.Client({ host: 'localhost', port: pw.port, user: 'citus', password: CITUS_PASSWORD, database: 'postgres', ssl: { ca } }),
    );
    try {
      await Promise.all(clients.map((c) => c.connect()));
      const r = await psql(pw.conn('citus'), 'select 1', CITUS_PASSWORD);
      assert.match(r.stderr, /FATAL: {2}sorry, too many clients already/);
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
    await waitFor(() => pw.gateway.sessionCount === 0, 5_000, 'sessions to close');
    assert.equal((await psql(pw.conn('citus'), 'select 1', CITUS_PASSWORD)).stdout.trim(), '1');
  });

  test('beyond --max-pending-auth and as many waiting their turn: refused at once', async () => {
    const idle = Array.from({ length: 6 }, () => connect({ host: '127.0.0.1', port: pw.port }));
    try {
      await waitFor(() => pw.gateway.pendingCount === 3 && pw.gateway.waitingCount === 3, 5_000, 'three pending connections and three waiting');
      const out = await exchange(pw.port, Buffer.alloc(0), 2_000);
      assert.ok(out.closed);
      assert.match(errorMessage(out.data) ?? '', /too many connections are signing in/);
    } finally {
      for (const s of idle) s.destroy();
    }
    await waitFor(() => pw.gateway.pendingCount === 0 && pw.gateway.waitingCount === 0, 5_000, 'pending connections to go');
  });

  test('a client that waited for a sign-in slot longer than --auth-timeout still signs in: its timer starts with its turn', async () => {
    // Three silent connections hold every slot (--max-pending-auth 3) until their own,
    // longer, sign-in timer ends them; the client waits in line meanwhile.
    pw.gateway.reconfigure({ authTimeoutMs: 8_000 });
    const holders = Array.from({ length: 3 }, () => connect({ host: '127.0.0.1', port: pw.port }).on('error', () => undefined));
    try {
      await waitFor(() => pw.gateway.pendingCount === 3, 5_000, 'three pending connections');
      pw.gateway.reconfigure({ authTimeoutMs: 3_000 });
      const client = psql(pw.conn('citus'), 'select 1', CITUS_PASSWORD, { PGCONNECT_TIMEOUT: '60' });
      const r = await client;
      assert.equal(r.stdout.trim(), '1', r.stderr);
    } finally {
      for (const s of holders) s.destroy();
      pw.gateway.reconfigure({ authTimeoutMs: 3_000 });
    }
  });

  test('metrics and probes', async () => {
    const api = apiClient(pw.apiUrl, pw.caPath);
    const metrics = await api.call('GET', '/metrics', undefined, null);
    assert.equal(metrics.status, 200);
    const text = metrics.body.toString();
    assert.match(text, /pgwarden_sign_ins_total\{method="scram",result="ok",code="OK"\} \d+/);
    assert.match(text, /pgwarden_sign_ins_total\{method="scram",result="failed",code="wrong-password"\} [1-9]/);
    assert.match(text, /pgwarden_sign_ins_throttled_total [1-9]/);
    assert.match(text, /pgwarden_sign_in_duration_seconds_bucket/);
    assert.match(text, /pgwarden_connections_total\{outcome="too_many_connections"\} [1-9]/);
    assert.match(text, /pgwarden_server_sessions_idle \d+/);
    assert.match(text, /pgwarden_server_sessions_reused_total \d+/);
    assert.doesNotMatch(text, /throttled_role|citus/, 'no role names in metrics');
    assert.equal((await api.call('GET', '/readyz', undefined, null)).status, 200);
    assert.equal((await api.call('GET', '/healthz', undefined, null)).status, 200);
  });

  test('stop with a drain: a running query finishes, then everything stops', async () => {
    const ca = await readFile(pw.caPath, 'utf8');
    const client = new pg.Client({ host: 'localhost', port: pw.port, user: 'citus', password: CITUS_PASSWORD, database: 'postgres', ssl: { ca } });
    await client.connect();
    client.on('error', () => undefined);
    const query = client.query('select pg_sleep(1) as slept').then(
      (r) => r.rows.length,
      (e: Error) => e.message,
    );
    await waitFor(
      async () => {
        const r = await pw.cluster.withSuperuser(pw.cluster.coordinator, (c) =>
          c.query("SELECT 1 FROM pg_stat_activity WHERE query = 'select pg_sleep(1) as slept' AND state = 'active'"),
        );
        return r.rowCount === 1;
      },
      10_000,
      'the query to run',
    );
    const stopping = pw.stop(10_000);
    await waitFor(() => !pw.gateway.listening, 10_000, 'the gateway to stop accepting');
    const refused = await psql(pw.conn('citus'), 'select 1', CITUS_PASSWORD);
    assert.notEqual(refused.code, 0, 'a new connection was accepted while draining');
    assert.equal(await query, 1, 'the running query did not finish');
    await client.end().catch(() => undefined);
    await stopping;
  });
});
