// The per-read cost of the gateway's server sockets, apart from everything else: one
// process, one Unix socket, a 1-byte ping answered with a 120-byte reply (about what
// `pgbench -S` gets back), read either through node's default path (a new Buffer and
// the Readable stream's push per read) or into the shared buffer (src/gateway/server-reads.ts).
// Both ends run in this process, so the difference between the two rows is the read
// path alone. Also: the session tracker's cost per transaction (one query, its answer).
// CPU time, not wall time, and the minimum of several rounds: this machine is shared.
// Usage: node --import tsx bench/reads.ts
import { connect, createServer, type Socket } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectSharedReads, setReadSink } from '../src/gateway/server-reads.js';
import { SessionTracker } from '../src/gateway/session-tracker.js';
import { frameMessage } from '../src/protocol/messages.js';

const ROUNDS = 6;
const PINGS = 100_000;
const dir = await mkdtemp(join(tmpdir(), 'pgwarden-reads-'));
const path = join(dir, 's.sock');
const reply = Buffer.alloc(120, 7);
const echo = createServer((c) => c.on('data', () => c.write(reply)));
await new Promise<void>((r) => echo.listen(path, r));

async function roundTrips(shared: boolean): Promise<number> {
  const socket: Socket = shared ? connectSharedReads({ path }) : connect({ path });
  await new Promise((r) => socket.once('connect', r));
  const ping = Buffer.from('p');
  let count = 0;
  const done = new Promise<void>((resolve) => {
    const onRead = (): boolean => {
      if (++count === PINGS) resolve();
      else socket.write(ping);
      return true;
    };
    if (shared) setReadSink(socket, onRead);
    else socket.on('data', onRead);
  });
  const start = process.cpuUsage();
  socket.write(ping);
  await done;
  const used = process.cpuUsage(start);
  socket.destroy();
  return (used.user + used.system) / PINGS;
}

function trackerPerTransaction(): number {
  const query = frameMessage('Q', Buffer.from('SELECT abalance FROM pgbench_accounts WHERE aid = 4242;\0'));
  const answer = Buffer.concat([
    frameMessage('T', Buffer.alloc(30, 1)),
    frameMessage('D', Buffer.alloc(12, 2)),
    frameMessage('C', Buffer.from('SELECT 1\0')),
    frameMessage('Z', Buffer.from('I')),
  ]);
  const tracker = new SessionTracker(new Map());
  const n = 1_000_000;
  const start = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    tracker.fromClient(query);
    tracker.fromServer(answer);
  }
  const used = process.cpuUsage(start);
  return (used.user + used.system) / n;
}

const results = { default: [] as number[], shared: [] as number[], tracker: [] as number[] };
for (let round = 1; round <= ROUNDS; round++) {
  process.stderr.write(`round ${round}/${ROUNDS}\r`);
  results.default.push(await roundTrips(false));
  results.shared.push(await roundTrips(true));
  results.tracker.push(trackerPerTransaction());
}
echo.close();
await rm(dir, { recursive: true, force: true });
const best = (xs: number[]): number => Math.min(...xs);
console.log(`| read path | CPU µs per round trip (min of ${ROUNDS}) |`);
console.log('| --- | ---: |');
console.log(`| node's default (new Buffer, stream push, 'data') | ${best(results.default).toFixed(2)} |`);
console.log(`| shared buffer (onread) | ${best(results.shared).toFixed(2)} |`);
console.log(`| saved per read | ${(best(results.default) - best(results.shared)).toFixed(2)} |`);
console.log(`\nsession tracker: ${(best(results.tracker) * 1000).toFixed(0)} ns per transaction (one Query, its four answers)`);
