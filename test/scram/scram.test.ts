import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ScramClientExchange } from '../../src/scram/client.js';
import { parseClientFinal, parseClientFirst, parseServerFirst } from '../../src/scram/messages.js';
import {
  clientKeyFrom,
  formatScramSecret,
  hmac,
  makeScramSecret,
  mockScramSecret,
  parseScramSecret,
  saltedPassword,
  serverKeyFrom,
  sha256,
  xor,
} from '../../src/scram/primitives.js';
import { saslPrep } from '../../src/scram/saslprep.js';
import { ScramServerExchange } from '../../src/scram/server.js';

// RFC 7677 section 3: user "user", password "pencil".
const RFC = {
  password: 'pencil',
  clientFirst: 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO',
  serverNonce: '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0',
  serverFirst: 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
  clientFinal: 'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
  serverFinal: 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
};
const RFC_SALT = Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64');

test('RFC 7677 vector: the client proof and server signature computed from the password', () => {
  const salted = saltedPassword(RFC.password, RFC_SALT, 4096);
  const clientKey = clientKeyFrom(salted);
  const storedKey = sha256(clientKey);
  const authMessage = `n=user,r=rOprNGfwEbeRWgbNEkqO,${RFC.serverFirst},c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0`;
  const proof = xor(clientKey, hmac(storedKey, authMessage));
  assert.equal(proof.toString('base64'), 'dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=');
  assert.equal(`v=${hmac(serverKeyFrom(salted), authMessage).toString('base64')}`, RFC.serverFinal);
});

test('RFC 7677 vector: the server exchange accepts the client and recovers its ClientKey', () => {
  const secret = makeScramSecret(RFC.password, { salt: RFC_SALT, iterations: 4096 });
  const server = new ScramServerExchange(secret, undefined, RFC.serverNonce);
  assert.equal(server.start('SCRAM-SHA-256', RFC.clientFirst), RFC.serverFirst);
  const result = server.finish(RFC.clientFinal);
  assert.ok(result.ok);
  assert.equal(result.serverFinal, RFC.serverFinal);
  assert.deepEqual(result.clientKey, clientKeyFrom(saltedPassword(RFC.password, RFC_SALT, 4096)));
});

test('a wrong proof fails without throwing; the exchange cannot be replayed', () => {
  const secret = makeScramSecret('another password', { salt: RFC_SALT, iterations: 4096 });
  const server = new ScramServerExchange(secret, undefined, RFC.serverNonce);
  server.start('SCRAM-SHA-256', RFC.clientFirst);
  assert.deepEqual(server.finish(RFC.clientFinal), { ok: false });
  assert.throws(() => server.finish(RFC.clientFinal), /unexpected SCRAM message/);
});

test("verifiers round-trip in PostgreSQL's format; anything else is not SCRAM", () => {
  const s = makeScramSecret('secret');
  const text = formatScramSecret(s);
  assert.match(text, /^SCRAM-SHA-256\$4096:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/);
  assert.deepEqual(parseScramSecret(text), s);
  for (const bad of [null, '', 'md5a3556571e93b0d20722ba62be61e8c2d', 'SCRAM-SHA-256$0:AA==$x:y', 'plain']) {
    assert.equal(parseScramSecret(bad), undefined);
  }
});

test('channel binding: PLUS requires p=tls-server-end-point with the right hash; y is a downgrade when TLS is there', () => {
  const endPoint = Buffer.alloc(32, 7);
  const secret = makeScramSecret('pw');
  const plus = new ScramServerExchange(secret, endPoint);
  assert.throws(() => plus.start('SCRAM-SHA-256-PLUS', 'n,,n=,r=abc'), /channel binding is required/);
  const down = new ScramServerExchange(secret, endPoint);
  assert.throws(() => down.start('SCRAM-SHA-256', 'y,,n=,r=abc'), /negotiation error/);
  const noTls = new ScramServerExchange(secret, undefined);
  assert.throws(() => noTls.start('SCRAM-SHA-256-PLUS', 'p=tls-server-end-point,,n=,r=abc'), /invalid SASL authentication mechanism/);
  assert.doesNotThrow(() => new ScramServerExchange(secret, undefined).start('SCRAM-SHA-256', 'y,,n=,r=abc'));

  // A full PLUS exchange with the right binding data succeeds; the wrong data fails.
  for (const [data, ok] of [
    [endPoint, true],
    [Buffer.alloc(32, 8), false],
  ] as const) {
    const server = new ScramServerExchange(secret, endPoint);
    const gs2 = 'p=tls-server-end-point,,';
    const serverFirst = parseServerFirst(server.start('SCRAM-SHA-256-PLUS', `${gs2}n=,r=clientnonce`));
    const salted = saltedPassword('pw', serverFirst.salt, serverFirst.iterations);
    const c = Buffer.concat([Buffer.from(gs2), data]).toString('base64');
    const withoutProof = `c=${c},r=${serverFirst.nonce}`;
    const authMessage = `n=,r=clientnonce,r=${serverFirst.nonce},s=${serverFirst.salt.toString('base64')},i=${serverFirst.iterations},${withoutProof}`;
    const proof = xor(clientKeyFrom(salted), hmac(sha256(clientKeyFrom(salted)), authMessage));
    const finish = () => server.finish(`${withoutProof},p=${proof.toString('base64')}`);
    if (ok) assert.equal(finish().ok, true);
    else assert.throws(finish, /channel binding check failed/);
  }
});

test('malformed SCRAM messages are refused with a clear error', () => {
  assert.throws(() => parseClientFirst('n=user,r=abc'), /GS2 header|malformed/);
  assert.throws(() => parseClientFirst('n,a=admin,n=,r=abc'), /authorization identity/);
  assert.throws(() => parseClientFirst('n,,m=ext,n=,r=abc'), /malformed/);
  assert.throws(() => parseClientFirst('n,,n=,r=a,b'), /malformed/);
  assert.throws(() => parseClientFirst('x,,n=,r=abc'), /malformed/);
  assert.throws(() => parseClientFinal('c=biws,r=abc'), /malformed/);
  assert.throws(() => parseClientFinal('c=biws,r=abc,p=!!!'), /malformed/);
  assert.throws(() => parseClientFinal('c=biws,r=abc,p=AAAA'), /malformed/);
});

test('the pass-through client signs in with a ClientKey, and refuses a changed salt', () => {
  const secret = makeScramSecret('pw');
  const clientKey = clientKeyFrom(saltedPassword('pw', secret.salt, secret.iterations));
  const client = new ScramClientExchange((s) => (s.salt.equals(secret.salt) ? { clientKey, serverKey: secret.serverKey } : undefined));
  const server = new ScramServerExchange(secret, undefined);
  const first = client.clientFirst();
  const serverFirst = server.start('SCRAM-SHA-256', first);
  const result = server.finish(client.clientFinal(serverFirst));
  assert.ok(result.ok);
  assert.doesNotThrow(() => client.verifyServerFinal(result.serverFinal));
  assert.throws(() => client.verifyServerFinal('v=' + Buffer.alloc(32).toString('base64')), /signature is wrong/);

  const other = makeScramSecret('pw');
  const stale = new ScramClientExchange(() => undefined);
  const s2 = new ScramServerExchange(other, undefined);
  assert.throws(() => stale.clientFinal(s2.start('SCRAM-SHA-256', stale.clientFirst())), /password changed/);
});

test('mock secrets: stable salt per role name, never the same keys', () => {
  const key = Buffer.alloc(32, 1);
  const a = mockScramSecret('nobody', key);
  const b = mockScramSecret('nobody', key);
  assert.deepEqual(a.salt, b.salt);
  assert.notDeepEqual(a.storedKey, b.storedKey);
  assert.notDeepEqual(mockScramSecret('somebody', key).salt, a.salt);
  assert.equal(a.iterations, 4096);
});

test('SASLprep as PostgreSQL applies it: ASCII unchanged, mapped characters mapped, prohibited ones left alone', () => {
  assert.equal(saslPrep('pencil'), 'pencil');
  assert.equal(saslPrep('a\u0007b'), 'a\u0007b');
  assert.equal(saslPrep('I\u00ADX'), 'IX'); // soft hyphen maps to nothing
  assert.equal(saslPrep('\u2168'), 'IX'); // NFKC
  assert.equal(saslPrep('a\u0007\u00e9'), 'a\u0007\u00e9'); // prohibited control character: used as is
});
