// A coordinator whose connection slots are all taken by client sessions still answers the
// gateway's catalog lookups (the embedded coordinator keeps reserved_connections for
// pgwarden_gateway): a sign-in is then told what is true, a wrong password or an
// overloaded cluster, never "the database server is not reachable".
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { CITUS_PASSWORD, signInOutcome, startTestPgwarden, type TestPgwarden } from '../helpers/pgwarden.js';

let pw: TestPgwarden;
const held: pg.Client[] = [];

before(async () => {
  pw = await startTestPgwarden({ workers: 0, identity: { kind: 'none' }, serverWaitTimeoutMs: 2_000 });
});
after(async () => {
  await Promise.all(held.map((c) => c.end().catch(() => undefined)));
  await pw?.destroy();
});

function outcome(user: string, password: string): Promise<string> {
  return signInOutcome({ host: '127.0.0.1', port: pw.port, user, password, database: 'postgres', ssl: { rejectUnauthorized: false } });
}

test('with every ordinary slot taken, sign-ins get "wrong password" and "overloaded", not "unreachable"', async () => {
  // Take every slot an ordinary role may have, straight on the coordinator's socket.
  for (;;) {
    const c = new pg.Client(pw.cluster.coordinator.clientConfig('citus', CITUS_PASSWORD));
    c.on('error', () => undefined);
    try {
      await c.connect();
    } catch (e) {
      assert.equal((e as { code?: string }).code, '53300', (e as Error).message);
      break;
    }
    held.push(c);
    assert.ok(held.length < 200, 'the coordinator never said it was full');
  }

  // Unknown roles (each a lookup of its own, at once: more than the gateway's idle
  // catalog connections) are refused as wrong passwords, as on an idle cluster. Failed
  // before: some were told 08006 "the database server is not reachable right now".
  const unknown = await Promise.all(Array.from({ length: 6 }, (_, i) => outcome(`nobody_${i}`, 'Whatever-Passw0rd')));
  for (const o of unknown) assert.match(o, /^28P01 password authentication failed for user "nobody_\d"$/);

  // The right password: the lookup answers, and the sign-in waits for room, then is told
  // the cluster is overloaded.
  assert.match(await outcome('citus', CITUS_PASSWORD), /^53300 the database cluster is overloaded: it had no room for another session for 2 s$/);

  await Promise.all(held.splice(0).map((c) => c.end()));
  assert.equal(await outcome('citus', CITUS_PASSWORD), 'ok');
});
