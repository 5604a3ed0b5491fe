// FrameSplitter: however a stream is cut, the same messages come out, whole or (streamed
// types) as pieces that add up to the message; bad lengths are refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { FrameSplitter } from '../../src/protocol/frames.js';

function frame(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

test('random cuts of a stream of whole and streamed messages give back the same messages', () => {
  const messages = Array.from({ length: 200 }, (_, i) => frame(i % 3 === 0 ? 'd' : 'Q', randomBytes(i % 7 === 0 ? 5000 : i % 50)));
  const stream = Buffer.concat(messages);
  for (let round = 0; round < 50; round++) {
    const out: Buffer[] = [];
    let pieces: Buffer[] = [];
    const splitter = new FrameSplitter(
      (t) => t === 0x64,
      {
        message: (_t, f) => out.push(Buffer.from(f)),
        piece: (_t, bytes, last) => {
          pieces.push(Buffer.from(bytes));
          if (last) {
            out.push(Buffer.concat(pieces));
            pieces = [];
          }
        },
      },
      1 << 20,
    );
    let pos = 0;
    while (pos < stream.length) {
      const n = 1 + Math.floor(Math.random() * 700);
      splitter.feed(stream.subarray(pos, pos + n));
      pos += n;
    }
    assert.equal(out.length, messages.length);
    out.forEach((m, i) => assert.ok(m.equals(messages[i]!), `message ${i}`));
    assert.ok(splitter.atBoundary);
  }
});

test('a length below 4, or a whole message over the limit, is refused', () => {
  const splitter = new FrameSplitter(() => false, { message: () => undefined, piece: () => undefined }, 100);
  assert.throws(() => splitter.feed(Buffer.from([0x51, 0, 0, 0, 3])), /invalid message length/);
  const big = new FrameSplitter(() => false, { message: () => undefined, piece: () => undefined }, 100);
  assert.throws(() => big.feed(frame('Q', Buffer.alloc(200))), /message too long/);
});
