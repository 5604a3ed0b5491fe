// Failures behind the front door: the coordinator restarts, the identity provider goes
// away, a worker is down. And what the door tells strangers: an unknown role, a native
// role and an Entra principal answer a wrong secret alike.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { TokenVerifier } from '../../src/identity/verify-token.js';
import { DEFAULT_AUDIENCES } from '../../src/identity/config.js';
import { isPgwardenError } from '../../src/util/errors.js';
import { formatScramSecret, makeScramSecret } from '../../src/scram/primitives.js';
import { saslInitialResponse, saslResponse, parseErrorFields } from '../../src/protocol/messages.js';
import { CITUS_PASSWORD, psql, startTestPgwarden, waitFor, type TestPgwarden } from '../helpers/pgwarden.js';
import { savedAdmin, userToken, type SavedAdmin } from '../helpers/entra.js';
import { directTls, startupPacket } from '../helpers/raw-client.js';
import type { TLSSocket } from 'node:tls';

let pw: TestPgwarden;
let admin: SavedAdmin;

before(async () => {
  pw = await startTestPgwarden({ throttle: { roleFreeFailures: 100_000, addressFreeFailures: 100_000 } });
  admin = await savedAdmin(pw);
  await pw.cluster.withSuperuser(pw.cluster.coordinator, (c) =>
    c.query(`create role native_role login password '${formatScramSecret(makeScramSecret('Native-Passw0rd'))}'`),
  );
});
after(async () => {
  await pw?.destroy();
});

const signsIn = async (user: string, password: string): Promise<string> => {
  const r = await psql(pw.conn(user), 'select current_user', password);
  return r.stdout.trim() === user ? 'ok' : r.stderr;
};

describe('faults', () => {
  test('a worker that is down does not affect sign-ins', async () => {
    await pw.cluster.workers[0]!.stop();
    try {
      assert.equal(await signsIn('citus', CITUS_PASSWORD), 'ok');
      assert.equal(await signsIn(admin.username, await userToken(pw, admin.username, admin.password)), 'ok');
    } finally {
      await pw.cluster.workers[0]!.start();
    }
  });

  test('the coordinator restarts: a clear error meanwhile, sign-ins work again as soon as it is back', async () => {
    const token = await userToken(pw, admin.username, admin.password);
    await pw.cluster.coordinator.stop();
    try {
      const down = await signsIn('citus', CITUS_PASSWORD);
      assert.match(down, /FATAL: {2}the database server is not reachable/);
    } finally {
      await pw.cluster.coordinator.start();
    }
    // No restart of pgwarden: its connections to the coordinator heal by themselves.
    await waitFor(async () => (await signsIn('citus', CITUS_PASSWORD)) === 'ok', 10_000, 'citus to sign in again');
    assert.equal(await signsIn(admin.username, token), 'ok');
    // The catalog's notifications come back too: a method change still applies at once.
    await waitFor(
      async () => {
        await pw.cluster.withSuperuser(pw.cluster.coordinator, (c) => c.query("update pgwarden.settings set value = 'entra' where name = 'auth_method'"));
        return pw.catalog.authMethod === 'entra';
      },
      10_000,
      'the catalog watch to see changes again',
    );
    await pw.cluster.withSuperuser(pw.cluster.coordinator, (c) => c.query("update pgwarden.settings set value = 'both' where name = 'auth_method'"));
    await waitFor(() => pw.catalog.authMethod === 'both', 5_000, 'both again');
  });

  test('the identity provider is unreachable: cached keys keep working; unknown keys get a clear error', async () => {
    const token = await userToken(pw, admin.username, admin.password);
    assert.equal(await signsIn(admin.username, token), 'ok');
    const authority = pw.idp!.authority;
    await pw.idp!.close();
    assert.equal(await signsIn(admin.username, token), 'ok', 'a token signed with a cached key');
    // A verifier that never fetched the keys (a gateway started while the provider is down).
    const fresh = new TokenVerifier({ authority, tenantId: pw.idp!.tenantId, audiences: DEFAULT_AUDIENCES, clockSkewSeconds: 300, ca: pw.tls.caPem! });
    await assert.rejects(
      fresh.verify(token),
      (e: unknown) => isPgwardenError(e, 'IDENTITY_PROVIDER_UNAVAILABLE') && /cannot read the identity provider's metadata/.test(e.message),
    );
  });
});

/**
 * Time from the last client message to the gateway's answer, for a wrong secret: a
 * SCRAM client-final with a random proof, or a password message.
 */
async function answerTime(role: string): Promise<{ ms: number; message: string; detail: string | undefined }> {
  const socket: TLSSocket = directTls(pw.port, pw.caPath, ['postgresql']);
  await new Promise<void>((r, j) => socket.once('secureConnect', () => r()).once('error', j));
  const chunks: Buffer[] = [];
  let waiter: (() => void) | undefined;
  socket.on('data', (c: Buffer) => {
    chunks.push(c);
    waiter?.();
  });
  const next = async (): Promise<{ type: string; body: Buffer }> => {
    for (;;) {
      const buf = Buffer.concat(chunks);
      if (buf.length >= 5 && buf.length >= 1 + buf.readInt32BE(1)) {
        const len = buf.readInt32BE(1);
        chunks.length = 0;
        if (buf.length > 1 + len) chunks.push(buf.subarray(1 + len));
        return { type: String.fromCharCode(buf[0]!), body: buf.subarray(5, 1 + len) };
      }
      await new Promise<void>((r) => (waiter = r));
    }
  };
  socket.write(startupPacket({ user: role, database: 'postgres' }));
  const auth = await next();
  const code = auth.body.readInt32BE(0);
  let started: number;
  if (code === 10) {
    const nonce = randomBytes(18).toString('base64');
    socket.write(saslInitialResponse('SCRAM-SHA-256', `n,,n=,r=${nonce}`));
    const cont = await next();
    const serverNonce = /r=([^,]+)/.exec(cont.body.subarray(4).toString())![1];
    started = performance.now();
    socket.write(saslResponse(`c=biws,r=${serverNonce},p=${randomBytes(32).toString('base64')}`));
  } else {
    started = performance.now();
    const pw = Buffer.from('Wrong-Passw0rd\0');
    const msg = Buffer.alloc(5 + pw.length);
    msg.write('p', 0);
    msg.writeInt32BE(4 + pw.length, 1);
    pw.copy(msg, 5);
    socket.write(msg);
  }
  const err = await next();
  const ms = performance.now() - started;
  socket.destroy();
  const fields = parseErrorFields(err.body);
  return { ms, message: fields.get('M') ?? '', detail: fields.get('D') };
}

describe('no enumeration', () => {
  test('an unknown role, a native role and an Entra principal answer a wrong secret with the same message and a like timing', async () => {
    const roles = { unknown: 'no_such_role_here', native: 'native_role', entra: admin.username };
    const times: Record<string, number[]> = { unknown: [], native: [], entra: [] };
    for (let i = 0; i < 60; i++) {
      for (const [kind, role] of Object.entries(roles)) {
        const r = await answerTime(role);
        assert.equal(r.message, `password authentication failed for user "${role}"`);
        assert.equal(r.detail, undefined, `${kind} answers with a DETAIL`);
        if (i >= 10) times[kind]!.push(r.ms); // the first ones warm caches
      }
    }
    const stats = (xs: number[]) => {
      const s = [...xs].sort((a, b) => a - b);
      return { median: s[Math.floor(s.length / 2)]!, iqr: s[Math.floor(s.length * 0.75)]! - s[Math.floor(s.length * 0.25)]! };
    };
    const u = stats(times.unknown!);
    const n = stats(times.native!);
    const e = stats(times.entra!);
    // Not a timing budget: the three distributions must overlap (their medians within
    // the larger spread plus a millisecond), which fails if one kind of role took a
    // different path (a skipped lookup, an extra round trip, a PBKDF2).
    for (const [a, b, name] of [
      [u, n, 'unknown vs native'],
      [n, e, 'native vs entra'],
      [u, e, 'unknown vs entra'],
    ] as const) {
      assert.ok(Math.abs(a.median - b.median) <= Math.max(a.iqr, b.iqr) + 1, `${name}: medians ${a.median.toFixed(3)} and ${b.median.toFixed(3)} ms`);
    }
  });
});
