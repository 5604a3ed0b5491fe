// The reconciler's cost, on an embedded cluster of 1 coordinator and 8 workers with 500
// roles and 2,000 tables (created on every node, each granted to a few roles):
//
//   - a full pass that finds nothing to do (read every node's catalogs, compare);
//   - one GRANT's convergence: from the moment the GRANT has committed on the
//     coordinator to the moment every worker's ACL has it (event trigger -> NOTIFY ->
//     pass), measured by polling each worker on its own open connection.
//
// Medians of several runs. Run: node --import tsx bench/reconcile.ts
// Environment: BENCH_WORKERS (8), BENCH_ROLES (500), BENCH_TABLES (2000), BENCH_RUNS (7).
import { mkdtemp, rm, chmod } from 'node:fs/promises';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { EmbeddedCluster } from '../src/cluster/embedded.js';
import { installReconcileSchema, Reconciler } from '../src/reconcile/index.js';
import { silentLogger } from '../src/util/log.js';
import { quoteIdent } from '../src/util/sql.js';

const WORKERS = Number(process.env.BENCH_WORKERS ?? 8);
const ROLES = Number(process.env.BENCH_ROLES ?? 500);
const TABLES = Number(process.env.BENCH_TABLES ?? 2000);
const RUNS = Number(process.env.BENCH_RUNS ?? 7);
/** Polling interval of the convergence measurement (its resolution). */
const POLL_MS = 2;
/** The periodic pass must not run during the measurements. */
const NO_PERIODIC_PASS_MS = 3_600_000;

const log = (msg: string): void => console.log(`[${new Date().toISOString().slice(11, 19)}] ${msg}`);
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const ms = (x: number): string => `${x.toFixed(1)} ms`;

async function main(): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'pgwarden-bench-reconcile-'));
  await chmod(dataDir, 0o711);
  const cluster = await EmbeddedCluster.open({ dataDir, log: silentLogger(), workers: WORKERS, citusPassword: 'Bench-Citus-Passw0rd' });
  let reconciler: Reconciler | undefined;
  try {
    log(`starting 1 coordinator and ${WORKERS} workers in ${dataDir}`);
    let t = performance.now();
    await cluster.start();
    log(`cluster started in ${((performance.now() - t) / 1000).toFixed(1)} s`);

    t = performance.now();
    await cluster.withSuperuser(cluster.coordinator, async (c) => {
      await installReconcileSchema(c);
      // Verifiers computed by the server (password_encryption = scram-sha-256).
      await c.query(`DO $$ BEGIN FOR i IN 1..${ROLES} LOOP EXECUTE format('CREATE ROLE %I LOGIN PASSWORD %L', 'bench_role_' || i, 'pw-' || i); END LOOP; END $$`);
    });
    log(`${ROLES} roles created on the coordinator in ${((performance.now() - t) / 1000).toFixed(1)} s`);

    t = performance.now();
    await Promise.all(
      cluster.nodes.map((node) =>
        cluster.withSuperuser(node, async (c) => {
          await c.query('SET ROLE citus');
          await c.query(`DO $$ BEGIN FOR i IN 1..${TABLES} LOOP EXECUTE format('CREATE TABLE %I (id int PRIMARY KEY, v text)', 'bench_table_' || i); END LOOP; END $$`);
        }),
      ),
    );
    log(`${TABLES} tables created on each of the ${cluster.nodes.length} nodes in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    // Two grants per table on the coordinator: the workers get them from the first pass.
    await cluster.withSuperuser(cluster.coordinator, (c) =>
      c.query(`DO $$ BEGIN FOR i IN 1..${TABLES} LOOP
                 EXECUTE format('GRANT SELECT ON %I TO %I, %I', 'bench_table_' || i, 'bench_role_' || (1 + i % ${ROLES}), 'bench_role_' || (1 + (i * 7) % ${ROLES}));
               END LOOP; END $$`),
    );

    const version = await cluster.withSuperuser(cluster.coordinator, async (c) => (await c.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]!.v);
    reconciler = new Reconciler({ admin: cluster, log: silentLogger(), intervalMs: NO_PERIODIC_PASS_MS });
    t = performance.now();
    const first = await reconciler.runPass('bench: first pass');
    const applied = first.nodes.reduce((n, x) => n + x.applied, 0);
    log(`first pass (creates ${ROLES} roles with their verifiers and ${2 * TABLES} grants on every worker): ${((performance.now() - t) / 1000).toFixed(2)} s, ${applied} statements`);
    for (const n of first.nodes) if (n.errors.length || n.remaining) throw new Error(`${n.node} did not converge: ${n.remaining} ${n.errors.join('; ')}`);

    const idle: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      t = performance.now();
      const r = await reconciler.runPass('bench: idle pass');
      idle.push(performance.now() - t);
      const found = r.nodes.reduce((n, x) => n + x.applied, 0);
      if (found) throw new Error(`an idle pass applied ${found} statements`);
      log(`idle full pass ${i + 1}/${RUNS}: ${ms(idle.at(-1)!)}`);
    }

    reconciler.start();
    await reconciler.runPass('bench: settle');
    const pollers = await Promise.all(cluster.workers.map(async (w) => {
      const c = new pg.Client(w.clientConfig('postgres', cluster.secrets.superuserPassword));
      await c.connect();
      return c;
    }));
    const converge: number[] = [];
    try {
      await cluster.withSuperuser(cluster.coordinator, async (c) => {
        for (let i = 0; i < RUNS; i++) {
          const table = `bench_table_${i + 1}`;
          const role = `bench_role_${ROLES - i}`;
          await c.query(`GRANT INSERT ON ${quoteIdent(table)} TO ${quoteIdent(role)}`);
          const committed = performance.now();
          await Promise.all(pollers.map(async (p) => {
            for (;;) {
              const r = await p.query<{ ok: boolean }>('SELECT has_table_privilege($1, $2, $3) AS ok', [role, table, 'INSERT']);
              if (r.rows[0]!.ok) return;
              await new Promise((res) => setTimeout(res, POLL_MS));
            }
          }));
          converge.push(performance.now() - committed);
          log(`GRANT ${i + 1}/${RUNS} on every worker after ${ms(converge.at(-1)!)}`);
          await reconciler!.runPass('bench: settle');
        }
      });
    } finally {
      await Promise.all(pollers.map((p) => p.end()));
    }

    console.log('');
    console.log(`## reconciler bench (${new Date().toISOString().slice(0, 10)}, ${cpus().length} CPUs, PostgreSQL ${version})`);
    console.log('');
    console.log(`1 coordinator + ${WORKERS} workers, ${ROLES} roles, ${TABLES} tables on every node (${2 * TABLES} grants); medians of ${RUNS} runs`);
    console.log('');
    console.log('| measure | median | min | max |');
    console.log('| --- | --- | --- | --- |');
    console.log(`| full pass, nothing to do | ${ms(median(idle))} | ${ms(Math.min(...idle))} | ${ms(Math.max(...idle))} |`);
    console.log(`| one GRANT, commit to every worker's ACL | ${ms(median(converge))} | ${ms(Math.min(...converge))} | ${ms(Math.max(...converge))} |`);
  } finally {
    await reconciler?.stop();
    await cluster.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

await main();
