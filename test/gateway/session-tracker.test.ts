// The session tracker follows message boundaries in streams split anywhere: whatever the
// chunking, it reaches the same verdict as with whole messages.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { frameMessage, parameterStatus, simpleQuery, terminate } from '../../src/protocol/messages.js';
import { SessionTracker } from '../../src/gateway/session-tracker.js';

const FUZZ_RUNS = Number(process.env.FUZZ_RUNS ?? 300);

const Z = (status: string): Buffer => frameMessage('Z', Buffer.from(status, 'latin1'));
const row = (n: number): Buffer => frameMessage('D', Buffer.alloc(n, 7));
const done = frameMessage('C', Buffer.from('SELECT 1\0'));

/** Splits `bytes` at the given cut points. */
function split(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let last = 0;
  for (const p of points) {
    out.push(bytes.subarray(last, p));
    last = p;
  }
  out.push(bytes.subarray(last));
  return out;
}

interface Script {
  client: Buffer[];
  server: Buffer[];
}

/** Runs client and server messages in turn, each stream cut into chunks. */
function verdict(script: Script, clientCuts: number[], serverCuts: number[]): { reusable: boolean; parameters: Record<string, string> } {
  const t = new SessionTracker(new Map([['application_name', 'start']]));
  const turns = Math.max(script.client.length, script.server.length);
  for (let i = 0; i < turns; i++) {
    const c = script.client[i];
    // A Terminate split across chunks is (rightly) never reused: its first bytes have
    // gone to the server already. Clients write it whole, so it is fed whole here.
    const isLast = i === script.client.length - 1;
    if (c) for (const chunk of isLast ? [c] : split(c, clientCuts)) if (!t.reusable) t.fromClient(chunk);
    const s = script.server[i];
    if (s) for (const chunk of split(s, serverCuts)) t.fromServer(chunk);
  }
  return { reusable: t.reusable, parameters: Object.fromEntries(t.parameters) };
}

describe('session tracker', () => {
  test('a Terminate after every answer arrived: reusable, and the Terminate is where it was sent', () => {
    const t = new SessionTracker(new Map());
    t.fromClient(simpleQuery('select 1'));
    t.fromServer(Buffer.concat([row(10), done, Z('I')]));
    t.fromClient(terminate());
    assert.equal(t.reusable, true);
    assert.equal(t.terminatedAt, 0);
  });

  test('not reusable: in a transaction, an answer still owed, unsynced extended messages, bytes after Terminate, half a server message', () => {
    const cases: Array<[string, Buffer[], Buffer[]]> = [
      ['in a transaction', [simpleQuery('begin'), terminate()], [Buffer.concat([done, Z('T')])]],
      ['failed transaction', [simpleQuery('x'), terminate()], [Buffer.concat([frameMessage('E', Buffer.from('SERROR\0\0')), Z('E')])]],
      ['answer owed', [simpleQuery('select 1'), Buffer.concat([simpleQuery('select 2'), terminate()])], [Buffer.concat([done, Z('I')])]],
      ['Parse without Sync', [Buffer.concat([frameMessage('P', Buffer.from('\0select 1\0\0\0')), terminate()])], []],
      ['bytes after Terminate', [Buffer.concat([terminate(), simpleQuery('select 1')])], []],
      [
        'half a notice from the server',
        [simpleQuery('select 1'), terminate()],
        [Buffer.concat([done, Z('I'), frameMessage('N', Buffer.from('SNOTICE\0\0')).subarray(0, 7)])],
      ],
    ];
    for (const [what, client, server] of cases) {
      const t = new SessionTracker(new Map());
      for (let i = 0; i < Math.max(client.length, server.length); i++) {
        if (client[i]) t.fromClient(client[i]!);
        if (server[i]) t.fromServer(server[i]!);
      }
      assert.equal(t.reusable, false, what);
    }
  });

  test('a length below 4 stops the following: never reusable', () => {
    const t = new SessionTracker(new Map());
    t.fromClient(Buffer.from([0x51, 0, 0, 0, 2]));
    t.fromClient(terminate());
    assert.equal(t.reusable, false);
  });

  test('any chunking gives the verdict and parameters of whole messages', () => {
    const scriptArb = fc
      .array(
        fc.record({
          rows: fc.array(fc.integer({ min: 0, max: 300 }), { maxLength: 4 }),
          status: fc.constantFrom('I', 'I', 'I', 'T', 'E'),
          app: fc.option(
            fc.string({ minLength: 0, maxLength: 20 }).filter((s) => !s.includes('\0')),
            { nil: undefined },
          ),
        }),
        { minLength: 1, maxLength: 6 },
      )
      .map((queries): Script => {
        const client: Buffer[] = [];
        const server: Buffer[] = [];
        for (const q of queries) {
          client.push(simpleQuery('select something'));
          const parts = q.rows.map(row);
          if (q.app !== undefined) parts.push(parameterStatus('application_name', q.app));
          parts.push(done, Z(q.status));
          server.push(Buffer.concat(parts));
        }
        client.push(terminate());
        return { client, server };
      });
    fc.assert(
      fc.property(scriptArb, fc.array(fc.nat(), { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 8 }), (script, cc, sc) => {
        assert.deepEqual(verdict(script, cc, sc), verdict(script, [], []));
      }),
      { numRuns: FUZZ_RUNS },
    );
  });
});
