// Reload without restart, as an operator does it: `pgwarden up --config FILE` with a
// certificate of one CA, the files replaced by a certificate of a second CA (both made
// here), then `pgwarden reload` (and a plain SIGHUP). psql trusting only the new CA fails
// before and signs in after; a session opened before keeps working; a bad file changes
// nothing and says why.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { get } from 'node:https';
import pg from 'pg';
import { makeCa, makeServerCert } from '../../src/tls/certificates.js';
import { makeDataDir, psql, runCli, start, waitFor, PGWARDEN_BIN } from '../helpers/pgwarden.js';

const PASSWORD = 'Reload-Test-Passw0rd';

async function tlsPair(name: string): Promise<{ caPem: string; certPem: string; keyPem: string }> {
  const ca = await makeCa(`CN=${name}`);
  const leaf = await makeServerCert(ca.certPem, ca.keyPem, ['localhost', '127.0.0.1']);
  return { caPem: ca.certPem, ...leaf };
}

test('SIGHUP and pgwarden reload: a renewed certificate for new connections, sessions continue, log level and limits; a bad file changes nothing', async () => {
  const dir = await makeDataDir('pgwarden-reload-');
  const [one, two] = [await tlsPair('reload test CA one'), await tlsPair('reload test CA two')];
  await writeFile(join(dir, 'ca-one.crt'), one.caPem);
  await writeFile(join(dir, 'ca-two.crt'), two.caPem);
  const useCertificate = async (pair: { certPem: string }, key: { keyPem: string }): Promise<void> => {
    await writeFile(join(dir, 'tls.crt'), pair.certPem);
    await writeFile(join(dir, 'tls.key'), key.keyPem, { mode: 0o600 });
  };
  await useCertificate(one, one);
  const config = join(dir, 'pgwarden.yaml');
  const settings = (extra: string): string =>
    `data-dir: state\nworkers: 1\nport: 0\npool-port: 0\napi-port: 0\nidp-port: 0\ntls-cert: tls.crt\ntls-key: tls.key\n${extra}`;
  await writeFile(config, settings('log-level: info\n'));
  const stateDir = join(dir, 'state');
  const log = join(stateDir, 'logs', 'pgwarden.log');
  const reload = () => runCli(['reload', '--data-dir', stateDir], { timeoutMs: 60_000 });

  const p = start(process.execPath, [PGWARDEN_BIN, 'up', '--config', config], { PGWARDEN_CITUS_PASSWORD: PASSWORD }, dir);
  let before: pg.Client | undefined;
  try {
    await waitFor(() => p.output().includes('Press Ctrl-C to stop.') || p.exitCode !== null, 120_000, 'pgwarden to start');
    assert.equal(p.exitCode, null, p.output());
    const port = Number(/gateway +127\.0\.0\.1:(\d+)/.exec(p.output())![1]);
    const poolPort = Number(/pool +127\.0\.0\.1:(\d+)/.exec(p.output())![1]);
    const trusting = (ca: 'one' | 'two', at = port, db = 'citus') =>
      psql(`host=127.0.0.1 port=${at} user=citus dbname=${db} sslmode=verify-full sslrootcert=${join(dir, `ca-${ca}.crt`)}`, 'select current_user', PASSWORD);
    const signsIn = async (ca: 'one' | 'two', at = port, db = 'citus'): Promise<void> => {
      const r = await trusting(ca, at, db);
      assert.equal(r.stdout.trim(), 'citus', `trusting CA ${ca}: ${r.stderr}`);
    };
    const refusedFor = async (ca: 'one' | 'two'): Promise<void> => {
      const r = await trusting(ca);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /certificate verify failed/, `trusting CA ${ca}`);
    };
    const apiUrl = /API, portal +(https:\/\/\S+)/.exec(p.output())![1]!;
    const apiTrusting = (ca: { caPem: string }): Promise<string> =>
      new Promise((resolve) => {
        get(`${apiUrl}/healthz`, { ca: ca.caPem }, (res) => {
          res.resume();
          resolve(String(res.statusCode));
        }).on('error', (e) => resolve(e.message));
      });
    const poolDebugLines = async (): Promise<number> => (await readFile(log, 'utf8')).split('\n').filter((l) => l.includes('"pool-server-opened"')).length;

    await signsIn('one');
    await refusedFor('two');
    before = new pg.Client({ host: '127.0.0.1', port, user: 'citus', password: PASSWORD, database: 'citus', ssl: { ca: one.caPem } });
    before.on('error', () => undefined);
    await before.connect();
    await signsIn('one', poolPort);
    assert.equal(await poolDebugLines(), 0, 'log-level info: no debug line');
    assert.equal(await apiTrusting(one), '200');
    assert.notEqual(await apiTrusting(two), '200');

    // The renewal: new files under the same names, and other settings in the file.
    await useCertificate(two, two);
    await writeFile(config, settings('log-level: debug\nmax-connections: 50\n'));
    const done = await reload();
    assert.equal(done.code, 0, done.stderr);
    assert.match(done.stdout, /a new certificate is served to new connections; changed: max-connections, log-level/);
    await signsIn('two');
    await refusedFor('one');
    assert.equal(await apiTrusting(two), '200', 'the API serves the new certificate too');
    assert.equal((await before.query('select current_user as who')).rows[0].who, 'citus', 'the session opened before continues');
    // The pool opens a server session for another database (and logs it at debug).
    await signsIn('two', poolPort, 'postgres');
    await waitFor(async () => (await poolDebugLines()) > 0, 10_000, 'a debug line after log-level debug');

    // A bad file: refused, naming the file, line and key; the running settings stay.
    await writeFile(config, settings('log-level: debug\nmax-connections: lots\n'));
    const bad = await reload();
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /reload refused, the running settings stay: .*pgwarden\.yaml:10: max-connections: expected a whole number/);
    await signsIn('two');
    // A key that does not belong to the certificate: refused the same way.
    await writeFile(config, settings('log-level: debug\nmax-connections: 50\n'));
    await useCertificate(two, one);
    const mismatch = await reload();
    assert.equal(mismatch.code, 2);
    assert.match(mismatch.stderr, /not a usable pair/);
    await signsIn('two');
    // The running pgwarden says so on its stderr too (another pipe: it may arrive after the answer).
    await waitFor(() => p.output().includes('pgwarden: reload refused, the running settings stay'), 10_000, 'the refusal on stderr');

    // A plain SIGHUP (systemd's ExecReload) does the same, and does not end pgwarden.
    await useCertificate(one, one);
    p.kill('SIGHUP');
    await waitFor(async () => JSON.parse(await readFile(join(stateDir, 'reload.json'), 'utf8')).count === 4, 30_000, 'the fourth reload');
    assert.equal(p.exitCode, null);
    await signsIn('one');
    assert.equal((await before.query('select 2 as two')).rows[0].two, 2);
  } finally {
    await before?.end().catch(() => undefined);
    if (p.exitCode === null) p.kill('SIGINT');
    await new Promise((resolve) => (p.exitCode !== null ? resolve(null) : p.once('exit', resolve)));
    await rm(dir, { recursive: true, force: true });
  }
  assert.equal(p.exitCode, 0, p.output());
});
