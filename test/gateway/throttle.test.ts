// The throttle on a shared address (a NAT, a load balancer, a shared host): one client
// spraying wrong passwords must not lock out another client of the same address that
// has the right password, while the wrong attempts stay throttled.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import pg from 'pg';
import { addNativeRole } from '../../src/control/native-roles.js';
import { ADDRESS_FREE_FAILURES } from '../../src/util/throttle.js';
import { startTestPgwarden, waitFor, type TestPgwarden } from '../helpers/pgwarden.js';
import { apiClient } from '../helpers/api.js';

const DB_USER_PASSWORD = 'Db-User-Passw0rd';
const SPRAY_RANDOM_ROLES = 2_000;
const SPRAY_CITUS = 200;
const GOOD_SIGN_INS = 100;
/** Wrong attempts in flight at once. */
const SPRAY_CONCURRENCY = 40;

let pw: TestPgwarden;
let ca: string;

before(async () => {
  pw = await startTestPgwarden();
  ca = await readFile(pw.caPath, 'utf8');
  await addNativeRole(pw.cluster, 'db_user', DB_USER_PASSWORD);
});
after(async () => {
  await pw?.destroy();
});

/** One sign-in with a real client (pg, over TLS). Resolves to undefined on success, else
 * the server's message. */
async function signIn(user: string, password: string): Promise<string | undefined> {
  const client = new pg.Client({ host: 'localhost', port: pw.port, user, password, database: 'postgres', ssl: { ca }, connectionTimeoutMillis: 60_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const r = await client.query<{ current_user: string }>('select current_user');
    return r.rows[0]?.current_user === user ? undefined : `signed in as ${r.rows[0]?.current_user}`;
  } catch (e) {
    return (e as Error).message;
  } finally {
    await client.end().catch(() => undefined);
  }
}

const THROTTLED = /^too many failed sign-in attempts; try again in \d+ seconds?$/;

test(
  'a spray of wrong passwords from one address does not refuse a client of that address with the right password; ' + 'the wrong ones stay throttled',
  async (t) => {
    // 2,000 wrong passwords over random role names and 200 for citus, shuffled together.
    const attempts: Array<{ user: string; citus: boolean }> = [
      ...Array.from({ length: SPRAY_RANDOM_ROLES }, () => ({ user: `spray_${randomBytes(6).toString('hex')}`, citus: false })),
      ...Array.from({ length: SPRAY_CITUS }, () => ({ user: 'citus', citus: true })),
    ];
    for (let i = attempts.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [attempts[i], attempts[j]] = [attempts[j]!, attempts[i]!];
    }
    const outcomes: Array<{ citus: boolean; message: string | undefined }> = [];
    let next = 0;
    let sprayRunning = true;
    const spray = Promise.all(
      Array.from({ length: SPRAY_CONCURRENCY }, async () => {
        while (next < attempts.length) {
          const a = attempts[next++]!;
          outcomes.push({ citus: a.citus, message: await signIn(a.user, `Wrong-${randomBytes(4).toString('hex')}`) });
        }
      }),
    ).finally(() => (sprayRunning = false));

    // The well-behaved client starts once the spray has failed more often than an address
    // may fail freely, and signs in one time after another while the spray goes on.
    await waitFor(() => outcomes.length > ADDRESS_FREE_FAILURES * 2, 60_000, 'the spray to get going');
    const refused: string[] = [];
    let duringSpray = 0;
    for (let i = 0; i < GOOD_SIGN_INS; i++) {
      if (sprayRunning) duringSpray++;
      const message = await signIn('db_user', DB_USER_PASSWORD);
      if (message !== undefined) refused.push(message);
    }
    await spray;

    assert.deepEqual(
      refused,
      [],
      `db_user with its right password was refused ${refused.length} of ${GOOD_SIGN_INS} times: ${[...new Set(refused)].slice(0, 3).join(' | ')}`,
    );
    assert.ok(duringSpray >= GOOD_SIGN_INS / 2, `only ${duringSpray} of the right sign-ins ran during the spray`);

    assert.equal(outcomes.length, attempts.length);
    assert.deepEqual(
      outcomes.filter((o) => o.message === undefined),
      [],
      'a wrong password signed in',
    );
    const unexpected = outcomes.filter((o) => !THROTTLED.test(o.message!) && !/^password authentication failed for user "/.test(o.message!));
    assert.deepEqual(unexpected, [], 'every wrong attempt is answered as a failure or as throttled');
    // Guessing one role stays slow: citus is refused outright after a few failures.
    const citusThrottled = outcomes.filter((o) => o.citus && THROTTLED.test(o.message!)).length;
    assert.ok(citusThrottled >= SPRAY_CITUS * 0.75, `only ${citusThrottled} of ${SPRAY_CITUS} wrong citus passwords were throttled`);
    // Spraying many roles stays costly: once the address failed often, its failures are answered late.
    const metrics = (await apiClient(pw.apiUrl, pw.caPath).call('GET', '/metrics', undefined, null)).body.toString();
    const delayed = Number(/^pgwarden_sign_in_failures_delayed_total (\d+)$/m.exec(metrics)?.[1] ?? 0);
    assert.ok(delayed >= SPRAY_RANDOM_ROLES - ADDRESS_FREE_FAILURES, `only ${delayed} failures were delayed`);
    t.diagnostic(
      `right sign-ins during the spray: ${duringSpray}/${GOOD_SIGN_INS}; ` +
        `citus refused as throttled: ${citusThrottled}/${SPRAY_CITUS}; failures answered late: ${delayed}`,
    );
  },
);
