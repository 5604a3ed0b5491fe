// The choice of host of a node with several (src/cluster/hosts.ts), on its own: which
// connection it hands out, which it closes, and which host it tries first afterwards.
// The connections here are plain values; the real ones are in failover.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HostChoice, NoHostError, type ServerState } from '../../src/cluster/hosts.js';

const PRIMARY: ServerState = { inRecovery: false, readOnly: false };
const STANDBY: ServerState = { inRecovery: true, readOnly: true };

function opener(states: Record<string, ServerState | Error>, standbyFallback = false) {
  const discarded: string[] = [];
  return {
    discarded,
    how: {
      open: async (at: { host: string }) => {
        const s = states[at.host]!;
        if (s instanceof Error) throw s;
        return at.host;
      },
      state: (c: string) => states[c] as ServerState,
      discard: (c: string) => void discarded.push(c),
      standbyFallback,
    },
  };
}

const hosts = [
  { host: 'a', port: 5432 },
  { host: 'b', port: 5432 },
  { host: 'c', port: 5432 },
];

test('the primary is handed out, every standby tried before it closed (a kept fallback too), and it is tried first next time', async () => {
  const choice = new HostChoice('coordinator', hosts, 'read-write');
  const o = opener({ a: STANDBY, b: new Error('connect ECONNREFUSED'), c: PRIMARY }, true);
  const opened = await choice.open(o.how);
  assert.equal(opened.conn, 'c');
  // Failed before: the standby kept as a fallback for reads was never closed (a pool's
  // connection taken for good).
  assert.deepEqual(o.discarded, ['a']);
  assert.deepEqual(
    choice.order().map((h) => h.host),
    ['c', 'a', 'b'],
  );
});

test('no primary: a read takes the first standby, the others are closed; anything else gets NoHostError naming each host', async () => {
  const choice = new HostChoice('coordinator', hosts, 'read-write');
  const reads = opener({ a: new Error('connect ENOENT'), b: STANDBY, c: STANDBY }, true);
  assert.equal((await choice.open(reads.how)).conn, 'b');
  assert.deepEqual(reads.discarded, ['c']);
  assert.equal(choice.current.host, 'a', 'a standby is not settled on');

  const writes = opener({ a: new Error('connect ENOENT'), b: STANDBY, c: STANDBY });
  await assert.rejects(
    choice.open(writes.how),
    (e: unknown) =>
      e instanceof NoHostError &&
      e.code === 'NO_PRIMARY' &&
      e.message ===
        'no host of coordinator accepts read-write sessions now: a:5432: connect ENOENT; b:5432: a standby (in recovery); c:5432: a standby (in recovery)',
  );
  assert.deepEqual(writes.discarded, ['b', 'c']);
});

test('one host and no target_session_attrs: its own error, as without a choice', async () => {
  const choice = new HostChoice('coordinator', [hosts[0]!], 'any');
  const refused = new Error('connect ECONNREFUSED');
  await assert.rejects(choice.open(opener({ a: refused }).how), (e: unknown) => e === refused);
});
