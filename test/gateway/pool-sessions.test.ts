// The transaction pool's idle server sessions (src/gateway/txpool/pool.ts), over real
// sockets to a stand-in server: a session given back waits idle and serves the next
// transaction; one that speaks unasked or goes away while idle is closed and not handed
// out again; one idle past its time is closed by the sweep. (The pool against PostgreSQL
// itself, with real clients: transaction-pool.test.ts.)
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import pino from 'pino';
import { connectSharedReads } from '../../src/gateway/server-reads.js';
import { TransactionPool, DEFAULT_TRANSACTION_POOL, type PoolServer } from '../../src/gateway/txpool/pool.js';
import type { BackendSession } from '../../src/gateway/backend.js';
import { waitFor } from '../helpers/pgwarden.js';

/** The stand-in server's side of each session, in the order opened. */
const far: Socket[] = [];
const server = createServer((s) => {
  s.on('error', () => undefined);
  s.resume(); // reads (and drops) what the pool sends, so that its end is seen
  far.push(s);
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const port = (server.address() as AddressInfo).port;
after(() => {
  for (const s of far) s.destroy();
  server.close();
});

async function open(): Promise<BackendSession> {
  const socket = connectSharedReads({ host: '127.0.0.1', port });
  await new Promise((r) => socket.once('connect', r));
  return { socket, parameters: new Map(), notices: Buffer.alloc(0), trailing: Buffer.alloc(0), key: undefined };
}

const closedByPool = (s: Socket): Promise<void> => new Promise((r) => (s.readableEnded ? r() : s.once('end', r)));

function newPool(idleTimeoutMs: number): TransactionPool {
  return new TransactionPool({ ...DEFAULT_TRANSACTION_POOL, size: 2, idleTimeoutMs }, pino({ level: 'silent' }));
}

test('a session given back serves the next transaction; one that speaks unasked or goes away while idle is closed', async () => {
  const pool = newPool(60_000);
  const group = pool.group('k', 'role');
  const first: PoolServer = await pool.acquire(group, open);
  pool.release(first, true);
  assert.equal(await pool.acquire(group, open), first, 'the idle session is handed out again');
  pool.release(first, true);

  // It speaks unasked (as PostgreSQL does when it ends a session: a FATAL message).
  far.at(-1)!.write('E');
  await waitFor(() => pool.counts().idle === 0, 10_000, 'the session that spoke unasked to be dropped');
  await closedByPool(far.at(-1)!);
  const second = await pool.acquire(group, open);
  assert.notEqual(second, first);
  pool.release(second, true);

  // It goes away.
  far.at(-1)!.destroy();
  await waitFor(() => pool.counts().idle === 0, 10_000, 'the session that went away to be dropped');
  const third = await pool.acquire(group, open);
  assert.notEqual(third, second);
  assert.ok(!third.session.socket.destroyed);
  pool.release(third, true);
  pool.close();
});

test('an idle session past the idle timeout is closed by the sweep', async () => {
  const pool = newPool(300);
  const group = pool.group('k', 'role');
  const server = await pool.acquire(group, open);
  const theirs = far.at(-1)!;
  pool.release(server, true);
  assert.equal(pool.counts().idle, 1);
  await closedByPool(theirs);
  assert.equal(pool.counts().idle, 0);
  pool.close();
});
