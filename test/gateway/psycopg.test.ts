// psycopg 3 (Debian's python3-psycopg) on the transaction pool's port, with server-side
// binding and every statement prepared by name (prepare_threshold=0: psycopg's own
// _pg3_N names), four connections at once on two server sessions; COPY in and out.
// Without python3 and psycopg the test skips with one line, unless PGWARDEN_NO_SKIP is
// set (CI installs python3-psycopg), where it fails.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CITUS_PASSWORD, run, startTestPgwarden, type TestPgwarden } from '../helpers/pgwarden.js';
import { findPython } from '../helpers/python.js';

const PYTHON = findPython('psycopg').python;
const unavailable = PYTHON ? undefined : 'no python3 with psycopg 3: apt-get install python3-psycopg (Debian) to run the psycopg test';
if (unavailable && process.env.PGWARDEN_NO_SKIP) throw new Error(`PGWARDEN_NO_SKIP is set, and there is ${unavailable}`);

const SCRIPT = String.raw`
import json, sys, threading
import psycopg

conninfo = sys.argv[1]
results = {}
errors = []

def work(n):
    try:
        with psycopg.connect(conninfo, prepare_threshold=0, autocommit=True) as conn:
            got = []
            for i in range(25):
                got.append(conn.execute('SELECT %s::int * %s::int AS v', (i, n)).fetchone()[0])
            with conn.transaction():
                conn.execute('CREATE TEMP TABLE t (id int, name text) ON COMMIT DROP')
                with conn.cursor().copy('COPY t FROM STDIN') as copy:
                    for i in range(100):
                        copy.write_row((i, 'row %d' % i))
                rows = conn.execute('SELECT count(*), sum(id) FROM t').fetchone()
                out = bytearray()
                with conn.cursor().copy('COPY (SELECT id FROM t ORDER BY id LIMIT 3) TO STDOUT') as copy:
                    for data in copy:
                        out += bytes(data)
            results[n] = {'products': got, 'copied': list(rows), 'copied_out': out.decode()}
    except Exception as e:
        errors.append('%s: %s' % (type(e).__name__, e))

threads = [threading.Thread(target=work, args=(n,)) for n in range(1, 5)]
for t in threads: t.start()
for t in threads: t.join()
print(json.dumps({'results': results, 'errors': errors}))
`;

describe('psycopg 3 on the transaction pool', { skip: unavailable }, () => {
  let pw: TestPgwarden;
  before(async () => {
    pw = await startTestPgwarden({ transactionPool: { port: 0, size: 2 } });
  });
  after(async () => {
    await pw?.destroy();
  });

  test('named server-side prepared statements from four connections on two sessions, COPY in and out', async () => {
    const conninfo = `host=127.0.0.1 port=${pw.gateway.poolAddress!.port} user=citus password=${CITUS_PASSWORD} dbname=postgres sslmode=require`;
    const r = await run(PYTHON!, ['-c', SCRIPT, conninfo], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { results: Record<string, { products: number[]; copied: number[]; copied_out: string }>; errors: string[] };
    assert.deepEqual(out.errors, []);
    for (const n of [1, 2, 3, 4]) {
      const got = out.results[String(n)]!;
      assert.deepEqual(
        got.products,
        Array.from({ length: 25 }, (_, i) => i * n),
        `connection ${n}`,
      );
      assert.deepEqual(got.copied, [100, 4950]);
      assert.equal(got.copied_out, '0\n1\n2\n');
    }
  });
});
