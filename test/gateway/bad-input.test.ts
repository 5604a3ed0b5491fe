// Hostile and broken input at the front door: every case ends with an error or a closed
// socket within a bounded time, and the gateway keeps serving everyone else.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { CITUS_PASSWORD, psql, startTestPgwarden, type TestPgwarden } from '../helpers/pgwarden.js';
import { collect, directTls, errorMessage, exchange, messages, startupPacket, wholeMessages } from '../helpers/raw-client.js';

const AUTH_TIMEOUT_MS = 1_500;
let pw: TestPgwarden;

before(async () => {
  pw = await startTestPgwarden({ authTimeoutMs: AUTH_TIMEOUT_MS });
});
after(async () => {
  await pw?.destroy();
});

async function stillServes(): Promise<void> {
  const r = await psql(pw.conn('citus'), 'select 42', CITUS_PASSWORD);
  assert.equal(r.stdout.trim(), '42', r.stderr);
}

function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}

test('random bytes get an error or a closed socket', async () => {
  for (let i = 0; i < 20; i++) {
    let bytes = randomBytes(1 + ((i * 37) % 200));
    if (bytes[0] === 0x16) bytes = Buffer.concat([Buffer.from([0]), bytes]);
    const out = await exchange(pw.port, bytes, AUTH_TIMEOUT_MS + 3_000);
    assert.ok(out.closed, `case ${i}: the connection stayed open`);
  }
  await stillServes();
});

test('a startup packet shorter than 8 or longer than 10,000 bytes is refused at once', async () => {
  for (const len of [0, 4, 7, -1, 10_001, 0x7fffffff]) {
    const out = await exchange(pw.port, Buffer.concat([int32(len), int32(196608)]));
    assert.ok(out.closed);
    assert.equal(errorMessage(out.data), 'invalid length of startup packet', `length ${len}`);
    assert.ok(out.ms < AUTH_TIMEOUT_MS, `length ${len}: took ${out.ms} ms`);
  }
  await stillServes();
});

test('a truncated startup packet, and a client that sends nothing, are closed by the sign-in timeout', async () => {
  const truncated = startupPacket({ user: 'citus', database: 'postgres' }).subarray(0, 12);
  const cases = await Promise.all([exchange(pw.port, truncated), exchange(pw.port, Buffer.alloc(0)), exchange(pw.port, Buffer.from([0, 0]))]);
  for (const out of cases) {
    assert.ok(out.closed, 'the connection stayed open');
    assert.ok(out.ms >= AUTH_TIMEOUT_MS - 100 && out.ms < AUTH_TIMEOUT_MS + 3_000, `closed after ${out.ms} ms`);
  }
  await stillServes();
});

test('an unsupported protocol version and a missing user are refused with a clear error', async () => {
  const v2 = await exchange(pw.port, startupPacket({ user: 'citus' }, 2 << 16));
  assert.match(errorMessage(v2.data) ?? '', /unsupported frontend protocol 2\.0/);
  const noUser = await exchange(pw.port, startupPacket({ database: 'postgres' }));
  assert.match(errorMessage(noUser.data) ?? '', /no PostgreSQL user name specified/);
});

test('data sent after SSLRequest, before the answer, is refused (CVE-2021-23214)', async () => {
  const sslRequest = Buffer.concat([int32(8), int32(80877103)]);
  const out = await exchange(pw.port, Buffer.concat([sslRequest, startupPacket({ user: 'citus' })]));
  assert.ok(out.closed);
  assert.equal(errorMessage(out.data), 'received unencrypted data after SSL request');
});

test('GSSENCRequest is answered N, and the client may go on with SSLRequest', async () => {
  const socket = connect({ host: '127.0.0.1', port: pw.port });
  // The two answers are one byte each; then the gateway waits for the TLS handshake.
  const out = await collect(socket, Buffer.concat([int32(8), int32(80877104), int32(8), int32(80877103)]), 3_000, (d) => d.length >= 2);
  assert.equal(out.data.toString('latin1'), 'NS');
});

test('direct TLS with ALPN "postgresql" gets to the SCRAM challenge; without ALPN it is closed', async () => {
  const ok = await collect(
    directTls(pw.port, pw.caPath, ['postgresql']),
    startupPacket({ user: 'citus', database: 'postgres' }),
    3_000,
    (d) => wholeMessages(d) >= 1,
  );
  const first = messages(ok.data)[0];
  assert.equal(first?.type, 'R');
  assert.equal(first.body.readInt32BE(0), 10); // AuthenticationSASL
  assert.match(first.body.toString('latin1'), /SCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0/);

  const noAlpn = await collect(directTls(pw.port, pw.caPath, undefined), startupPacket({ user: 'citus' }), 3_000);
  assert.ok(noAlpn.closed);
  assert.equal(
    messages(noAlpn.data).some((m) => m.type === 'R'),
    false,
  );
  await stillServes();
});

test('protocol 3.2 and _pq_ options are answered with NegotiateProtocolVersion 3.0', async () => {
  const out = await collect(
    directTls(pw.port, pw.caPath, ['postgresql']),
    startupPacket({ user: 'citus', database: 'postgres', '_pq_.test_option': 'x' }, (3 << 16) | 2),
    3_000,
    (d) => wholeMessages(d) >= 2,
  );
  const [v, r] = messages(out.data);
  assert.equal(v?.type, 'v');
  assert.equal(v.body.readInt32BE(0), 0);
  assert.equal(v.body.readInt32BE(4), 1);
  assert.equal(v.body.subarray(8).toString('utf8'), '_pq_.test_option\0');
  assert.equal(r?.type, 'R');
});

test('a SASL message over 16 KB is refused', async () => {
  const socket = directTls(pw.port, pw.caPath, ['postgresql']);
  const big = Buffer.alloc(5 + 20_000);
  big.write('p', 0);
  big.writeInt32BE(4 + 20_000, 1);
  const out = await collect(socket, Buffer.concat([startupPacket({ user: 'citus', database: 'postgres' }), big]), 3_000);
  assert.match(errorMessage(out.data) ?? '', /message too long/);
  await stillServes();
});

test('a cancel request with an unknown key is dropped quietly', async () => {
  const cancel = Buffer.concat([int32(16), int32(80877102), int32(12345), int32(67890)]);
  const out = await exchange(pw.port, cancel);
  assert.ok(out.closed);
  assert.equal(out.data.length, 0);
  await stillServes();
});

test('many broken connections at once leave the gateway serving', async () => {
  const storm = Array.from({ length: 100 }, (_, i) =>
    exchange(pw.port, i % 2 ? randomBytes(50) : Buffer.concat([int32(3), int32(0)]), AUTH_TIMEOUT_MS + 3_000),
  );
  await stillServes();
  const outs = await Promise.all(storm);
  assert.ok(outs.every((o) => o.closed));
  await stillServes();
});
