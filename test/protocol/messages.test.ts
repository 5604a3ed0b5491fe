import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MessageReader,
  authenticationCleartextPassword,
  authenticationOk,
  authenticationSASL,
  authenticationSASLContinue,
  authenticationSASLFinal,
  errorResponse,
  frameMessage,
  negotiateProtocolVersion,
  parseAuthentication,
  parseBackendKeyData,
  parseErrorFields,
  parsePasswordMessage,
  parseSASLInitialResponse,
  parseSASLMechanisms,
  saslInitialResponse,
  saslResponse,
  type Message,
} from '../../src/protocol/messages.js';
import type { ErrorCode } from '../../src/util/errors.js';

// ---- fixtures, built by hand rather than with the code under test ----

function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}

/** Concatenates pieces: strings as UTF-8, numbers as int32, buffers as they are. */
function bytes(...parts: Array<string | number | Buffer>): Buffer {
  return Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : typeof p === 'number' ? int32(p) : p)));
}

/** A typed message: type byte, int32 length (itself + body), body. */
function frame(type: string, ...body: Array<string | number | Buffer>): Buffer {
  const b = bytes(...body);
  return bytes(type, 4 + b.length, b);
}

/** The body of a framed message. */
function bodyOf(message: Buffer): Buffer {
  return message.subarray(5);
}

function fails(code: ErrorCode, message: string | RegExp) {
  return { name: 'PgwardenError', code, message };
}

// ---- builders ----

test('frameMessage: type byte, length counting itself but not the type byte, body', () => {
  assert.deepEqual(frameMessage('Z', Buffer.from('I')), Buffer.from('5a0000000549', 'hex'));
  assert.deepEqual(frameMessage('c', Buffer.alloc(0)), Buffer.from('6300000004', 'hex'));
});

test('errorResponse: S, V, C, M fields then the terminator', () => {
  const out = errorResponse({ severity: 'FATAL', sqlstate: '28P01', message: 'password authentication failed for user "bob"' });
  assert.deepEqual(out, frame('E', 'SFATAL\0', 'VFATAL\0', 'C28P01\0', 'Mpassword authentication failed for user "bob"\0', '\0'));
  assert.equal(out.readInt32BE(1), out.length - 1);
});

test('errorResponse: with detail and hint, and as a NoticeResponse', () => {
  const fields = {
    severity: 'FATAL',
    sqlstate: '28000',
    message: 'SSL connection is required',
    detail: 'pgwarden accepts only encrypted connections.',
    hint: 'Use sslmode=require.',
  } as const;
  const body = ['SFATAL\0', 'VFATAL\0', 'C28000\0', 'MSSL connection is required\0'];
  assert.deepEqual(errorResponse(fields), frame('E', ...body, 'Dpgwarden accepts only encrypted connections.\0', 'HUse sslmode=require.\0', '\0'));
  assert.deepEqual(errorResponse({ ...fields, hint: undefined }), frame('E', ...body, 'Dpgwarden accepts only encrypted connections.\0', '\0'));
  assert.deepEqual(errorResponse({ ...fields, detail: undefined }), frame('E', ...body, 'HUse sslmode=require.\0', '\0'));
  assert.deepEqual(
    errorResponse({ severity: 'NOTICE', sqlstate: '00000', message: 'hello' }, 'N'),
    frame('N', 'SNOTICE\0', 'VNOTICE\0', 'C00000\0', 'Mhello\0', '\0'),
  );
});

test('errorResponse: the length counts UTF-8 bytes', () => {
  const out = errorResponse({ severity: 'ERROR', sqlstate: '28000', message: 'rôle « zoë » 🐘' });
  assert.deepEqual(out, frame('E', 'SERROR\0', 'VERROR\0', 'C28000\0', 'Mrôle « zoë » 🐘\0', '\0'));
  assert.equal(out.readInt32BE(1), out.length - 1);
});

test('authenticationOk and authenticationCleartextPassword', () => {
  assert.deepEqual(authenticationOk(), Buffer.from('52' + '00000008' + '00000000', 'hex'));
  assert.deepEqual(authenticationCleartextPassword(), Buffer.from('52' + '00000008' + '00000003', 'hex'));
});

test('authenticationSASL: code 10, each mechanism NUL-terminated, then an empty one', () => {
  assert.deepEqual(authenticationSASL(['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256']), frame('R', 10, 'SCRAM-SHA-256-PLUS\0', 'SCRAM-SHA-256\0', '\0'));
  assert.deepEqual(
    authenticationSASL(['SCRAM-SHA-256']),
    Buffer.concat([Buffer.from('52' + '00000017' + '0000000a', 'hex'), Buffer.from('SCRAM-SHA-256\0\0', 'latin1')]),
  );
  assert.deepEqual(authenticationSASL([]), frame('R', 10, '\0'));
});

test('authenticationSASLContinue and authenticationSASLFinal: code 11 and 12, then the data unterminated', () => {
  const serverFirst = 'r=abcdef,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096';
  assert.deepEqual(authenticationSASLContinue(serverFirst), frame('R', 11, serverFirst));
  const serverFinal = 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=';
  assert.deepEqual(authenticationSASLFinal(serverFinal), frame('R', 12, serverFinal));
  assert.deepEqual(authenticationSASLFinal(''), Buffer.from('52' + '00000008' + '0000000c', 'hex'));
});

test('negotiateProtocolVersion: newest minor, count, then the unrecognised options', () => {
  assert.deepEqual(negotiateProtocolVersion(0, []), Buffer.from('76' + '0000000c' + '00000000' + '00000000', 'hex'));
  assert.deepEqual(negotiateProtocolVersion(0, ['_pq_.a', '_pq_.compression']), frame('v', 0, 2, '_pq_.a\0', '_pq_.compression\0'));
});

test('saslInitialResponse: mechanism, int32 byte length, data', () => {
  const clientFirst = 'n,,n=,r=rOprNGfwEbeRWgbNEkqO';
  assert.deepEqual(saslInitialResponse('SCRAM-SHA-256', clientFirst), frame('p', 'SCRAM-SHA-256\0', clientFirst.length, clientFirst));
  // The length is in bytes: 'é' is two.
  assert.deepEqual(saslInitialResponse('X', 'é'), Buffer.from('700000000c' + '5800' + '00000002' + 'c3a9', 'hex'));
  assert.deepEqual(saslInitialResponse('X', ''), frame('p', 'X\0', 0));
});

test('saslResponse: the data alone', () => {
  const clientFinal = 'c=biws,r=abc,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=';
  assert.deepEqual(saslResponse(clientFinal), frame('p', clientFinal));
  assert.deepEqual(saslResponse(''), Buffer.from('7000000004', 'hex'));
});

// ---- parsers ----

test('parseSASLInitialResponse: round trip with saslInitialResponse', () => {
  for (const data of ['n,,n=,r=rOprNGfwEbeRWgbNEkqO', 'p=tls-server-end-point,,n=,r=x', 'zoë 🐘', '']) {
    assert.deepEqual(parseSASLInitialResponse(bodyOf(saslInitialResponse('SCRAM-SHA-256', data))), {
      mechanism: 'SCRAM-SHA-256',
      data,
    });
  }
});

test('parseSASLInitialResponse: the length must match what follows', () => {
  const mismatch = fails('PROTOCOL_VIOLATION', 'invalid SASLInitialResponse message: length mismatch');
  assert.throws(() => parseSASLInitialResponse(bytes('SCRAM-SHA-256\0', 5, 'abc')), mismatch);
  assert.throws(() => parseSASLInitialResponse(bytes('SCRAM-SHA-256\0', 2, 'abc')), mismatch);
  assert.throws(() => parseSASLInitialResponse(bytes('SCRAM-SHA-256\0', 0, 'abc')), mismatch);
  // -1 means "no initial response", which SCRAM never sends.
  assert.throws(() => parseSASLInitialResponse(bytes('SCRAM-SHA-256\0', -1)), mismatch);
});

test('parseSASLInitialResponse: truncated messages', () => {
  const truncated = fails('PROTOCOL_VIOLATION', 'invalid SASLInitialResponse message');
  assert.throws(() => parseSASLInitialResponse(bytes('SCRAM-SHA-256\0')), truncated);
  assert.throws(() => parseSASLInitialResponse(bytes('SCRAM-SHA-256\0', Buffer.from([0, 0, 0]))), truncated);
  const unterminated = fails('PROTOCOL_VIOLATION', 'invalid message format: unterminated string');
  assert.throws(() => parseSASLInitialResponse(bytes('SCRAM-SHA-256')), unterminated);
  assert.throws(() => parseSASLInitialResponse(Buffer.alloc(0)), unterminated);
});

test('parsePasswordMessage: one NUL-terminated string, nothing after it', () => {
  assert.equal(parsePasswordMessage(bytes('secret\0')), 'secret');
  assert.equal(parsePasswordMessage(bytes('\0')), '');
  assert.equal(parsePasswordMessage(bytes('pässwörd 🐘\0')), 'pässwörd 🐘');
  const trailing = fails('PROTOCOL_VIOLATION', 'invalid password message: trailing bytes');
  assert.throws(() => parsePasswordMessage(bytes('secret\0x')), trailing);
  assert.throws(() => parsePasswordMessage(bytes('secret\0\0')), trailing);
  const unterminated = fails('PROTOCOL_VIOLATION', 'invalid message format: unterminated string');
  assert.throws(() => parsePasswordMessage(bytes('secret')), unterminated);
  assert.throws(() => parsePasswordMessage(Buffer.alloc(0)), unterminated);
});

test('parseAuthentication: the code and the rest', () => {
  assert.deepEqual(parseAuthentication(bodyOf(authenticationOk())), { code: 0, data: Buffer.alloc(0) });
  assert.deepEqual(parseAuthentication(bodyOf(authenticationSASLFinal('v=abc'))), { code: 12, data: Buffer.from('v=abc') });
  // MD5 carries a 4-byte salt.
  assert.deepEqual(parseAuthentication(bytes(5, Buffer.from([1, 2, 3, 4]))), { code: 5, data: Buffer.from([1, 2, 3, 4]) });
  const invalid = fails('PROTOCOL_VIOLATION', 'invalid authentication message from server');
  assert.throws(() => parseAuthentication(Buffer.alloc(0)), invalid);
  assert.throws(() => parseAuthentication(Buffer.alloc(3)), invalid);
});

test('parseSASLMechanisms: round trip with authenticationSASL', () => {
  for (const mechanisms of [['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256'], ['SCRAM-SHA-256'], []]) {
    const { code, data } = parseAuthentication(bodyOf(authenticationSASL(mechanisms)));
    assert.equal(code, 10);
    assert.deepEqual(parseSASLMechanisms(data), mechanisms);
  }
  assert.throws(() => parseSASLMechanisms(bytes('SCRAM-SHA-256\0', 'OAUTHBEARER')), fails('PROTOCOL_VIOLATION', 'invalid message format: unterminated string'));
});

test('parseErrorFields: round trip with errorResponse, and fields it does not build', () => {
  const fields = parseErrorFields(bodyOf(errorResponse({ severity: 'FATAL', sqlstate: '28P01', message: 'rôle refusé', detail: 'd', hint: 'h' })));
  assert.deepEqual(
    [...fields],
    [
      ['S', 'FATAL'],
      ['V', 'FATAL'],
      ['C', '28P01'],
      ['M', 'rôle refusé'],
      ['D', 'd'],
      ['H', 'h'],
    ],
  );
  // A server's ErrorResponse has more fields; all of them are kept.
  const server = parseErrorFields(bytes('SERREUR\0', 'VERROR\0', 'C42501\0', 'Mpermission denied\0', 'Fauth.c\0', 'L123\0', 'RCheckAuth\0', '\0'));
  assert.equal(server.get('S'), 'ERREUR');
  assert.equal(server.get('V'), 'ERROR');
  assert.equal(server.get('F'), 'auth.c');
  assert.equal(server.get('L'), '123');
  assert.equal(server.get('R'), 'CheckAuth');
  assert.equal(parseErrorFields(bytes('\0')).size, 0);
  assert.throws(() => parseErrorFields(bytes('SFATAL\0', 'Mno end')), fails('PROTOCOL_VIOLATION', 'invalid message format: unterminated string'));
});

test('parseBackendKeyData: process id and a key of 4 bytes or more, copied', () => {
  const body = bytes(31337, Buffer.from('0badf00d', 'hex'));
  const parsed = parseBackendKeyData(body);
  body.fill(0);
  assert.deepEqual(parsed, { processId: 31337, secretKey: Buffer.from('0badf00d', 'hex') });
  const longKey = Buffer.alloc(32, 7);
  assert.deepEqual(parseBackendKeyData(bytes(1, longKey)), { processId: 1, secretKey: longKey });
  const invalid = fails('PROTOCOL_VIOLATION', 'invalid BackendKeyData message');
  assert.throws(() => parseBackendKeyData(Buffer.alloc(7)), invalid);
  assert.throws(() => parseBackendKeyData(Buffer.alloc(0)), invalid);
});

// ---- MessageReader ----

/** Several messages of different shapes: empty body, NULs inside, UTF-8, larger. */
const EXPECTED: Message[] = [
  { type: 'R', body: bytes(10, 'SCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0\0') },
  { type: 'p', body: bytes('SCRAM-SHA-256\0', 11, 'n,,n=,r=abc') },
  { type: 'c', body: Buffer.alloc(0) },
  { type: 'p', body: bytes('pässwörd 🐘\0') },
  { type: 'R', body: bytes(0) },
  { type: 'E', body: bytes('SFATAL\0VFATAL\0C28P01\0M', 'x'.repeat(100), '\0\0') },
  { type: 'Z', body: bytes('I') },
];
const STREAM = Buffer.concat(EXPECTED.map((m) => frame(m.type, m.body)));

/** Every complete message available now, with bodies copied. */
function drain(reader: MessageReader): Message[] {
  const out: Message[] = [];
  for (let m = reader.next(); m !== undefined; m = reader.next()) out.push({ type: m.type, body: Buffer.from(m.body) });
  return out;
}

/** Feeds the chunks one by one, reading after each; checks nothing is left over. */
function readChunks(chunks: Buffer[], maxMessageBytes = 1024): Message[] {
  const reader = new MessageReader(maxMessageBytes);
  const out: Message[] = [];
  for (const chunk of chunks) {
    reader.push(chunk);
    out.push(...drain(reader));
  }
  assert.equal(reader.next(), undefined);
  assert.deepEqual(reader.takeRest(), Buffer.alloc(0));
  return out;
}

test('MessageReader: the whole stream in one chunk', () => {
  assert.deepEqual(readChunks([STREAM]), EXPECTED);
});

test('MessageReader: the stream split in two at every byte', () => {
  for (let i = 0; i <= STREAM.length; i++) {
    assert.deepEqual(readChunks([STREAM.subarray(0, i), STREAM.subarray(i)]), EXPECTED, `split at ${i}`);
  }
});

test('MessageReader: the stream split in three at every pair of bytes', () => {
  for (let i = 0; i <= STREAM.length; i++) {
    for (let j = i; j <= STREAM.length; j++) {
      const chunks = [STREAM.subarray(0, i), STREAM.subarray(i, j), STREAM.subarray(j)];
      assert.deepEqual(readChunks(chunks), EXPECTED, `split at ${i} and ${j}`);
    }
  }
});

test('MessageReader: the stream byte by byte', () => {
  const chunks = [...STREAM].map((b) => Buffer.from([b]));
  assert.deepEqual(readChunks(chunks), EXPECTED);
});

test('MessageReader: a message arrives only once all its bytes have', () => {
  const message = frame('p', 'secret\0');
  const reader = new MessageReader(1024);
  for (let i = 0; i < message.length; i++) {
    reader.push(message.subarray(i, i + 1));
    if (i < message.length - 1) assert.equal(reader.next(), undefined, `after ${i + 1} bytes`);
  }
  assert.deepEqual(drain(reader), [{ type: 'p', body: bytes('secret\0') }]);
});

test('MessageReader: over-long messages are refused as soon as the length is known', () => {
  // The limit applies to the length field, which counts itself but not the type byte.
  assert.deepEqual(readChunks([frame('p', Buffer.alloc(60))], 64), [{ type: 'p', body: Buffer.alloc(60) }]);
  const reader = new MessageReader(64);
  reader.push(frame('p', Buffer.alloc(61)).subarray(0, 5));
  assert.throws(() => reader.next(), fails('PROTOCOL_VIOLATION', 'message too long: 65 bytes, at most 64 are allowed here'));
  const huge = new MessageReader(16 * 1024);
  huge.push(bytes('p', 0x7fffffff));
  assert.throws(() => huge.next(), fails('PROTOCOL_VIOLATION', 'message too long: 2147483647 bytes, at most 16384 are allowed here'));
});

test('MessageReader: a length under 4 is refused', () => {
  for (const len of [3, 0, -1, -2147483648]) {
    const reader = new MessageReader(1024);
    reader.push(bytes('p', len));
    assert.throws(() => reader.next(), fails('PROTOCOL_VIOLATION', 'invalid message length'), `length ${len}`);
  }
});

test('MessageReader: takeRest returns the bytes after the last complete message', () => {
  const first = frame('p', 'secret\0');
  const second = frame('p', 'more\0');
  const reader = new MessageReader(1024);
  reader.push(Buffer.concat([first, second.subarray(0, 3)]));
  assert.deepEqual(drain(reader), [{ type: 'p', body: bytes('secret\0') }]);
  assert.deepEqual(reader.takeRest(), second.subarray(0, 3));
  // The reader is then empty.
  assert.deepEqual(reader.takeRest(), Buffer.alloc(0));
  assert.equal(reader.next(), undefined);
  // A complete message that was not read is part of the rest, too.
  reader.push(Buffer.concat([second, first.subarray(0, 6)]));
  assert.deepEqual(reader.takeRest(), Buffer.concat([second, first.subarray(0, 6)]));
});

test('MessageReader: takeRest is empty before anything arrives and after everything is read', () => {
  const reader = new MessageReader(1024);
  assert.deepEqual(reader.takeRest(), Buffer.alloc(0));
  reader.push(STREAM);
  assert.equal(drain(reader).length, EXPECTED.length);
  assert.deepEqual(reader.takeRest(), Buffer.alloc(0));
});

test('errorResponse: a NUL in a field cannot end it early and forge the fields after it', () => {
  const fields = parseErrorFields(errorResponse({ severity: 'FATAL', sqlstate: '08P01', message: 'type "\0Mforged\0Hhint"' }).subarray(5));
  assert.equal(fields.get('M'), 'type "MforgedHhint"');
  assert.equal(fields.has('H'), false);
});
