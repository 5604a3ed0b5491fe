import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildCancelRequest, buildStartupMessage, parseStartupPacket, startupPacketLength, type StartupPacket } from '../../src/protocol/startup.js';
import type { ErrorCode } from '../../src/util/errors.js';

// ---- fixtures, built by hand rather than with the code under test ----

const SSL_REQUEST = 80877103; // 1234.5679
const GSSENC_REQUEST = 80877104; // 1234.5680
const CANCEL_REQUEST = 80877102; // 1234.5678

function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}

/** A startup packet: int32 total length, int32 code, then `body` as given. */
function packet(code: number, body: Buffer | string = Buffer.alloc(0)): Buffer {
  const rest = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  return Buffer.concat([int32(8 + rest.length), int32(code), rest]);
}

function version(major: number, minor: number): number {
  return (major << 16) | minor;
}

/** A StartupMessage with well-formed name/value pairs and the final terminator. */
function startup(params: Array<[string, string]>, major = 3, minor = 0): Buffer {
  return packet(version(major, minor), params.map(([k, v]) => `${k}\0${v}\0`).join('') + '\0');
}

function parseStartup(p: Buffer): Extract<StartupPacket, { kind: 'startup' }> {
  const parsed = parseStartupPacket(p);
  assert.equal(parsed.kind, 'startup');
  return parsed as Extract<StartupPacket, { kind: 'startup' }>;
}

/** What assert.throws should see from a PgwardenError. */
function fails(code: ErrorCode, message: string | RegExp) {
  return { name: 'PgwardenError', code, message };
}

const LAYOUT = fails('PROTOCOL_VIOLATION', 'invalid startup packet layout: expected terminator as last byte');
const NO_USER = fails('PROTOCOL_VIOLATION', 'no PostgreSQL user name specified in startup packet');

// ---- startupPacketLength ----

test('startupPacketLength: undefined until the 4 length bytes have arrived', () => {
  const p = startup([['user', 'bob']]);
  for (let n = 0; n < 4; n++) assert.equal(startupPacketLength(p.subarray(0, n)), undefined);
  // The length is known from the header alone, before the rest of the packet arrives.
  assert.equal(startupPacketLength(p.subarray(0, 4)), p.length);
  assert.equal(startupPacketLength(p), p.length);
});

test('startupPacketLength: accepts 8 to 10000, refuses anything else', () => {
  assert.equal(startupPacketLength(int32(8)), 8);
  assert.equal(startupPacketLength(int32(10_000)), 10_000);
  for (const len of [7, 4, 0, -1, -2147483648, 10_001, 2147483647]) {
    assert.throws(() => startupPacketLength(int32(len)), fails('PROTOCOL_VIOLATION', 'invalid length of startup packet'), `length ${len}`);
  }
});

// ---- SSLRequest, GSSENCRequest ----

test('SSLRequest', () => {
  const p = Buffer.from('0000000804d2162f', 'hex');
  assert.deepEqual(p, packet(SSL_REQUEST));
  assert.equal(startupPacketLength(p), 8);
  assert.deepEqual(parseStartupPacket(p), { kind: 'ssl' });
  assert.throws(() => parseStartupPacket(packet(SSL_REQUEST, '\0')), fails('PROTOCOL_VIOLATION', 'invalid length of SSL request'));
});

test('GSSENCRequest', () => {
  const p = Buffer.from('0000000804d21630', 'hex');
  assert.deepEqual(p, packet(GSSENC_REQUEST));
  assert.deepEqual(parseStartupPacket(p), { kind: 'gssenc' });
  assert.throws(() => parseStartupPacket(packet(GSSENC_REQUEST, '\0\0\0\0')), fails('PROTOCOL_VIOLATION', 'invalid length of GSSENC request'));
});

// ---- CancelRequest ----

test('CancelRequest with a 4-byte key (protocol 3.0)', () => {
  const p = Buffer.from('0000001004d2162e' + '00003039' + 'deadbeef', 'hex');
  assert.equal(startupPacketLength(p), 16);
  assert.deepEqual(parseStartupPacket(p), {
    kind: 'cancel',
    processId: 12345,
    secretKey: Buffer.from('deadbeef', 'hex'),
  });
  assert.deepEqual(buildCancelRequest(12345, Buffer.from('deadbeef', 'hex')), p);
});

test('CancelRequest with a longer key (protocol 3.2), up to 256 bytes', () => {
  for (const keyLength of [5, 32, 256]) {
    const key = Buffer.alloc(keyLength, 0xa5);
    const p = packet(CANCEL_REQUEST, Buffer.concat([int32(4242), key]));
    assert.deepEqual(parseStartupPacket(p), { kind: 'cancel', processId: 4242, secretKey: key });
    assert.deepEqual(buildCancelRequest(4242, key), p);
  }
});

test('CancelRequest: the key is a copy, not a view on the packet', () => {
  const p = buildCancelRequest(7, Buffer.from([1, 2, 3, 4]));
  const parsed = parseStartupPacket(p);
  p.fill(0);
  assert.deepEqual(parsed, { kind: 'cancel', processId: 7, secretKey: Buffer.from([1, 2, 3, 4]) });
});

test('CancelRequest: no key or a key over 256 bytes is refused', () => {
  const invalid = fails('PROTOCOL_VIOLATION', 'invalid length of cancel request');
  assert.throws(() => parseStartupPacket(packet(CANCEL_REQUEST, int32(1))), invalid);
  assert.throws(() => parseStartupPacket(packet(CANCEL_REQUEST, Buffer.concat([int32(1), Buffer.alloc(3)]))), invalid);
  assert.throws(() => parseStartupPacket(packet(CANCEL_REQUEST, Buffer.concat([int32(1), Buffer.alloc(257)]))), invalid);
});

// ---- StartupMessage ----

test('StartupMessage 3.0: parameters come back in order', () => {
  const params: Array<[string, string]> = [
    ['user', 'bob'],
    ['database', 'app'],
    ['application_name', 'psql'],
    ['client_encoding', 'UTF8'],
    ['options', '-c search_path=public'],
  ];
  const p = startup(params);
  assert.equal(startupPacketLength(p), p.length);
  const parsed = parseStartup(p);
  assert.equal(parsed.majorVersion, 3);
  assert.equal(parsed.minorVersion, 0);
  assert.deepEqual([...parsed.params], params);
});

test('StartupMessage: an empty value is kept', () => {
  assert.deepEqual(
    [
      ...parseStartup(
        startup([
          ['user', 'bob'],
          ['database', ''],
        ]),
      ).params,
    ],
    [
      ['user', 'bob'],
      ['database', ''],
    ],
  );
});

test('buildStartupMessage: byte-exact protocol 3.0 packet', () => {
  const expected = Buffer.concat([Buffer.from('0000001e' + '00030000', 'hex'), Buffer.from('user\0bob\0database\0db\0\0', 'latin1')]);
  assert.deepEqual(
    buildStartupMessage([
      ['user', 'bob'],
      ['database', 'db'],
    ]),
    expected,
  );
  assert.deepEqual(
    buildStartupMessage([
      ['user', 'bob'],
      ['database', 'db'],
    ]),
    startup([
      ['user', 'bob'],
      ['database', 'db'],
    ]),
  );
});

test('buildStartupMessage round trip, from a Map as the gateway does', () => {
  const params = new Map([
    ['user', 'alice@contoso.com'],
    ['database', 'postgres'],
    ['application_name', 'pgwarden test'],
  ]);
  const p = buildStartupMessage(params);
  assert.equal(startupPacketLength(p), p.length);
  const parsed = parseStartup(p);
  assert.equal(parsed.minorVersion, 0);
  assert.deepEqual(parsed.params, params);
});

test('StartupMessage 3.2: accepted, with the minor version reported', () => {
  const parsed = parseStartup(
    startup(
      [
        ['user', 'bob'],
        ['_pq_.some_option', 'on'],
      ],
      3,
      2,
    ),
  );
  assert.equal(parsed.majorVersion, 3);
  assert.equal(parsed.minorVersion, 2);
  assert.equal(parsed.params.get('_pq_.some_option'), 'on');
  assert.equal(parseStartup(startup([['user', 'bob']], 3, 65535)).minorVersion, 65535);
});

test('StartupMessage: another major version is not supported', () => {
  const cases: Array<[number, string]> = [
    [version(2, 0), '2.0'],
    [version(4, 1), '4.1'],
    [version(0, 0), '0.0'],
    [version(1234, 5681), '1234.5681'], // an unknown request code reads as a version
  ];
  for (const [code, shown] of cases) {
    assert.throws(
      () => parseStartupPacket(packet(code, 'user\0bob\0\0')),
      fails('FEATURE_NOT_SUPPORTED', `unsupported frontend protocol ${shown}: server supports 3.0 to 3.0`),
    );
  }
});

test('StartupMessage: no user, or an empty one, is refused', () => {
  assert.throws(() => parseStartupPacket(startup([['database', 'app']])), NO_USER);
  assert.throws(() => parseStartupPacket(startup([])), NO_USER);
  assert.throws(
    () =>
      parseStartupPacket(
        startup([
          ['user', ''],
          ['database', 'app'],
        ]),
      ),
    NO_USER,
  );
  // Parameter names are case-sensitive: USER is not user.
  assert.throws(() => parseStartupPacket(startup([['USER', 'bob']])), NO_USER);
});

test('StartupMessage: a parameter given twice is refused', () => {
  assert.throws(
    () =>
      parseStartupPacket(
        startup([
          ['user', 'bob'],
          ['database', 'a'],
          ['database', 'b'],
        ]),
      ),
    fails('PROTOCOL_VIOLATION', 'duplicate startup parameter "database"'),
  );
  assert.throws(
    () =>
      parseStartupPacket(
        startup([
          ['user', 'bob'],
          ['user', 'bob'],
        ]),
      ),
    fails('PROTOCOL_VIOLATION', 'duplicate startup parameter "user"'),
  );
});

test('StartupMessage: malformed layouts', () => {
  const v30 = version(3, 0);
  // No parameters and no terminator at all.
  assert.throws(() => parseStartupPacket(packet(v30)), LAYOUT);
  // The final terminator is missing.
  assert.throws(() => parseStartupPacket(packet(v30, 'user\0bob\0')), LAYOUT);
  // A value without its terminator.
  assert.throws(() => parseStartupPacket(packet(v30, 'user\0bob')), LAYOUT);
  assert.throws(() => parseStartupPacket(packet(v30, 'database\0app\0user\0bob')), LAYOUT);
  // A name without its terminator.
  assert.throws(() => parseStartupPacket(packet(v30, 'user')), LAYOUT);
  // A name without any value.
  assert.throws(() => parseStartupPacket(packet(v30, 'user\0')), LAYOUT);
  // Bytes after the final terminator.
  assert.throws(() => parseStartupPacket(packet(v30, 'user\0bob\0\0database\0app\0\0')), LAYOUT);
  assert.throws(() => parseStartupPacket(packet(v30, 'user\0bob\0\0\0')), LAYOUT);
});

test('StartupMessage: non-ASCII user names are decoded as UTF-8', () => {
  for (const user of ['jürgen', 'zoë@contoso.com', '山田太郎', 'Ωmega 🐘', 'MixedCase "quoted"']) {
    const p = startup([
      ['user', user],
      ['database', user],
    ]);
    const parsed = parseStartup(p);
    assert.equal(parsed.params.get('user'), user);
    assert.equal(parsed.params.get('database'), user);
    assert.deepEqual(buildStartupMessage(parsed.params), p);
  }
  // The length counts bytes, not characters.
  assert.equal(buildStartupMessage([['user', 'é']]).length, 8 + 'user\0'.length + 2 + 1 + 1);
});
