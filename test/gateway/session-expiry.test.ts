// Sessions that end with their token (`auth set-session-expiry token`): a session signed
// in with an access token ends when the token expires, with FATAL 28000 saying why; a
// query in flight finishes first, within the grace period (8 s here); native roles and
// the default (`never`) are unaffected. The tokens are the embedded provider's, signed
// with its own key, with an `exp` a few seconds ahead (its token endpoint issues tokens
// of 5 minutes at least).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import pg from 'pg';
import { setSessionExpiry } from '../../src/control/session-expiry.js';
import { CITUS_PASSWORD, runCli, startTestPgwarden, waitFor, type TestPgwarden } from '../helpers/pgwarden.js';
import { forge, savedAdmin, userClaims, type SavedAdmin } from '../helpers/entra.js';

const GRACE_MS = 8_000;
let pw: TestPgwarden;
let admin: SavedAdmin;
let ca: string;

before(async () => {
  pw = await startTestPgwarden({ sessionExpiryGraceMs: GRACE_MS, transactionPool: { port: 0 } });
  admin = await savedAdmin(pw);
  ca = await readFile(pw.caPath, 'utf8');
});
after(async () => {
  await pw?.destroy();
});

/** A token of the admin that expires `seconds` from now, and when (ms). */
async function shortToken(seconds: number): Promise<{ token: string; expiresAtMs: number }> {
  const exp = Math.floor(Date.now() / 1000) + seconds;
  return { token: await forge(pw, userClaims(pw, admin, { exp })), expiresAtMs: exp * 1000 };
}

interface Session {
  client: pg.Client;
  /** The error the session ended with, once it has ended. */
  ended: Promise<Error | undefined>;
}

async function connect(user: string, password: string, port = pw.port): Promise<Session> {
  const client = new pg.Client({ host: 'localhost', port, user, password, database: 'postgres', ssl: { ca } });
  let error: Error | undefined;
  client.on('error', (e) => (error ??= e));
  const ended = new Promise<Error | undefined>((resolve) => client.once('end', () => resolve(error)));
  await client.connect();
  return { client, ended };
}

/** Until the gateway's clock has passed `ms` (the token's expiry). */
const after_ = (ms: number): Promise<void> => waitFor(() => Date.now() > ms, 30_000, 'the token to expire');

test('never (the default): a session outlives its token', async () => {
  const { token, expiresAtMs } = await shortToken(3);
  const s = await connect(admin.username, token);
  await after_(expiresAtMs + 1_000);
  assert.equal((await s.client.query('select current_user as u')).rows[0].u, admin.username);
  await s.client.end();
});

test('token: idle sessions end at the expiry, a query in flight first finishes (within the grace period), native roles stay', async () => {
  await setSessionExpiry(pw.cluster, 'token');
  await waitFor(() => pw.catalog.sessionExpiry === 'token', 10_000, 'the gateway to see the setting');
  try {
    const native = await connect('citus', CITUS_PASSWORD);
    const { token, expiresAtMs } = await shortToken(4);
    const idle = await connect(admin.username, token);
    const busy = await connect(admin.username, token);
    const tooLong = await connect(admin.username, token);
    // In flight at the expiry, done 2 s after it; the other one runs past the grace period.
    const seconds = (expiresAtMs - Date.now()) / 1000 + 2;
    const finishing = busy.client.query(`select pg_sleep(${seconds.toFixed(3)}), current_user as u`);
    const cut = tooLong.client.query('select pg_sleep(120)').then(
      () => undefined,
      (e: Error) => e,
    );
    const running = async (): Promise<number> =>
      Number((await native.client.query("select count(*) as n from pg_stat_activity where query = 'select pg_sleep(120)'")).rows[0].n);
    await waitFor(async () => (await running()) === 1, 10_000, 'the long query to show');

    const idleEnd = await idle.ended;
    assert.ok(Date.now() >= expiresAtMs);
    assert.match(String(idleEnd?.message), /the access token of this session has expired/);
    assert.equal((idleEnd as Error & { code?: string }).code, '28000');

    assert.equal((await finishing).rows[0].u, admin.username, 'the query in flight finished');
    assert.match(String((await busy.ended)?.message), /the access token of this session has expired/);

    const cutError = await cut;
    assert.ok(cutError, 'a query past the grace period is cut');
    await tooLong.ended;
    // And cancelled on the server, not left to run its 120 s.
    await waitFor(async () => (await running()) === 0, 10_000, 'the cut query to stop');

    assert.equal((await native.client.query('select current_user as u')).rows[0].u, 'citus');
    await native.client.end();
  } finally {
    await setSessionExpiry(pw.cluster, 'never');
  }
});

test('token: a token accepted within the clock skew after its exp ends its session right after the sign-in', async () => {
  await setSessionExpiry(pw.cluster, 'token');
  await waitFor(() => pw.catalog.sessionExpiry === 'token', 10_000, 'the gateway to see the setting');
  try {
    const { token } = await shortToken(-60);
    const s = await connect(admin.username, token);
    assert.match(String((await s.ended)?.message), /the access token of this session has expired/);
  } finally {
    await setSessionExpiry(pw.cluster, 'never');
  }
});

test('token, on the transaction pool: ends between queries, lets a query in flight finish, cancels one past the grace period', async () => {
  await setSessionExpiry(pw.cluster, 'token');
  await waitFor(() => pw.catalog.sessionExpiry === 'token', 10_000, 'the gateway to see the setting');
  const poolPort = pw.gateway.poolAddress!.port;
  try {
    const native = await connect('citus', CITUS_PASSWORD, poolPort);
    const { token, expiresAtMs } = await shortToken(4);
    const idle = await connect(admin.username, token, poolPort);
    const busy = await connect(admin.username, token, poolPort);
    const tooLong = await connect(admin.username, token, poolPort);
    const seconds = (expiresAtMs - Date.now()) / 1000 + 2;
    const finishing = busy.client.query(`select pg_sleep(${seconds.toFixed(3)}), current_user as u`);
    const cut = tooLong.client.query("select pg_sleep(120), 'pool' as p").then(
      () => undefined,
      (e: Error) => e,
    );
    assert.match(String((await idle.ended)?.message), /the access token of this session has expired/);
    assert.equal((await finishing).rows[0].u, admin.username, 'the query in flight finished');
    assert.match(String((await busy.ended)?.message), /the access token of this session has expired/);
    assert.ok(await cut, 'a query past the grace period is cut');
    await tooLong.ended;
    await waitFor(
      async () =>
        Number((await native.client.query("select count(*) as n from pg_stat_activity where query = 'select pg_sleep(120), ''pool'' as p'")).rows[0].n) === 0,
      10_000,
      'the cut query to stop',
    );
    assert.equal((await native.client.query('select current_user as u')).rows[0].u, 'citus');
    await native.client.end();
  } finally {
    await setSessionExpiry(pw.cluster, 'never');
  }
});

test('the setting through the CLI (and so the API): auth show, set-session-expiry, a wrong value, the audit', async () => {
  const cli = (args: string[]) => runCli([...args, '--data-dir', pw.dataDir]);
  assert.match((await cli(['auth', 'show'])).stdout, /\nsession expiry: never\n/);
  const set = await cli(['auth', 'set-session-expiry', 'token']);
  assert.equal(set.code, 0, set.stderr);
  assert.equal(set.stdout, 'session expiry: token (was never)\n');
  assert.match((await cli(['auth', 'show'])).stdout, /\nsession expiry: token\n/);
  const wrong = await cli(['auth', 'set-session-expiry', 'sometimes']);
  assert.equal(wrong.code, 2);
  assert.match(wrong.stderr, /sessionExpiry/);
  assert.equal((await cli(['auth', 'set-session-expiry', 'never'])).code, 0);
  const audit = JSON.parse((await cli(['audit', '--kind', 'change', '-o', 'json'])).stdout) as { items: Array<{ action: string; target: string }> };
  assert.deepEqual(
    audit.items.filter((e) => e.action === 'session-expiry.set').map((e) => e.target),
    ['never', 'token'],
  );
});
