// A reload of a running pgwarden (src/reload.ts), in process: the limits, the accepted
// audiences, and a reload that is refused whole. The certificate and SIGHUP through the
// CLI: test/cli/reload.test.ts.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { CITUS_PASSWORD, psql, startTestPgwarden, type TestPgwarden } from '../helpers/pgwarden.js';
import { forge, savedAdmin, userClaims, type SavedAdmin } from '../helpers/entra.js';
import { DEFAULT_AUDIENCES } from '../../src/identity/config.js';

let pw: TestPgwarden;
let admin: SavedAdmin;

before(async () => {
  pw = await startTestPgwarden({ serverPool: { maxIdle: 0 } });
  admin = await savedAdmin(pw);
});
after(async () => {
  await pw?.destroy();
});

async function session(): Promise<pg.Client> {
  const client = new pg.Client({
    host: '127.0.0.1',
    port: pw.port,
    user: 'citus',
    password: CITUS_PASSWORD,
    database: 'postgres',
    ssl: { rejectUnauthorized: false },
  });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

test('max-connections: lowered, a new session is refused and the signed-in one continues; raised, it signs in', async () => {
  const first = await session();
  try {
    await pw.reload({ maxConnections: 1 });
    const refused = await psql(pw.conn('citus'), 'select 1', CITUS_PASSWORD);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /too many clients/);
    assert.equal((await first.query('select 1 as one')).rows[0].one, 1, 'the session signed in before continues');
    await pw.reload({ maxConnections: 10 });
    const admitted = await psql(pw.conn('citus'), 'select current_user', CITUS_PASSWORD);
    assert.equal(admitted.stdout.trim(), 'citus', admitted.stderr);
  } finally {
    await first.end();
  }
});

test('accepted audiences: a token for another audience signs in only while that audience is accepted', async () => {
  const other = 'https://db.example.org';
  const token = await forge(pw, userClaims(pw, admin, { aud: other }));
  const before = await psql(pw.conn(admin.username), 'select current_user', token);
  assert.match(before.stderr, /valid audience/);
  await pw.reload({ entra: { audiences: [...DEFAULT_AUDIENCES, other] } });
  const accepted = await psql(pw.conn(admin.username), 'select current_user', token);
  assert.equal(accepted.stdout.trim(), admin.username, accepted.stderr);
  // Verified tokens are kept; a reload must not let a kept one in past the new list.
  await pw.reload({ entra: { audiences: DEFAULT_AUDIENCES } });
  const again = await psql(pw.conn(admin.username), 'select current_user', token);
  assert.match(again.stderr, /valid audience/);
});

test('a reload with one bad setting changes nothing', async () => {
  await assert.rejects(
    pw.reload({ maxConnections: 0, tls: { cert: '/nonexistent/tls.crt', key: '/nonexistent/tls.key' } }),
    /cannot read --tls-cert\/--tls-key/,
  );
  await assert.rejects(pw.reload({ maxConnections: 0, logLevel: 'loud' }), /unknown log level/);
  await assert.rejects(pw.reload({ maxConnections: 0, entra: { clockSkewSeconds: 3600 } }), /clock skew/);
  const r = await psql(pw.conn('citus'), 'select current_user', CITUS_PASSWORD);
  assert.equal(r.stdout.trim(), 'citus', `max-connections is not 0: ${r.stderr}`);
});
