// The reconciler's cost, on an embedded cluster of 1 coordinator and 8 workers with 500
// roles and 2,000 tables (created on every node, each granted to a few roles):
//
//   - a full pass that finds nothing to do (read every node's catalogs, compare);
//   - one GRANT's convergence: from the moment the GRANT has committed on the
//     coordinator to the moment every worker's ACL has it (event trigger -> NOTIFY ->
//     pass), measured by polling each worker on its own open connection.
//
// BENCH_CITUS=1 measures the same on Citus instead (docs/citus.md): 1 coordinator and 2
// workers of the PostgreSQL with Citus in BENCH_CITUS_BIN (/opt/postgresql-18/bin; where
// it has no Citus, one line says so and nothing runs), roles created on the coordinator
// (Citus propagates them), 200 tables created on the coordinator and distributed with
// create_distributed_table (citus.shard_count = BENCH_SHARDS, 4), each granted to a few
// roles. The GRANT is `GRANT SELECT ON <distributed table>`: Citus applies it to every
// shard inside the coordinator's transaction (two-phase commit), so the GRANT
// statement's own duration is reported too, and convergence ends when the last shard
// placement on every worker has the privilege.
//
// Medians of several runs. Run: node --import tsx bench/reconcile.ts (npm run
// bench:reconcile; npm run bench:reconcile:citus for BENCH_CITUS=1).
// Environment: BENCH_WORKERS (8; 2 on Citus), BENCH_ROLES (500), BENCH_TABLES (2000; 200
// on Citus), BENCH_SHARDS (4, Citus only), BENCH_RUNS (7).
import { mkdtemp, rm, chmod } from 'node:fs/promises';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { postgresBinaries } from '../src/cluster/binaries.js';
import { EmbeddedCluster } from '../src/cluster/embedded.js';
import { CATEGORIES, emptyCounts, summarise } from '../src/reconcile/changes.js';
import { installReconcileSchema, Reconciler } from '../src/reconcile/index.js';
import { silentLogger } from '../src/util/log.js';
import { quoteIdent } from '../src/util/sql.js';

const CITUS = !['', '0', 'false', 'no'].includes((process.env.BENCH_CITUS ?? '').toLowerCase());
const CITUS_BIN = process.env.BENCH_CITUS_BIN ?? '/opt/postgresql-18/bin';
const WORKERS = Number(process.env.BENCH_WORKERS ?? (CITUS ? 2 : 8));
const ROLES = Number(process.env.BENCH_ROLES ?? 500);
const TABLES = Number(process.env.BENCH_TABLES ?? (CITUS ? 200 : 2000));
const SHARDS = Number(process.env.BENCH_SHARDS ?? 4);
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
const seconds = (since: number): string => `${((performance.now() - since) / 1000).toFixed(1)} s`;
const tableName = (i: number): string => `bench_table_${i}`;
const roleName = (i: number): string => `bench_role_${i}`;

/** One measured GRANT: the statement, and whether a worker (by its poller) has it yet. */
interface Grant {
  sql: string;
  /** What it grants, for the progress line. */
  what: string;
  applied(poller: pg.Client, worker: number): Promise<boolean>;
}

/** What differs between the two modes. */
interface Mode {
  /** Creates the tables (owned by citus) and grants each to two roles on the coordinator. */
  setUpTables(cluster: EmbeddedCluster): Promise<void>;
  /** The setup line of the results. */
  setup: string;
  /** The GRANT of run i (0-based), on a table and role that do not have it yet. */
  grant(cluster: EmbeddedCluster, i: number): Promise<Grant>;
  convergenceRow: string;
}

/** Two grants per table, on the coordinator. */
async function grantEveryTable(cluster: EmbeddedCluster): Promise<void> {
  await cluster.withSuperuser(cluster.coordinator, (c) =>
    c.query(`DO $$ BEGIN FOR i IN 1..${TABLES} LOOP
               EXECUTE format('GRANT SELECT ON %I TO %I, %I', 'bench_table_' || i,
                               'bench_role_' || (1 + i % ${ROLES}), 'bench_role_' || (1 + (i * 7) % ${ROLES}));
             END LOOP; END $$`),
  );
}

/** Plain PostgreSQL: every table on every node; the reconciler carries the grants. */
const plain: Mode = {
  async setUpTables(cluster) {
    const t = performance.now();
    await Promise.all(
      cluster.nodes.map((node) =>
        cluster.withSuperuser(node, async (c) => {
          await c.query('SET ROLE citus');
          await c.query(
            `DO $$ BEGIN FOR i IN 1..${TABLES} LOOP EXECUTE format('CREATE TABLE %I (id int PRIMARY KEY, v text)', 'bench_table_' || i); END LOOP; END $$`,
          );
        }),
      ),
    );
    log(`${TABLES} tables created on each of the ${cluster.nodes.length} nodes in ${seconds(t)}`);
    // The workers get these from the first pass.
    await grantEveryTable(cluster);
  },
  setup: `1 coordinator + ${WORKERS} workers, ${ROLES} roles, ${TABLES} tables on every node (${2 * TABLES} grants)`,
  async grant(_cluster, i) {
    const table = tableName(i + 1);
    const role = roleName(ROLES - i);
    return {
      sql: `GRANT INSERT ON ${quoteIdent(table)} TO ${quoteIdent(role)}`,
      what: `INSERT ON ${table} TO ${role}`,
      applied: async (p) => (await p.query<{ ok: boolean }>('SELECT has_table_privilege($1, $2, $3) AS ok', [role, table, 'INSERT'])).rows[0]!.ok,
    };
  },
  convergenceRow: "one GRANT, commit to every worker's ACL",
};

/** Citus: tables distributed from the coordinator; Citus carries the grants to the shards. */
const citus: Mode = {
  async setUpTables(cluster) {
    const t = performance.now();
    await cluster.withSuperuser(cluster.coordinator, async (c) => {
      await c.query(`SET ROLE citus; SET citus.shard_count = ${SHARDS}`);
      for (let i = 1; i <= TABLES; i++) {
        const table = quoteIdent(tableName(i));
        await c.query(`CREATE TABLE ${table} (id int PRIMARY KEY, v text)`);
        await c.query('SELECT create_distributed_table($1, $2)', [table, 'id']);
        if (i % 50 === 0 || i === TABLES) log(`  ${i}/${TABLES} tables distributed (${seconds(t)})`);
      }
    });
    log(`${TABLES} distributed tables (${SHARDS} shards each, ${TABLES * SHARDS} shard placements over ${WORKERS} workers) created in ${seconds(t)}`);
    const g = performance.now();
    await grantEveryTable(cluster); // Citus applies them to the workers' tables and shards
    log(`${2 * TABLES} grants on the coordinator, to every shard by Citus, in ${seconds(g)}`);
  },
  setup:
    `Citus, 1 coordinator + ${WORKERS} workers, ${ROLES} roles (created on the coordinator), ` +
    `${TABLES} distributed tables of ${SHARDS} shards (${TABLES * SHARDS} shard placements; ${2 * TABLES} grants)`,
  async grant(cluster, i) {
    const table = tableName(i + 1);
    const role = roleName(ROLES - i);
    // The OIDs of this table's shard placements on each worker.
    const shards = await Promise.all(
      cluster.workers.map((w) =>
        cluster.withSuperuser(w, async (c) => {
          const r = await c.query<{ oids: number[] | null }>(
            `SELECT array_agg(to_regclass(shard_name(s.logicalrelid, s.shardid))::oid) AS oids
               FROM pg_dist_shard s JOIN pg_dist_placement p USING (shardid)
              WHERE s.logicalrelid = $1::regclass AND p.groupid = (SELECT groupid FROM pg_dist_local_group)`,
            [quoteIdent(table)],
          );
          const oids = r.rows[0]!.oids ?? [];
          if (!oids.length || oids.some((o) => o === null)) throw new Error(`${w.name} has no shard placement of ${table}`);
          return oids;
        }),
      ),
    );
    return {
      sql: `GRANT SELECT ON ${quoteIdent(table)} TO ${quoteIdent(role)}`,
      what: `SELECT ON ${table} TO ${role} (${shards.map((s) => s.length).join(' + ')} placements)`,
      applied: async (p, w) =>
        (await p.query<{ ok: boolean }>("SELECT bool_and(has_table_privilege($1, x, 'SELECT')) AS ok FROM unnest($2::oid[]) x", [role, shards[w]])).rows[0]!.ok,
    };
  },
  convergenceRow: "one GRANT on a distributed table, commit to the last shard placement's ACL on every worker",
};

async function main(): Promise<void> {
  const mode = CITUS ? citus : plain;
  if (CITUS) {
    const binaries = await postgresBinaries(CITUS_BIN).catch(() => undefined);
    if (!binaries?.citus) {
      console.log(`reconciler bench on Citus skipped: no PostgreSQL with Citus in ${CITUS_BIN} (docs/citus.md; set BENCH_CITUS_BIN to its bin directory)`);
      return;
    }
  }
  const dataDir = await mkdtemp(join(tmpdir(), 'pgwarden-bench-reconcile-'));
  await chmod(dataDir, 0o711);
  let cluster: EmbeddedCluster | undefined;
  let reconciler: Reconciler | undefined;
  try {
    cluster = await EmbeddedCluster.open({
      dataDir,
      log: silentLogger(),
      workers: WORKERS,
      citusPassword: 'Bench-Citus-Passw0rd',
      ...(CITUS ? { citus: true, postgresBin: CITUS_BIN } : {}),
    });
    log(`starting 1 coordinator and ${WORKERS} workers${CITUS ? ` with Citus (${CITUS_BIN})` : ''} in ${dataDir}`);
    let t = performance.now();
    await cluster.start();
    log(`cluster started in ${seconds(t)}`);

    t = performance.now();
    await cluster.withSuperuser(cluster.coordinator, async (c) => {
      await installReconcileSchema(c);
      // Verifiers computed by the server (password_encryption = scram-sha-256).
      await c.query(
        `DO $$ BEGIN FOR i IN 1..${ROLES} LOOP EXECUTE format('CREATE ROLE %I LOGIN PASSWORD %L', 'bench_role_' || i, 'pw-' || i); END LOOP; END $$`,
      );
    });
    log(`${ROLES} roles created on the coordinator in ${seconds(t)}`);
    await mode.setUpTables(cluster);

    const version = await cluster.withSuperuser(
      cluster.coordinator,
      async (c) =>
        (
          await c.query<{ v: string }>(
            `SELECT current_setting('server_version') || coalesce((SELECT ', Citus ' || extversion FROM pg_extension WHERE extname = 'citus'), '') AS v`,
          )
        ).rows[0]!.v,
    );
    reconciler = new Reconciler({ admin: cluster, log: silentLogger(), intervalMs: NO_PERIODIC_PASS_MS });
    t = performance.now();
    const first = await reconciler.runPass('bench: first pass');
    const applied = first.nodes.reduce((n, x) => n + x.applied, 0);
    const found = emptyCounts();
    for (const n of first.nodes) for (const k of CATEGORIES) found[k] += n.found[k];
    log(
      CITUS
        ? 'first pass (Citus has carried the roles and grants; the pass repairs what differs): ' +
            `${seconds(t)}, ${applied} statements (${summarise(found) || 'none'})`
        : `first pass (creates ${ROLES} roles with their verifiers and ${2 * TABLES} grants on every worker): ${seconds(t)}, ${applied} statements`,
    );
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

    await reconciler.start();
    await reconciler.runPass('bench: settle');
    const { converge, statement, firstPoll } = await grantConvergence(cluster, reconciler, mode);

    const row = (name: string, xs: number[]): string => `| ${name} | ${ms(median(xs))} | ${ms(Math.min(...xs))} | ${ms(Math.max(...xs))} |`;
    console.log('');
    console.log(`## reconciler bench${CITUS ? ' on Citus' : ''} (${new Date().toISOString().slice(0, 10)}, ${cpus().length} CPUs, PostgreSQL ${version})`);
    console.log('');
    console.log(`${mode.setup}; medians of ${RUNS} runs`);
    console.log('');
    console.log('| measure | median | min | max |');
    console.log('| --- | --- | --- | --- |');
    console.log(row('full pass, nothing to do', idle));
    console.log(row(`the GRANT statement itself${CITUS ? ' (Citus: two-phase commit to every shard)' : ''}`, statement));
    console.log(row(mode.convergenceRow, converge));
    console.log('');
    console.log(
      `In ${firstPoll} of ${RUNS} runs the first poll of every worker, right after the commit, already saw the GRANT ` +
        "(the convergence time is then that poll's own round trip).",
    );
  } finally {
    await reconciler?.stop();
    await cluster?.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

/** RUNS GRANTs on the coordinator, one at a time, with the reconciler running as in
 * production: each statement's duration, and the time from its commit until every
 * worker (polled on its own open connection) has it. */
async function grantConvergence(
  cluster: EmbeddedCluster,
  reconciler: Reconciler,
  mode: Mode,
): Promise<{ converge: number[]; statement: number[]; firstPoll: number }> {
  const pollers = await Promise.all(
    cluster.workers.map(async (w) => {
      const c = new pg.Client(w.clientConfig('postgres', cluster.secrets.superuserPassword));
      await c.connect();
      return c;
    }),
  );
  const converge: number[] = [];
  const statement: number[] = [];
  let firstPoll = 0;
  try {
    await cluster.withSuperuser(cluster.coordinator, async (c) => {
      for (let i = 0; i < RUNS; i++) {
        const grant = await mode.grant(cluster, i);
        for (const [w, p] of pollers.entries()) {
          if (await grant.applied(p, w)) throw new Error(`${cluster.workers[w]!.name} has ${grant.what} before the GRANT`);
        }
        const start = performance.now();
        await c.query(grant.sql);
        const committed = performance.now();
        statement.push(committed - start);
        const polls = await Promise.all(
          pollers.map(async (p, w) => {
            for (let n = 1; ; n++) {
              if (await grant.applied(p, w)) return n;
              await new Promise((res) => setTimeout(res, POLL_MS));
            }
          }),
        );
        converge.push(performance.now() - committed);
        if (polls.every((n) => n === 1)) firstPoll++;
        log(
          `GRANT ${i + 1}/${RUNS} (${grant.what}): statement ${ms(statement.at(-1)!)}, ` +
            `on every worker after ${ms(converge.at(-1)!)} (polls per worker: ${polls.join(', ')})`,
        );
        await reconciler.runPass('bench: settle');
      }
    });
  } finally {
    await Promise.all(pollers.map((p) => p.end()));
  }
  return { converge, statement, firstPoll };
}

await main();
