// `pgwarden up --oauth-port`: the banner says where PostgreSQL 18's OAuth sign-in
// listens, and its psql line runs as printed with psql 18 (first on PATH), the device
// code approved on the embedded provider's page. Skips with one line without libpq 18's
// OAuth client, unless PGWARDEN_NO_SKIP is set, where it fails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { makeDataDir, start, waitFor, PGWARDEN_BIN as BIN } from '../helpers/pgwarden.js';
import { approveDeviceCode } from '../helpers/entra.js';

const PG18_BIN = process.env.PGWARDEN_CITUS_BIN ?? '/opt/postgresql-18/bin';
const withOAuthClient = existsSync(join(PG18_BIN, 'psql')) && existsSync(join(PG18_BIN, '..', 'lib', 'libpq-oauth-18.so'));
const unavailable = withOAuthClient
  ? false
  : `no psql 18 with libpq's OAuth client in ${PG18_BIN}: install ../shared/citus (docs/citus.md) to run the OAuth banner test`;
if (unavailable && process.env.PGWARDEN_NO_SKIP) throw new Error(`PGWARDEN_NO_SKIP is set, and there is ${unavailable}`);

test("the banner's OAuth line signs in with psql 18 as printed", { skip: unavailable }, async () => {
  const cwd = await makeDataDir();
  const up = start(
    process.execPath,
    [BIN, 'up', '--port', '0', '--api-port', '0', '--idp-port', '0', '--oauth-port', '0'],
    { PGWARDEN_CITUS_PASSWORD: undefined },
    cwd,
  );
  try {
    await waitFor(() => up.output().includes('Press Ctrl-C to stop.') || up.exitCode !== null, 60_000, 'pgwarden to start');
    const banner = up.output();
    assert.equal(up.exitCode, null, banner);
    const lines = banner.split('\n');
    assert.match(
      banner,
      new RegExp(
        "\\n {2}oauth {9}127\\.0\\.0\\.1:\\d+ {2}\\(PostgreSQL 18's OAuth sign-in, OAUTHBEARER, for Microsoft Entra principals; " +
          'issuer https://localhost:\\d+/[0-9a-f-]{36}/v2\\.0, scope https://token\\.postgres\\.cosmos\\.azure\\.com/\\.default\\)',
      ),
    );
    const heading = lines.findIndex((l) => l.startsWith('Or with psql 18 by OAuth'));
    assert.ok(heading > 0, banner);
    const command = lines[heading + 1]!.trim();
    const admin = JSON.parse(await readFile(join(cwd, '.pgwarden', 'entra-admin.json'), 'utf8')) as { username: string; password: string };
    const psql = start('bash', ['-c', `${command} -X -At -c 'select current_user'`], { PATH: `${PG18_BIN}:${process.env.PATH}`, PGCONNECT_TIMEOUT: '20' }, cwd);
    const exited = new Promise<number | null>((resolve) => psql.once('close', resolve));
    let prompt: RegExpExecArray | null = null;
    await waitFor(
      () => (prompt = /Visit (https:\/\/localhost:\d+)\/devicelogin and enter the code: (\S+)/.exec(psql.output())) !== null || psql.exitCode !== null,
      30_000,
    );
    assert.ok(prompt, psql.output().replace(/^\[libcurl\].*\n/gm, ''));
    const [, authority, code] = prompt as RegExpExecArray;
    const ca = await readFile(join(cwd, '.pgwarden', 'tls', 'ca.crt'), 'utf8');
    assert.match(await approveDeviceCode(authority!, ca, code!, admin.username, admin.password), /You have signed in/);
    assert.equal(await exited, 0, psql.output().replace(/^\[libcurl\].*\n/gm, ''));
    assert.ok(psql.output().split('\n').includes(admin.username));
  } finally {
    if (up.exitCode === null) up.kill('SIGINT');
    await new Promise((resolve) => (up.exitCode !== null ? resolve(undefined) : up.once('exit', resolve)));
    await rm(cwd, { recursive: true, force: true });
  }
});
