// npm run bench: pgwarden's gateway side by side with a direct TLS connection to
// PostgreSQL and with PgBouncer (where installed), measured with the machine's pgbench.
// Every case runs several times, in alternation, and the table reports medians, spreads
// and ratios. docs/benchmarks.md explains the setup and keeps the latest table.
//
// Environment: BENCH_ROUNDS (default 3), BENCH_SECONDS per run (default 10),
// BENCH_IDLE (idle connections for the memory case, default 2000), BENCH_ONLY (comma
// list of case groups: throughput,connect,latency,signin,memory,reconcile,reconcile-citus;
// the last two run bench/reconcile.ts, plain and with BENCH_CITUS=1, each on a cluster
// of its own; the Citus one says so in one line and skips where Citus is not installed).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile, chown } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { tokenFor } from './token.js';
import { CITUS_PASSWORD, freePort, log, run, startStack, type Stack } from './stack-client.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const IDLE = Number(process.env.BENCH_IDLE ?? 2000);
const ONLY = new Set((process.env.BENCH_ONLY ?? 'throughput,connect,latency,signin,memory,reconcile,reconcile-citus').split(','));
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK']).stdout.toString().trim() || 100);

/** PgBouncer in session mode in front of the same coordinator, TLS towards clients,
 * SCRAM with the same verifier (its own SCRAM pass-through towards PostgreSQL). */
async function startPgBouncer(stack: Stack): Promise<{ port: number; child: ChildProcess } | undefined> {
  const bin = spawnSync('sh', ['-c', 'command -v pgbouncer']).stdout.toString().trim();
  if (!bin) {
    log('PgBouncer is not installed: its cases are skipped (Debian/Ubuntu: apt-get install pgbouncer).');
    return undefined;
  }
  const dir = await mkdtemp(join(tmpdir(), 'pgwarden-bench-pgbouncer-'));
  const client = new pg.Client({ host: stack.socketDir, port: stack.socketPort, user: 'postgres', password: stack.superuserPassword, database: 'postgres' });
  await client.connect();
  const verifier = (await client.query("select rolpassword from pg_authid where rolname = 'citus'")).rows[0].rolpassword as string;
  await client.end();
  const port = await freePort();
  const tlsDir = join(stack.dataDir, 'tls');
  await writeFile(join(dir, 'server.crt'), await readFile(join(tlsDir, 'server.crt')));
  await writeFile(join(dir, 'server.key'), await readFile(join(tlsDir, 'server.key')), { mode: 0o600 });
  await writeFile(join(dir, 'userlist.txt'), `"citus" "${verifier}"\n`, { mode: 0o600 });
  await writeFile(
    join(dir, 'pgbouncer.ini'),
    [
      '[databases]',
      `postgres = host=${stack.socketDir} port=${stack.socketPort} dbname=postgres`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      "unix_socket_dir = ''",
      'auth_type = scram-sha-256',
      `auth_file = ${join(dir, 'userlist.txt')}`,
      'pool_mode = session',
      'max_client_conn = 3000',
      'default_pool_size = 200',
      'client_tls_sslmode = require',
      `client_tls_cert_file = ${join(dir, 'server.crt')}`,
      `client_tls_key_file = ${join(dir, 'server.key')}`,
      `logfile = ${join(dir, 'pgbouncer.log')}`,
      `pidfile = ${join(dir, 'pgbouncer.pid')}`,
      'log_connections = 0',
      'log_disconnections = 0',
      '',
    ].join('\n'),
  );
  const root = userInfo().uid === 0;
  if (root) {
    const uid = Number(spawnSync('id', ['-u', 'postgres']).stdout.toString());
    const gid = Number(spawnSync('id', ['-g', 'postgres']).stdout.toString());
    for (const f of ['', 'server.crt', 'server.key', 'userlist.txt', 'pgbouncer.ini']) await chown(join(dir, f), uid, gid);
  }
  const child = spawn(bin, [...(root ? ['-u', 'postgres'] : []), join(dir, 'pgbouncer.ini')], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    const probe = await run('psql', ['-Atc', 'select 1', `host=127.0.0.1 port=${port} user=citus dbname=postgres sslmode=require`], { PGPASSWORD: CITUS_PASSWORD });
    if (probe.stdout.trim() === '1') return { port, child };
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`PgBouncer did not start: ${await readFile(join(dir, 'pgbouncer.log'), 'utf8').catch(() => '')}`);
}

interface Sample {
  tps: number;
  latencyMs: number;
  transactions: number;
  gatewayCpuUs?: number;
}

function cpuTicks(pid: number): number {
  try {
    const stat = spawnSync('cat', [`/proc/${pid}/stat`]).stdout.toString();
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]); // utime + stime
  } catch {
    return NaN;
  }
}

async function pgbench(conn: string, args: string[], password: string, gatewayPid?: number): Promise<Sample> {
  const before = gatewayPid ? cpuTicks(gatewayPid) : 0;
  const r = await run('pgbench', [...args, '-T', String(SECONDS), '-n', conn], { PGPASSWORD: password });
  const after = gatewayPid ? cpuTicks(gatewayPid) : 0;
  if (r.code !== 0) throw new Error(`pgbench failed: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  const tps = Number(/tps = ([\d.]+)/.exec(r.stdout)?.[1]);
  const latencyMs = Number(/latency average = ([\d.]+) ms/.exec(r.stdout)?.[1]);
  const transactions = Number(/number of transactions actually processed: (\d+)/.exec(r.stdout)?.[1]);
  const sample: Sample = { tps, latencyMs, transactions };
  if (gatewayPid) sample.gatewayCpuUs = (((after - before) / CLK_TCK) * 1e6) / transactions;
  return sample;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const fmt = (n: number, d = 0): string => (Number.isFinite(n) ? n.toFixed(d) : '-');

interface Case {
  group: string;
  name: string;
  conn: string;
  args: string[];
  password: () => Promise<string>;
  gateway: boolean;
}

async function main(): Promise<void> {
  log(`pgwarden bench: ${ROUNDS} rounds x ${SECONDS} s per case; ${process.env.BENCH_NOTE ?? ''}`);
  log(`machine: ${spawnSync('nproc').stdout.toString().trim()} cores; node ${process.version}; ${spawnSync('pgbench', ['--version']).stdout.toString().trim()}`);
  log('starting the embedded cluster and the gateway ...');
  const stack = await startStack();
  const bouncer = await startPgBouncer(stack);
  stack.token = await tokenFor(stack.dataDir).catch((e: unknown) => {
    log(`token sign-in cases skipped: ${(e as Error).message}`);
    return undefined;
  });
  const direct = `host=127.0.0.1 port=${stack.directPort} user=citus dbname=postgres sslmode=require`;
  const gateway = `host=127.0.0.1 port=${stack.gatewayPort} user=citus dbname=postgres sslmode=require`;
  const bouncerConn = bouncer ? `host=127.0.0.1 port=${bouncer.port} user=citus dbname=postgres sslmode=require` : undefined;
  const citus = async (): Promise<string> => CITUS_PASSWORD;
  try {
    log('pgbench -i -s 10 (direct) ...');
    const init = await run('pgbench', ['-i', '-s', '10', '-q', direct], { PGPASSWORD: CITUS_PASSWORD });
    if (init.code !== 0) throw new Error(init.stderr);
    // The Entra admin of the token cases reads the tables too (citus owns them).
    const grant = await run('psql', ['-X', '-c', 'GRANT SELECT ON ALL TABLES IN SCHEMA public TO pgwarden_admin', direct], { PGPASSWORD: CITUS_PASSWORD });
    if (grant.code !== 0) throw new Error(grant.stderr);

    const cases: Case[] = [];
    const targets: Array<[string, string | undefined, boolean]> = [['direct', direct, false], ['gateway', gateway, true], ['pgbouncer', bouncerConn, false]];
    for (const mode of ['simple', 'prepared']) {
      for (const [name, conn, gw] of targets) {
        if (conn && ONLY.has('throughput')) cases.push({ group: `throughput -S -c 8 -j 2 -M ${mode}`, name, conn, args: ['-S', '-c', '8', '-j', '2', '-M', mode], password: citus, gateway: gw });
      }
    }
    if (ONLY.has('connect')) {
      for (const [name, conn, gw] of targets) if (conn) cases.push({ group: 'connections -S -C -c 8 -j 2', name: `${name} (SCRAM)`, conn, args: ['-S', '-C', '-c', '8', '-j', '2'], password: citus, gateway: gw });
      if (stack.token) {
        const t = stack.token;
        cases.push({ group: 'connections -S -C -c 8 -j 2', name: 'gateway (token)', conn: `host=127.0.0.1 port=${stack.gatewayPort} user='${t.user}' dbname=postgres sslmode=require`, args: ['-S', '-C', '-c', '8', '-j', '2'], password: () => t.token(), gateway: true });
      }
    }
    if (ONLY.has('latency')) {
      for (const [name, conn, gw] of targets) if (conn) cases.push({ group: 'latency -S -c 1', name, conn, args: ['-S', '-c', '1', '-j', '1'], password: citus, gateway: gw });
    }

    const results = new Map<Case, Sample[]>();
    for (let round = 1; round <= ROUNDS; round++) {
      for (const c of cases) {
        process.stdout.write(`round ${round}/${ROUNDS}  ${c.group.padEnd(34)} ${c.name.padEnd(18)} `);
        const s = await pgbench(c.conn, c.args, await c.password(), c.gateway ? stack.pid : undefined);
        process.stdout.write(`${fmt(s.tps)} tps, ${fmt(s.latencyMs, 3)} ms${s.gatewayCpuUs ? `, gateway ${fmt(s.gatewayCpuUs, 1)} µs CPU/tx` : ''}\n`);
        results.set(c, [...(results.get(c) ?? []), s]);
      }
    }

    log('\n## Results (median of rounds; spread = min..max)\n');
    log('| case | target | tps | spread | latency ms | gateway CPU µs/tx | ratio |');
    log('| --- | --- | ---: | --- | ---: | ---: | --- |');
    const groups = [...new Set(cases.map((c) => c.group))];
    for (const group of groups) {
      const inGroup = cases.filter((c) => c.group === group);
      const base = inGroup.find((c) => c.name.startsWith('direct'));
      const baseTps = base ? median(results.get(base)!.map((s) => s.tps)) : NaN;
      const bouncerCase = inGroup.find((c) => c.name.startsWith('pgbouncer'));
      const bouncerTps = bouncerCase ? median(results.get(bouncerCase)!.map((s) => s.tps)) : NaN;
      const baseLat = base ? median(results.get(base)!.map((s) => s.latencyMs)) : NaN;
      for (const c of inGroup) {
        const ss = results.get(c)!;
        const tps = median(ss.map((s) => s.tps));
        const lat = median(ss.map((s) => s.latencyMs));
        const cpu = c.gateway ? median(ss.map((s) => s.gatewayCpuUs ?? NaN)) : NaN;
        let ratio = c === base ? '1.00 (baseline)' : `${fmt(tps / baseTps, 2)} of direct`;
        if (c.gateway && bouncerCase) ratio += `, ${fmt(tps / bouncerTps, 2)} of PgBouncer`;
        if (group.startsWith('latency') && c !== base) ratio += `, +${fmt(lat - baseLat, 3)} ms`;
        log(`| ${group} | ${c.name} | ${fmt(tps)} | ${fmt(Math.min(...ss.map((s) => s.tps)))}..${fmt(Math.max(...ss.map((s) => s.tps)))} | ${fmt(lat, 3)} | ${fmt(cpu, 1)} | ${ratio} |`);
      }
    }

    if (ONLY.has('signin')) await signInLatency(stack, direct, gateway);
    if (ONLY.has('memory')) await idleMemory(stack);
    // Their own clusters (1 coordinator + 8 workers; Citus, 1 + 2): after this one's servers are gone.
    pendingReconcile = ONLY.has('reconcile');
    pendingReconcileCitus = ONLY.has('reconcile-citus');
  } finally {
    bouncer?.child.kill('SIGTERM');
    stack.child.kill('SIGTERM');
    await new Promise((r) => stack.child.once('exit', r));
    await rm(stack.dataDir, { recursive: true, force: true });
  }
  if (pendingReconcile) {
    log('\n## Reconciler (bench/reconcile.ts; docs/propagation.md)\n');
    await reconcileBench({ BENCH_CITUS: '0' });
  }
  if (pendingReconcileCitus) {
    log('\n## Reconciler on Citus (BENCH_CITUS=1 bench/reconcile.ts; docs/citus.md)\n');
    await reconcileBench({ BENCH_CITUS: '1' });
  }
}

let pendingReconcile = false;
let pendingReconcileCitus = false;

/** bench/reconcile.ts in a process of its own, with `env` added to this one's. */
function reconcileBench(env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise<void>((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', new URL('./reconcile.ts', import.meta.url).pathname], { stdio: 'inherit', env: { ...process.env, ...env } });
    child.once('exit', () => resolve());
  });
}

/** One full sign-in (TCP, TLS, authentication, first ReadyForQuery) at a time. */
async function signInLatency(stack: Stack, direct: string, gateway: string): Promise<void> {
  const N = 200;
  const ca = await readFile(stack.caPath, 'utf8');
  const measure = async (port: number, user: string, password: () => Promise<string>): Promise<number[]> => {
    const times: number[] = [];
    for (let i = 0; i < N; i++) {
      const pw = await password();
      const t0 = performance.now();
      const c = new pg.Client({ host: 'localhost', port, user, password: pw, database: 'postgres', ssl: { ca } });
      await c.connect();
      times.push(performance.now() - t0);
      await c.end();
    }
    return times;
  };
  log('\n## Sign-in latency (node-postgres client, one at a time, TLS; includes the client\'s own SCRAM work)\n');
  log('| sign-in | median ms | p99 ms |');
  log('| --- | ---: | ---: |');
  const rows: Array<[string, number[]]> = [
    ['direct: TLS + SCRAM', await measure(stack.directPort, 'citus', async () => CITUS_PASSWORD)],
    ['gateway: TLS + SCRAM (pass-through)', await measure(stack.gatewayPort, 'citus', async () => CITUS_PASSWORD)],
  ];
  if (stack.token) {
    const t = stack.token;
    rows.push(['gateway: TLS + Entra token', await measure(stack.gatewayPort, t.user, () => t.token())]);
  }
  for (const [name, times] of rows) log(`| ${name} | ${fmt(median(times), 2)} | ${fmt(pct(times, 99), 2)} |`);
  void direct;
  void gateway;
}

/** Resident memory of the gateway process per idle, signed-in connection. */
async function idleMemory(stack: Stack): Promise<void> {
  const rss = async (): Promise<number> => Number(/VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${stack.pid}/status`, 'utf8'))?.[1]) * 1024;
  const ca = await readFile(stack.caPath, 'utf8');
  if (global.gc) global.gc();
  const before = await rss();
  const clients: pg.Client[] = [];
  log(`\n## Memory: ${IDLE} idle signed-in connections through the gateway`);
  for (let i = 0; i < IDLE; i += 50) {
    const batch = Array.from({ length: Math.min(50, IDLE - i) }, () => new pg.Client({ host: 'localhost', port: stack.gatewayPort, user: 'citus', password: CITUS_PASSWORD, database: 'postgres', ssl: { ca } }));
    await Promise.all(batch.map((c) => c.connect()));
    clients.push(...batch);
    if ((i / 50) % 8 === 0) process.stdout.write(`  ${clients.length} connected\r`);
  }
  await new Promise((r) => setTimeout(r, 2000));
  const after = await rss();
  log(`\n  gateway RSS ${fmt(before / 1048576, 1)} MB -> ${fmt(after / 1048576, 1)} MB: ${fmt((after - before) / IDLE / 1024, 1)} KB per connection`);
  await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
}

main().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
