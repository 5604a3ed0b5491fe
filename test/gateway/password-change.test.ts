// A password changed while clients are signing in (found by `npm run chaos`, the password
// reset during load): a client that proved the password that was right when the gateway
// checked it, and was then refused by PostgreSQL because the password had just changed,
// gets 28P01 but is not counted as a guess; so a burst of such sign-ins does not lock the
// role out of its address for the clients that already have the new password.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import type pg from 'pg';
import { addNativeRole } from '../../src/control/native-roles.js';
import { formatScramSecret, makeScramSecret } from '../../src/scram/primitives.js';
import { quoteIdent, quoteLiteral } from '../../src/util/sql.js';
import { ROLE_FREE_FAILURES } from '../../src/util/throttle.js';
import { signInOutcome, startTestPgwarden, type TestPgwarden } from '../helpers/pgwarden.js';

const ROLE = 'app_user';
const OLD = 'Old-App-Passw0rd';
const NEW = 'New-App-Passw0rd';
/** Enough for a block of 16 s, were they counted as wrong guesses. */
const ATTEMPTS = ROLE_FREE_FAILURES + 5;

let pw: TestPgwarden;
let ca: string;

before(async () => {
  pw = await startTestPgwarden({ workers: 0 });
  ca = await readFile(pw.caPath, 'utf8');
  await addNativeRole(pw.cluster, ROLE, OLD);
});
after(async () => {
  await pw?.cluster.withSuperuser(pw.cluster.coordinator, (c) => resetDelay(c)).catch(() => undefined);
  await pw?.destroy();
});

async function resetDelay(c: pg.Client): Promise<void> {
  await c.query('ALTER SYSTEM RESET pre_auth_delay');
  await c.query('SELECT pg_reload_conf()');
}

function signIn(password: string): Promise<string> {
  return signInOutcome({ host: 'localhost', port: pw.port, user: ROLE, password, database: 'postgres', ssl: { ca }, connectionTimeoutMillis: 60_000 });
}

test('sign-ins refused by PostgreSQL because the password changed after the gateway checked it do not throttle the role', async () => {
  assert.equal(await signIn(OLD), 'ok', 'the old password signs in before the change');
  // The gateway keeps the role's verifier for a few seconds; a change made in SQL is seen
  // by PostgreSQL at once. Each new server session waits 1 s before its authentication,
  // so that every sign-in below has passed the gateway's check before PostgreSQL refuses
  // the first of them (as sign-ins under way at a reset do).
  await pw.cluster.withSuperuser(pw.cluster.coordinator, async (c) => {
    await c.query("ALTER SYSTEM SET pre_auth_delay = '1s'");
    await c.query('SELECT pg_reload_conf()');
    await c.query(`ALTER ROLE ${quoteIdent(ROLE)} PASSWORD ${quoteLiteral(formatScramSecret(makeScramSecret(NEW)))}`);
  });
  const refused = await Promise.all(Array.from({ length: ATTEMPTS }, () => signIn(OLD)));
  await pw.cluster.withSuperuser(pw.cluster.coordinator, (c) => resetDelay(c));
  for (const m of refused) assert.match(m, /password authentication failed for user "app_user"/);
  const log = await readFile(pw.logFile, 'utf8');
  assert.equal(log.match(/"reason":"secret-changed"/g)?.length, ATTEMPTS, 'each was refused by PostgreSQL after the gateway accepted its proof');
  assert.equal(await signIn(NEW), 'ok', 'the new password signs in at once');
});
