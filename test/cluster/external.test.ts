// pgwarden in front of an existing cluster: servers it does not run, reached with an
// administrator's connection strings (TCP and TLS here), sessions over TLS to the
// coordinator.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { rm } from 'node:fs/promises';
import { EmbeddedCluster } from '../../src/cluster/embedded.js';
import { parseConnInfo, redact } from '../../src/cluster/conninfo.js';
import { startPgwarden, type RunningPgwarden } from '../../src/pgwarden.js';
import { ensureLocalTls } from '../../src/tls/certificates.js';
import { silentLogger } from '../../src/util/log.js';
import { isPgwardenError } from '../../src/util/errors.js';
import { makeDataDir, psql, startExternalPgwarden } from '../helpers/pgwarden.js';
import { apiClient, basic } from '../helpers/api.js';

describe('connection strings', () => {
  test('key=value and URI forms, with quoting and libpq defaults', () => {
    assert.deepEqual(parseConnInfo("host=db1 port=6432 user=admin password='it\\'s a \\\\ b' dbname=app sslmode=verify-full"), {
      hosts: [{ host: 'db1', port: 6432 }],
      targetSessionAttrs: 'any',
      user: 'admin',
      password: "it's a \\ b",
      dbname: 'app',
      sslmode: 'verify-full',
      sslrootcert: undefined,
    });
    assert.deepEqual(parseConnInfo('postgresql://admin:p%40ss@db2:5433/app?sslmode=require'), {
      hosts: [{ host: 'db2', port: 5433 }],
      targetSessionAttrs: 'any',
      user: 'admin',
      password: 'p@ss',
      dbname: 'app',
      sslmode: 'require',
      sslrootcert: undefined,
    });
    assert.equal(parseConnInfo('host=/var/run/postgresql').sslmode, 'prefer');
    assert.equal(parseConnInfo('').dbname, 'postgres');
    assert.deepEqual(parseConnInfo('').hosts, [{ host: 'localhost', port: 5432 }]);
    for (const bad of [
      'host=x sslmode=sometimes',
      'host=x port=99999',
      'nonsense',
      'host=x bogus=1',
      "host='unterminated",
      'host=a,b,c port=1,2',
      'host=a target_session_attrs=standby',
      'host=a target_session_attrs=read-only',
      'postgresql://a:1,b:x/db',
    ]) {
      assert.throws(
        () => parseConnInfo(bad),
        (e: unknown) => isPgwardenError(e, 'CONFIG_INVALID'),
        bad,
      );
    }
  });

  test("libpq's multi-host form: hosts, ports (one for all, or one each), target_session_attrs", () => {
    const kv = parseConnInfo('host=db1,db2,/run/pg port=5432,5433,5434 target_session_attrs=read-write user=admin');
    assert.deepEqual(kv.hosts, [
      { host: 'db1', port: 5432 },
      { host: 'db2', port: 5433 },
      { host: '/run/pg', port: 5434 },
    ]);
    assert.equal(kv.targetSessionAttrs, 'read-write');
    assert.deepEqual(parseConnInfo('host=a,b port=6000').hosts, [
      { host: 'a', port: 6000 },
      { host: 'b', port: 6000 },
    ]);
    assert.deepEqual(parseConnInfo('host=a,b').hosts, [
      { host: 'a', port: 5432 },
      { host: 'b', port: 5432 },
    ]);
    const uri = parseConnInfo('postgresql://admin:s%3Acret@db1:5432,[::1]:5433,db3/app?target_session_attrs=primary&sslmode=verify-full');
    assert.deepEqual(uri.hosts, [
      { host: 'db1', port: 5432 },
      { host: '::1', port: 5433 },
      { host: 'db3', port: 5432 },
    ]);
    assert.deepEqual([uri.user, uri.password, uri.dbname, uri.sslmode, uri.targetSessionAttrs], ['admin', 's:cret', 'app', 'verify-full', 'primary']);
    assert.deepEqual(parseConnInfo('postgresql:///app?host=/run/pg&port=5433').hosts, [{ host: '/run/pg', port: 5433 }]);
  });

  test('passwords never appear in messages', () => {
    assert.equal(redact("host=x password='sec ret' user=y"), 'host=x password=*** user=y');
    assert.equal(redact('postgresql://u:secret@h/db'), 'postgresql://u:***@h/db');
    assert.throws(
      () => parseConnInfo('host=x password=hunter2 bogus=1'),
      (e: unknown) => !String((e as Error).message).includes('hunter2'),
    );
  });
});

describe('an existing cluster', () => {
  let existingDir: string;
  let pgwardenDir: string;
  let existing: EmbeddedCluster;
  let pw: RunningPgwarden;
  let conn: (port: number, user?: string, password?: string) => string;

  before(async () => {
    // "Existing" servers: run by someone else (an embedded cluster of its own), on TCP with TLS.
    existingDir = await makeDataDir();
    pgwardenDir = await makeDataDir();
    const s = createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const basePort = (s.address() as AddressInfo).port;
    await new Promise<void>((r) => s.close(() => r()));
    const tls = await ensureLocalTls(existingDir, []);
    existing = await EmbeddedCluster.open({
      dataDir: existingDir,
      workers: 1,
      log: silentLogger(),
      tcp: { host: '127.0.0.1', basePort, certPem: tls.certPem, keyPem: tls.keyPem },
    });
    await existing.start();
    const su = existing.secrets.superuserPassword;
    conn = (port, user = 'postgres', password = su) => `host=127.0.0.1 port=${port} user=${user} password='${password}' dbname=postgres sslmode=require`;
    pw = await startExternalPgwarden(pgwardenDir, 'External-Citus-Passw0rd', conn(basePort), [conn(basePort + 1)]);
  });
  after(async () => {
    await pw?.stop();
    await existing?.stop();
    await rm(existingDir, { recursive: true, force: true });
    await rm(pgwardenDir, { recursive: true, force: true });
  });

  test('citus signs in through the gateway; the session reaches the coordinator over TLS', async () => {
    const r = await psql(
      `host=127.0.0.1 port=${pw.address.port} user=citus dbname=postgres sslmode=require`,
      'select current_user, ssl from pg_stat_ssl where pid = pg_backend_pid()',
      'External-Citus-Passw0rd',
    );
    assert.equal(r.stdout.trim(), 'citus|t', r.stderr);
  });

  test('roles added through the API exist on every node', async () => {
    const api = apiClient(pw.apiUrl, `${pgwardenDir}/tls/ca.crt`, basic('citus', 'External-Citus-Passw0rd'));
    const add = await api.call('POST', '/api/v1/roles', { name: 'app_user', password: 'App-User-Passw0rd' });
    assert.equal(add.status, 201, JSON.stringify(add.data));
    assert.deepEqual(add.data.nodes, [{ node: 'worker-1', ok: true }]);
    const everywhere = await Promise.all(
      existing.nodes.map((n) => existing.withSuperuser(n, async (c) => (await c.query("select 1 from pg_roles where rolname = 'app_user'")).rowCount)),
    );
    assert.deepEqual(everywhere, [1, 1]);
    const r = await psql(`host=127.0.0.1 port=${pw.address.port} user=app_user dbname=postgres sslmode=require`, 'select current_user', 'App-User-Passw0rd');
    assert.equal(r.stdout.trim(), 'app_user', r.stderr);
  });

  test("a connection string that is not a superuser's is refused with a clear error", async () => {
    const other = await makeDataDir();
    try {
      const coordinatorPort = existing.coordinator.spec.port;
      await assert.rejects(
        startPgwarden({
          dataDir: other,
          host: '127.0.0.1',
          port: 0,
          apiPort: 0,
          identity: { kind: 'none' },
          log: silentLogger(),
          external: { coordinator: conn(coordinatorPort, 'citus', 'External-Citus-Passw0rd'), workers: [] },
        }),
        (e: unknown) =>
          isPgwardenError(e, 'CONFIG_INVALID') &&
          /must name a superuser/.test((e as Error).message) &&
          !(e as Error).message.includes('External-Citus-Passw0rd'),
      );
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  });
});
