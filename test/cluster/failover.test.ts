// Following a coordinator failover: pgwarden in front of an existing cluster whose
// coordinator is a primary and a streaming replica (made with pg_basebackup), reached with
// libpq's multi-host form and target_session_attrs=read-write, as Patroni or
// pg_auto_failover hand it out. The primary stops; while the replica is not yet promoted,
// sign-ins wait and changes are refused with a clear error; once it is promoted, sign-ins
// reach it, the catalog watch and the reconciler follow, and changes made after the
// failover reach the worker, each once. Then a switchover back, in the other order: the
// old primary, rebuilt as a standby, is promoted first, and the other stops after.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chown, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { withClient } from '../../src/cluster/cluster.js';
import { PostgresNode, type NodeSpec } from '../../src/cluster/node.js';
import { serverUser, type RunAs } from '../../src/cluster/os-user.js';
import type { RunningPgwarden } from '../../src/pgwarden.js';
import { silentLogger } from '../../src/util/log.js';
import { apiClient, basic, type ApiClient } from '../helpers/api.js';
import { CITUS_BIN, skipWithoutCitus } from '../helpers/citus.js';
import { makeDataDir, psql, start, startExternalPgwarden, waitFor } from '../helpers/pgwarden.js';

const SUPERUSER_PASSWORD = 'Failover-Super-Passw0rd';
const CITUS_PASSWORD = 'Failover-Citus-Passw0rd';

describe('following a coordinator failover', { skip: skipWithoutCitus }, () => {
  let dir: string;
  let runAs: RunAs | undefined;
  let primary: PostgresNode;
  let replica: PostgresNode;
  let worker: PostgresNode;
  let pw: RunningPgwarden;
  let api: ApiClient;

  const spec = (name: string, port: number): NodeSpec => ({
    name,
    role: name === 'worker' ? 'worker' : 'coordinator',
    dataDir: join(dir, name, 'data'),
    socketDir: join(dir, name, 'socket'),
    port,
    logFile: join(dir, name, 'postgres.log'),
    postgresBin: CITUS_BIN,
    // The test's own pg_hba.conf: SCRAM on the socket, replication included (pg_basebackup, the standby).
    settings: { hba_file: join(dir, 'hba.conf') },
  });
  const superuser = (node: PostgresNode, sql: string, params: unknown[] = []) =>
    withClient(node.clientConfig('postgres', SUPERUSER_PASSWORD), async (c) => (await c.query(sql, params)).rows);
  const conninfo = (node: PostgresNode): string => `host=${node.spec.socketDir} port=${node.spec.port}`;
  const gateway = (user: string): string => `host=127.0.0.1 port=${pw.address.port} user=${user} dbname=postgres sslmode=require`;
  const hasRole = async (node: PostgresNode, role: string): Promise<boolean> =>
    (await superuser(node, 'SELECT 1 FROM pg_roles WHERE rolname = $1', [role])).length === 1;

  before(async () => {
    dir = await makeDataDir('pgwarden-failover-');
    runAs = await serverUser();
    await writeFile(join(dir, 'hba.conf'), 'local all all scram-sha-256\nlocal replication all scram-sha-256\n', { mode: 0o644 });
    for (const name of ['primary', 'replica', 'worker']) await mkdir(join(dir, name), { mode: 0o711 });
    primary = new PostgresNode(spec('primary', 25431), runAs, silentLogger());
    worker = new PostgresNode(spec('worker', 25433), runAs, silentLogger());
    for (const node of [primary, worker]) {
      await node.initialise('postgres', SUPERUSER_PASSWORD);
      await node.start();
    }
    // The replica: a base backup of the primary that streams from it (-R writes standby.signal and primary_conninfo).
    replica = new PostgresNode(spec('replica', 25432), runAs, silentLogger());
    await mkdir(replica.spec.dataDir, { recursive: true, mode: 0o700 });
    if (runAs) await chown(replica.spec.dataDir, runAs.uid, runAs.gid);
    await basebackup(runAs, primary, replica.spec.dataDir);
    await replica.start();
    assert.deepEqual(await superuser(replica, 'SELECT pg_is_in_recovery() AS r'), [{ r: true }]);

    const coordinator = `${conninfo(primary).replace(/host=(\S+) port=(\d+)/, `host=$1,${replica.spec.socketDir} port=$2,${replica.spec.port}`)}`;
    pw = await startExternalPgwarden(
      join(dir, 'pgwarden'),
      CITUS_PASSWORD,
      `${coordinator} target_session_attrs=read-write user=postgres password=${SUPERUSER_PASSWORD}`,
      [`${conninfo(worker)} user=postgres password=${SUPERUSER_PASSWORD}`],
    );
    api = apiClient(pw.apiUrl, join(dir, 'pgwarden', 'tls', 'ca.crt'), basic('citus', CITUS_PASSWORD));
  });

  after(async () => {
    await pw?.stop();
    for (const node of [primary, replica, worker]) await node?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('before: sessions and changes go to the primary, and the replica has them', async () => {
    const r = await psql(gateway('citus'), "select current_setting('port')", CITUS_PASSWORD);
    assert.equal(r.stdout.trim(), String(primary.spec.port), r.stderr);
    const add = await api.call('POST', '/api/v1/roles', { name: 'before_failover', password: 'Before-Failover-Passw0rd' });
    assert.equal(add.status, 201, JSON.stringify(add.data));
    assert.ok(await hasRole(worker, 'before_failover'));
    await caughtUp(primary, replica);
    assert.ok(await hasRole(replica, 'before_failover'));
  });

  test('the primary stops: a sign-in waits, a change is refused and applied nowhere; the replica is promoted: the sign-in reaches it', async (t) => {
    const stoppedAt = performance.now();
    await primary.stop();

    const waiting = start('psql', ['-X', '-At', gateway('before_failover'), '-c', "select current_user, current_setting('port')"], {
      PGPASSWORD: 'Before-Failover-Passw0rd',
    });
    const exited = new Promise<number | null>((resolve) => waiting.once('exit', resolve));

    const refused = await api.call('POST', '/api/v1/roles', { name: 'during_failover', password: 'During-Failover-Passw0rd' });
    assert.equal(refused.status, 503, JSON.stringify(refused.data));
    const problem = refused.data as { detail?: string; title?: string };
    assert.match(JSON.stringify(problem), /no host of coordinator accepts read-write sessions now/);
    assert.match(JSON.stringify(problem), /a standby \(in recovery\)/);
    assert.equal(await hasRole(worker, 'during_failover'), false);
    assert.equal(await hasRole(replica, 'during_failover'), false);

    // The client is still waiting for a primary.
    await new Promise((r) => setTimeout(r, 1_500));
    assert.equal(waiting.exitCode, null, waiting.output());

    assert.deepEqual(await superuser(replica, 'SELECT pg_promote(true, 60) AS promoted'), [{ promoted: true }]);
    const promotedAt = performance.now();
    assert.equal(await exited, 0, waiting.output());
    assert.equal(waiting.output().trim(), `before_failover|${replica.spec.port}`);
    t.diagnostic(
      `sign-in waited ${((performance.now() - stoppedAt) / 1000).toFixed(1)} s, ${((performance.now() - promotedAt) / 1000).toFixed(2)} s after the promotion`,
    );

    const again = await psql(gateway('citus'), "select current_setting('port')", CITUS_PASSWORD);
    assert.equal(again.stdout.trim(), String(replica.spec.port), again.stderr);
  });

  test('after: the catalog watch and the reconciler listen on the new primary; changes reach the worker once', async () => {
    // The catalog watch listens on the new primary (LISTEN is the last statement of its connection).
    await waitFor(
      async () =>
        (await superuser(replica, "SELECT 1 FROM pg_stat_activity WHERE usename = 'pgwarden_gateway' AND query = 'LISTEN pgwarden_catalog'")).length === 1,
      15_000,
      'the catalog watch to listen on the new primary',
    );

    const add = await api.call('POST', '/api/v1/roles', { name: 'after_failover', password: 'After-Failover-Passw0rd' });
    assert.equal(add.status, 201, JSON.stringify(add.data));
    assert.deepEqual(add.data.nodes, [{ node: 'worker-1', ok: true }]);
    assert.ok(await hasRole(worker, 'after_failover'));
    const r = await psql(gateway('after_failover'), 'select current_user', 'After-Failover-Passw0rd');
    assert.equal(r.stdout.trim(), 'after_failover', r.stderr);

    // A role made on the new primary by hand: the reconciler brings it to the worker.
    await superuser(replica, 'CREATE ROLE made_after_failover NOLOGIN');
    await waitFor(() => hasRole(worker, 'made_after_failover'), 30_000, 'the reconciler to copy made_after_failover to the worker');

    // Each change once in the audit log, none lost; the refused one is not there.
    await api.call('GET', '/api/v1/audit');
    const audit = await superuser(
      replica,
      "SELECT target, count(*)::int AS n FROM pgwarden.audit_log WHERE action = 'role.add' GROUP BY target ORDER BY target",
    );
    assert.deepEqual(audit, [
      { target: 'after_failover', n: 1 },
      { target: 'before_failover', n: 1 },
    ]);
  });
  test('a switchover back: the old primary, rebuilt as a standby of the new one, is promoted, then the other stops: pgwarden moves back', async () => {
    // The old primary's data directory again, now a base backup of the new primary.
    await rm(primary.spec.dataDir, { recursive: true, force: true });
    await mkdir(primary.spec.dataDir, { mode: 0o700 });
    if (runAs) await chown(primary.spec.dataDir, runAs.uid, runAs.gid);
    await basebackup(runAs, replica, primary.spec.dataDir);
    await primary.start();
    await caughtUp(replica, primary);
    assert.deepEqual(await superuser(primary, 'SELECT pg_promote(true, 60) AS promoted'), [{ promoted: true }]);

    // Two primaries for a moment (promoted before the other is stopped): pgwarden stays where it is.
    const stays = await psql(gateway('citus'), "select current_setting('port')", CITUS_PASSWORD);
    assert.equal(stays.stdout.trim(), String(replica.spec.port), stays.stderr);

    await replica.stop();
    const moved = await psql(gateway('citus'), "select current_setting('port')", CITUS_PASSWORD);
    assert.equal(moved.stdout.trim(), String(primary.spec.port), moved.stderr);
    const add = await api.call('POST', '/api/v1/roles', { name: 'after_switchover', password: 'After-Switchover-Passw0rd' });
    assert.equal(add.status, 201, JSON.stringify(add.data));
    assert.ok(await hasRole(worker, 'after_switchover'));
    assert.ok(await hasRole(primary, 'after_failover'), 'what was made on the other primary is here too');
  });
});

/** pg_basebackup of `from` into `into`, as the servers' OS user, streaming its WAL; -R makes it a standby of `from`. */
function basebackup(runAs: RunAs | undefined, from: PostgresNode, into: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      join(CITUS_BIN, 'pg_basebackup'),
      ['-D', into, '-h', from.spec.socketDir, '-p', String(from.spec.port), '-U', 'postgres', '-R', '-X', 'stream', '-c', 'fast'],
      { env: { ...process.env, PGPASSWORD: SUPERUSER_PASSWORD }, stdio: ['ignore', 'pipe', 'pipe'], ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}) },
    );
    let output = '';
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`pg_basebackup failed (${code}): ${output}`))));
  });
}

/** Waits until `standby` has replayed everything `primary` has written so far. */
async function caughtUp(primary: PostgresNode, standby: PostgresNode): Promise<void> {
  const [{ lsn }] = await withClient(
    primary.clientConfig('postgres', SUPERUSER_PASSWORD),
    async (c) => (await c.query('SELECT pg_current_wal_lsn() AS lsn')).rows,
  );
  await waitFor(
    async () =>
      (await withClient(standby.clientConfig('postgres', SUPERUSER_PASSWORD), (c) => c.query('SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS ok', [lsn])))
        .rows[0].ok === true,
    30_000,
    'the replica to catch up',
  );
}
