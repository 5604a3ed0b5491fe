// Property-based fuzzing (fast-check) of the codec, the SCRAM message grammar and the
// gateway's sign-in state machine: random and mutated valid input never throws anything
// but a PgwardenError, never hangs, and never stops the gateway from serving.
// Bounded for CI; FUZZ_RUNS=20000 for a longer run (docs/security.md).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  MessageReader,
  parseErrorFields,
  parsePasswordMessage,
  parseSASLInitialResponse,
  saslInitialResponse,
  saslResponse,
} from '../../src/protocol/messages.js';
import { buildStartupMessage, parseStartupPacket, startupPacketLength } from '../../src/protocol/startup.js';
import { parseClientFinal, parseClientFirst, parseServerFirst } from '../../src/scram/messages.js';
import { PgwardenError } from '../../src/util/errors.js';
import { CITUS_PASSWORD, psql, startTestPgwarden, type TestPgwarden } from '../helpers/pgwarden.js';
import { exchange } from '../helpers/raw-client.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 300);

function onlyPgwardenErrors(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof PgwardenError)) throw e;
  }
}

/** A valid message with some bytes flipped, cut or repeated. */
function mutated(valid: fc.Arbitrary<Buffer>): fc.Arbitrary<Buffer> {
  return fc
    .tuple(valid, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), fc.nat(), fc.boolean())
    .map(([buf, flips, cut, doCut]) => {
      const b = Buffer.from(buf);
      for (const [at, value] of flips) if (b.length) b[at % b.length] = value;
      return doCut && b.length ? b.subarray(0, cut % b.length) : b;
    });
}

const params = fc.dictionary(
  fc.string({ minLength: 1, maxLength: 12 }).filter((s) => !s.includes('\0')),
  fc.string({ maxLength: 20 }).filter((s) => !s.includes('\0')),
  { maxKeys: 5 },
);
// Another role than the final check's: failures of this one are throttled, not citus's.
const startupPackets = params.map((p) => buildStartupMessage(Object.entries({ user: 'fuzz_user', ...p })));

test('startup packets: random and mutated bytes give a packet or a PgwardenError', () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 64 }).map((u) => Buffer.from(u)),
        mutated(startupPackets),
      ),
      (bytes) => {
        onlyPgwardenErrors(() => {
          const len = startupPacketLength(bytes);
          if (len !== undefined && bytes.length >= len) parseStartupPacket(bytes.subarray(0, len));
        });
      },
    ),
    { numRuns: RUNS },
  );
});

test('startup packets round-trip', () => {
  fc.assert(
    fc.property(params, (p) => {
      const all = { user: 'citus', ...p };
      const parsed = parseStartupPacket(buildStartupMessage(Object.entries(all)));
      assert.equal(parsed.kind, 'startup');
      if (parsed.kind === 'startup') assert.deepEqual(Object.fromEntries(parsed.params), all);
    }),
    { numRuns: RUNS },
  );
});

const messages = fc.array(
  fc.oneof(
    fc.string({ maxLength: 40 }).map((s) => saslResponse(s)),
    fc.tuple(fc.constantFrom('SCRAM-SHA-256', 'SCRAM-SHA-256-PLUS', 'x'), fc.string({ maxLength: 40 })).map(([m, d]) => saslInitialResponse(m, d)),
  ),
  { minLength: 1, maxLength: 6 },
);

test('the message reader: any split of valid messages gives the same messages; garbage gives PgwardenErrors only', () => {
  fc.assert(
    fc.property(messages, fc.array(fc.nat(), { maxLength: 8 }), (msgs, cuts) => {
      const stream = Buffer.concat(msgs);
      const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
      const reader = new MessageReader(16 * 1024);
      const out: Buffer[] = [];
      let last = 0;
      for (const p of [...points, stream.length]) {
        reader.push(stream.subarray(last, p));
        last = p;
        for (let m = reader.next(); m; m = reader.next()) out.push(Buffer.concat([Buffer.from(m.type), Buffer.alloc(4), m.body]));
      }
      assert.equal(out.length, msgs.length);
      out.forEach((o, i) => assert.deepEqual(o.subarray(5), msgs[i]!.subarray(5)));
    }),
    { numRuns: RUNS },
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      onlyPgwardenErrors(() => {
        const reader = new MessageReader(1024);
        reader.push(Buffer.from(bytes));
        for (let m = reader.next(); m; m = reader.next()) {
          parsePasswordMessage(m.body);
          parseSASLInitialResponse(m.body);
          parseErrorFields(m.body);
        }
      });
    }),
    { numRuns: RUNS },
  );
});

test('SCRAM messages: any string parses or gives a PgwardenError', () => {
  const scramish = fc.oneof(
    fc.string({ maxLength: 80 }),
    fc.tuple(fc.constantFrom('n,,', 'y,,', 'p=tls-server-end-point,,', 'c=biws,r=', 'r=', 'n,a=x,'), fc.string({ maxLength: 60 })).map(([a, b]) => a + b),
  );
  fc.assert(
    fc.property(scramish, (s) => {
      onlyPgwardenErrors(() => parseClientFirst(s));
      onlyPgwardenErrors(() => parseClientFinal(s));
      onlyPgwardenErrors(() => parseServerFirst(s));
    }),
    { numRuns: RUNS },
  );
});

describeGateway();

function describeGateway(): void {
  let pw: TestPgwarden;
  before(async () => {
    // Plain loopback lets random bytes reach the sign-in state machine instead of the TLS layer.
    pw = await startTestPgwarden({ authTimeoutMs: 1_000, allowPlainLoopback: true });
  });
  after(async () => {
    await pw?.destroy();
  });

  test('the sign-in state machine: random sequences of mutated messages end with an error or a close, and the gateway keeps serving', async () => {
    const sslRequest = Buffer.from([0, 0, 0, 8, 4, 210, 22, 47]);
    const piece = fc.oneof(
      startupPackets,
      mutated(startupPackets),
      fc.constant(sslRequest),
      messages.map((m) => Buffer.concat(m)),
      mutated(messages.map((m) => Buffer.concat(m))),
      fc.uint8Array({ maxLength: 40 }).map((u) => Buffer.from(u)),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(piece, { minLength: 1, maxLength: 4 }), async (pieces) => {
        let bytes = Buffer.concat(pieces);
        if (bytes[0] === 0x16) bytes = bytes.subarray(1); // not a TLS ClientHello
        const out = await exchange(pw.port, bytes, 4_000);
        assert.ok(out.closed, 'the connection stayed open past the sign-in timeout');
      }),
      { numRuns: Math.min(RUNS, 60) },
    );
    const r = await psql(pw.conn('citus'), 'select 1', CITUS_PASSWORD);
    assert.equal(r.stdout.trim(), '1', r.stderr);
  });
}
