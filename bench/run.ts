// npm run bench: pgwarden's gateway side by side with a direct TLS connection to
// PostgreSQL and with PgBouncer (where installed), measured with the machine's pgbench.
// Every case runs several times, in alternation, and the table reports medians, spreads
// and ratios. docs/benchmarks.md explains the setup and keeps the latest table.
//
// Both proxies are measured the same way (bench/proc-stats.ts): over a window of each
// run (pgbench's second progress report to its last), CPU µs per transaction
// (utime+stime) and voluntary and involuntary context switches per transaction of the
// proxy's process (every thread of the gateway's Node process; PgBouncer), of the
// coordinator's server (postmaster and all its children: the backends) and pgbench's
// CPU; p99 latency from pgbench's per-transaction log (-l, in a temporary directory).
//
// Environment: BENCH_ROUNDS (default 3), BENCH_SECONDS per run (default 10),
// BENCH_IDLE (idle connections for the memory case, default 2000), BENCH_ONLY (comma
// list of case groups: throughput,connect,latency,many,signin,memory,reconcile,reconcile-citus;
// the last two run bench/reconcile.ts, plain and with BENCH_CITUS=1, each on a cluster
// of its own; the Citus one says so in one line and skips where Citus is not installed).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile, chown } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { tokenFor } from './token.js';
import { CITUS_PASSWORD, freePort, log, run, startStack, type Stack } from './stack-client.js';
import { processCounters, processUsage, serverSnapshot, serverUsage, ticksUs, type ProcCounters, type ServerSnapshot, type Usage } from './proc-stats.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const IDLE = Number(process.env.BENCH_IDLE ?? 2000);
/** Server sessions of the transaction pools (the gateway's --pool-size, PgBouncer's default_pool_size). */
const POOL_SIZE = Number(process.env.BENCH_POOL_SIZE ?? 20);
const ONLY = new Set((process.env.BENCH_ONLY ?? 'throughput,connect,latency,many,pool,signin,memory,reconcile,reconcile-citus').split(','));

/** PgBouncer in session mode in front of the same coordinator, TLS towards clients,
 * SCRAM with the same verifier (its own SCRAM pass-through towards PostgreSQL). */
/** PgBouncer in `mode` in front of the coordinator: session (one server connection per
 * client; -c 256 must not queue) or transaction (POOL_SIZE server connections, as the
 * gateway's --pool-port). */
async function startPgBouncer(
  stack: Stack,
  mode: 'session' | 'transaction' = 'session',
): Promise<{ port: number; child: ChildProcess; dir: string } | undefined> {
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
      `pool_mode = ${mode}`,
      'max_client_conn = 3000',
      `default_pool_size = ${mode === 'session' ? 300 : POOL_SIZE}`,
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
  process.once('exit', () => child.kill('SIGTERM'));
  for (let i = 0; i < 100; i++) {
    const probe = await run('psql', ['-Atc', 'select 1', `host=127.0.0.1 port=${port} user=citus dbname=postgres sslmode=require`], {
      PGPASSWORD: CITUS_PASSWORD,
    });
    if (probe.stdout.trim() === '1') return { port, child, dir };
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`PgBouncer did not start: ${await readFile(join(dir, 'pgbouncer.log'), 'utf8').catch(() => '')}`);
}

/** Per transaction, over the measured window. */
interface PerTx {
  cpuUs: number;
  userUs: number;
  sysUs: number;
  voluntary: number;
  involuntary: number;
}

interface Sample {
  tps: number;
  /** Mean over the window's transactions; -C: pgbench's average, connecting included. */
  latencyMs: number;
  /** p99 of the window's transactions (pgbench -l), steady cases only. */
  p99Ms: number;
  /** Transactions completed in the measured window. */
  transactions: number;
  proxy?: PerTx | undefined;
  server: PerTx;
  /** Children of the postmaster that exited in the window did more than 5 % of the
   * server's CPU: its context switches are then a lower bound. */
  serverExited: boolean;
  clientCpuUs: number;
}

interface Snapshot {
  /** Microseconds since the epoch, the middle of the reads. */
  at: number;
  proxy?: ProcCounters | undefined;
  server: ServerSnapshot;
  client?: ProcCounters | undefined;
}

const nowUs = (): number => Math.round((performance.timeOrigin + performance.now()) * 1000);

function snapshot(proxyPid: number | undefined, postmasterPid: number, clientPid: number | undefined): Snapshot {
  const t0 = nowUs();
  const proxy = proxyPid ? processCounters(proxyPid) : undefined;
  const server = serverSnapshot(postmasterPid);
  const client = clientPid ? processCounters(clientPid) : undefined;
  return { at: Math.round((t0 + nowUs()) / 2), proxy, server, client };
}

function perTx(u: Usage, tx: number): PerTx {
  return {
    cpuUs: ticksUs(u.user + u.sys) / tx,
    userUs: ticksUs(u.user) / tx,
    sysUs: ticksUs(u.sys) / tx,
    voluntary: u.voluntary / tx,
    involuntary: u.involuntary / tx,
  };
}

/** Transactions logged by pgbench -l in `dir` that completed within [from, to] (µs since
 * the epoch), and their latencies (µs). Format: client tx time script epoch_s epoch_us. */
async function loggedLatencies(dir: string, from: number, to: number): Promise<Float64Array> {
  const out: number[] = [];
  for (const f of await readdir(dir)) {
    const text = await readFile(join(dir, f), 'utf8');
    let i = 0;
    while (i < text.length) {
      let nl = text.indexOf('\n', i);
      if (nl < 0) nl = text.length;
      const fields = text.slice(i, nl).split(' ');
      i = nl + 1;
      const at = Number(fields[4]) * 1e6 + Number(fields[5]);
      const latency = Number(fields[2]);
      if (at >= from && at <= to && Number.isFinite(latency)) out.push(latency);
    }
  }
  return Float64Array.from(out).sort();
}

/** One pgbench run; /proc counters read while pgbench runs, at its progress reports
 * (-P 1): the measured window runs from the second report to the last, which leaves out
 * connecting (pgbench 15 counts -T and its reports from before it connects: 256 TLS and
 * SCRAM sign-ins take seconds here), the first moments and the disconnects. */
async function pgbench(c: Case, password: string, proxyPid: number | undefined, postmasterPid: number): Promise<Sample> {
  const logDir = await mkdtemp(join(tmpdir(), 'pgwarden-bench-txlog-'));
  try {
    const duration = SECONDS + (c.extraSeconds ?? 0);
    const args = [...c.args, '-T', String(duration), '-n', '-P', '1', '-l', `--log-prefix=${join(logDir, 'tx')}`, c.conn];
    const child = spawn('pgbench', args, { env: { ...process.env, PGPASSWORD: password }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let first: Snapshot | undefined;
    let last: Snapshot | undefined;
    let pending = '';
    let reports = 0;
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      pending += d.toString();
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        if (!line.startsWith('progress: ')) {
          stderr += line + '\n';
          continue;
        }
        process.stdout.write('.');
        // A report at the very end may come while clients disconnect: not measured.
        if (Number(/^progress: ([\d.]+) s/.exec(line)?.[1]) >= duration - 0.5) continue;
        reports++;
        if (reports === 2) first = snapshot(proxyPid, postmasterPid, child.pid);
        else if (reports > 2) last = snapshot(proxyPid, postmasterPid, child.pid);
      }
    });
    // A client stuck connecting (a proxy queueing it) must not hang the bench.
    const guard = setTimeout(() => child.kill('SIGTERM'), (duration + 120) * 1000);
    const code = await new Promise<number>((resolve) => child.once('close', (code) => resolve(code ?? 1)));
    clearTimeout(guard);
    if (code !== 0) throw new Error(`pgbench failed: ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
    const tps = Number(/tps = ([\d.]+)/.exec(stdout)?.[1]);
    const latencyMs = Number(/latency average = ([\d.]+) ms/.exec(stdout)?.[1]);
    if (!first || !last) {
      process.stdout.write(` (only ${reports} progress reports: connecting took most of -T; nothing measured per transaction)`);
      const none: PerTx = { cpuUs: NaN, userUs: NaN, sysUs: NaN, voluntary: NaN, involuntary: NaN };
      return { tps, latencyMs, p99Ms: NaN, transactions: 0, proxy: proxyPid ? none : undefined, server: none, serverExited: false, clientCpuUs: NaN };
    }
    const latencies = await loggedLatencies(logDir, first.at, last.at);
    const tx = latencies.length;
    const connecting = c.args.includes('-C');
    const server = serverUsage(first.server, last.server);
    return {
      tps,
      latencyMs: connecting || !tx ? latencyMs : latencies.reduce((a, b) => a + b, 0) / tx / 1000,
      // -C: pgbench's per-transaction log leaves the connection out; no p99 there.
      p99Ms: connecting || !tx ? NaN : pct(latencies, 99) / 1000,
      transactions: tx,
      proxy: first.proxy && last.proxy ? perTx(processUsage(first.proxy, last.proxy), tx) : undefined,
      server: perTx(server, tx),
      serverExited: server.exited > 0.05 * (server.user + server.sys),
      clientCpuUs: first.client && last.client ? perTx(processUsage(first.client, last.client), tx).cpuUs : NaN,
    };
  } finally {
    await rm(logDir, { recursive: true, force: true });
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
/** p-th percentile of sorted values. */
const pct = (sorted: ArrayLike<number>, p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
const fmt = (n: number, d = 0): string => (Number.isFinite(n) ? n.toFixed(d) : '-');

interface Case {
  group: string;
  name: string;
  conn: string;
  args: string[];
  password: () => Promise<string>;
  /** Added to BENCH_SECONDS: pgbench 15 counts connecting inside -T, and 256 clients
   * through a proxy that has to start most backends anew take 3-20 s here (a new
   * backend signed in directly over TLS costs the server 30-40 ms of CPU on this machine). */
  extraSeconds?: number;
  /** The proxy on the path, whose process the bench measures. */
  proxy?: 'gateway' | 'pgbouncer' | 'pgbouncer-tx' | undefined;
}

/** Median over the rounds of one figure (rounds without it left out; NaN if none has it). */
const med = (ss: Sample[], f: (s: Sample) => number | undefined): number => {
  const xs = ss.map((s) => f(s) ?? NaN).filter(Number.isFinite);
  return xs.length ? median(xs) : NaN;
};
const cpuCell = (ss: Sample[], f: (s: Sample) => PerTx | undefined): string => {
  const total = med(ss, (s) => f(s)?.cpuUs);
  return Number.isFinite(total)
    ? `${fmt(total, 1)} (${fmt(
        med(ss, (s) => f(s)?.userUs),
        1,
      )}/${fmt(
        med(ss, (s) => f(s)?.sysUs),
        1,
      )})`
    : '-';
};
const cswCell = (ss: Sample[], f: (s: Sample) => PerTx | undefined, lowerBound = false): string => {
  const v = med(ss, (s) => f(s)?.voluntary);
  return Number.isFinite(v)
    ? `${lowerBound ? '≥' : ''}${fmt(v, 2)} / ${fmt(
        med(ss, (s) => f(s)?.involuntary),
        2,
      )}`
    : '-';
};

async function main(): Promise<void> {
  log(`pgwarden bench: ${ROUNDS} rounds x ${SECONDS} s per case; ${process.env.BENCH_NOTE ?? ''}`);
  log(
    `machine: ${spawnSync('nproc').stdout.toString().trim()} cores; node ${process.version}; ${spawnSync('pgbench', ['--version']).stdout.toString().trim()}`,
  );
  if (SECONDS < 4) throw new Error('BENCH_SECONDS must be at least 4 (the measured window runs from the second progress report to the last)');
  log('starting the embedded cluster and the gateway ...');
  const stack = await startStack();
  const bouncer = await startPgBouncer(stack);
  const txBouncer = bouncer && ONLY.has('pool') ? await startPgBouncer(stack, 'transaction') : undefined;
  stack.token = await tokenFor(stack.dataDir).catch((e: unknown) => {
    log(`token sign-in cases skipped: ${(e as Error).message}`);
    return undefined;
  });
  const direct = `host=127.0.0.1 port=${stack.directPort} user=citus dbname=postgres sslmode=require`;
  const gateway = `host=127.0.0.1 port=${stack.gatewayPort} user=citus dbname=postgres sslmode=require`;
  const bouncerConn = bouncer ? `host=127.0.0.1 port=${bouncer.port} user=citus dbname=postgres sslmode=require` : undefined;
  const citus = async (): Promise<string> => CITUS_PASSWORD;
  const superuser = `host=${stack.socketDir} port=${stack.socketPort} user=postgres dbname=postgres`;
  try {
    log('pgbench -i -s 10 (direct) ...');
    const init = await run('pgbench', ['-i', '-s', '10', '-q', direct], { PGPASSWORD: CITUS_PASSWORD });
    if (init.code !== 0) throw new Error(init.stderr);
    // The Entra admin of the token cases reads the tables too (citus owns them).
    const grant = await run('psql', ['-X', '-c', 'GRANT SELECT ON ALL TABLES IN SCHEMA public TO pgwarden_admin', direct], { PGPASSWORD: CITUS_PASSWORD });
    if (grant.code !== 0) throw new Error(grant.stderr);

    const cases: Case[] = [];
    const targets: Array<[string, string | undefined, Case['proxy']]> = [
      ['direct', direct, undefined],
      ['gateway', gateway, 'gateway'],
      ['pgbouncer', bouncerConn, 'pgbouncer'],
    ];
    for (const mode of ['simple', 'prepared']) {
      for (const [name, conn, proxy] of targets) {
        if (conn && ONLY.has('throughput'))
          cases.push({ group: `throughput -S -c 8 -j 2 -M ${mode}`, name, conn, args: ['-S', '-c', '8', '-j', '2', '-M', mode], password: citus, proxy });
      }
    }
    if (ONLY.has('connect')) {
      for (const [name, conn, proxy] of targets)
        if (conn)
          cases.push({ group: 'connections -S -C -c 8 -j 2', name: `${name} (SCRAM)`, conn, args: ['-S', '-C', '-c', '8', '-j', '2'], password: citus, proxy });
      if (stack.token) {
        const t = stack.token;
        cases.push({
          group: 'connections -S -C -c 8 -j 2',
          name: 'gateway (token)',
          conn: `host=127.0.0.1 port=${stack.gatewayPort} user='${t.user}' dbname=postgres sslmode=require`,
          args: ['-S', '-C', '-c', '8', '-j', '2'],
          password: () => t.token(),
          proxy: 'gateway',
        });
      }
    }
    if (ONLY.has('latency')) {
      for (const [name, conn, proxy] of targets)
        if (conn) cases.push({ group: 'latency -S -c 1', name, conn, args: ['-S', '-c', '1', '-j', '1'], password: citus, proxy });
    }
    if (ONLY.has('many')) {
      // Many clients: read-only, and TPC-B-like (updates, lock waits on 10 branches).
      for (const [name, conn, proxy] of targets)
        if (conn) cases.push({ group: 'many clients -S -c 64 -j 2', name, conn, args: ['-S', '-c', '64', '-j', '2'], password: citus, proxy, extraSeconds: 5 });
      for (const [name, conn, proxy] of targets)
        if (conn)
          cases.push({ group: 'many clients -c 256 -j 2 (TPC-B)', name, conn, args: ['-c', '256', '-j', '2'], password: citus, proxy, extraSeconds: 20 });
    }

    if (ONLY.has('pool')) {
      // Transaction pools: 256 clients on POOL_SIZE server sessions, next to direct
      // connections and the session port (one server session per client).
      const group = `pool -S -c 256 -j 2 (${POOL_SIZE} server sessions)`;
      const pooled: Array<[string, string | undefined, Case['proxy']]> = [
        ['direct', direct, undefined],
        ['gateway', gateway, 'gateway'],
        ['gateway pool', `host=127.0.0.1 port=${stack.poolPort} user=citus dbname=postgres sslmode=require`, 'gateway'],
        ['pgbouncer tx', txBouncer ? `host=127.0.0.1 port=${txBouncer.port} user=citus dbname=postgres sslmode=require` : undefined, 'pgbouncer-tx'],
      ];
      for (const [name, conn, proxy] of pooled)
        if (conn) cases.push({ group, name, conn, args: ['-S', '-c', '256', '-j', '2'], password: citus, proxy, extraSeconds: 20 });
    }

    const minutes = (ROUNDS * cases.reduce((sum, c) => sum + SECONDS + (c.extraSeconds ?? 0) + 2, 0)) / 60;
    log(
      `${cases.length} cases x ${ROUNDS} rounds of ${SECONDS} s (many clients: a few s more to connect); ` +
        `measured from pgbench's second progress report to its last: about ${fmt(minutes, 1)} min`,
    );
    log(
      'each run: tps, latency, p99; per transaction in the window: CPU µs (user/sys) and context switches ' +
        '(voluntary / involuntary) of the proxy, of the server (postmaster + children), CPU of pgbench',
    );
    const loadAverage = async (): Promise<string> => (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');
    log(`load average before: ${await loadAverage()}`);
    const results = new Map<Case, Sample[]>();
    let done = 0;
    for (let round = 1; round <= ROUNDS; round++) {
      for (const c of cases) {
        done++;
        process.stdout.write(`[${done}/${cases.length * ROUNDS}] round ${round}/${ROUNDS}  ${c.group.padEnd(34)} ${c.name.padEnd(18)} `);
        const proxyPid =
          c.proxy === 'gateway' ? stack.pid : c.proxy === 'pgbouncer' ? bouncer?.child.pid : c.proxy === 'pgbouncer-tx' ? txBouncer?.child.pid : undefined;
        const s = await pgbench(c, await c.password(), proxyPid, stack.postmasterPid);
        const proxy = s.proxy
          ? ` | ${c.proxy} ${fmt(s.proxy.cpuUs, 1)} µs (${fmt(s.proxy.userUs, 1)}/${fmt(s.proxy.sysUs, 1)}), ` +
            `csw ${fmt(s.proxy.voluntary, 2)}/${fmt(s.proxy.involuntary, 2)}`
          : '';
        const server =
          ` | server ${fmt(s.server.cpuUs, 1)} µs, csw ${s.serverExited ? '≥' : ''}${fmt(s.server.voluntary, 2)}/${fmt(s.server.involuntary, 2)}` +
          ` | pgbench ${fmt(s.clientCpuUs, 1)} µs`;
        process.stdout.write(` ${fmt(s.tps)} tps, ${fmt(s.latencyMs, 3)} ms, p99 ${fmt(s.p99Ms, 3)} ms${proxy}${server}\n`);
        results.set(c, [...(results.get(c) ?? []), s]);
        if (!c.args.includes('-S')) {
          // The TPC-B run leaves dead rows and dirty buffers: vacuum and checkpoint now,
          // between runs, so that autovacuum and the checkpointer do not charge that work
          // to the next cases' server columns.
          process.stdout.write('  VACUUM, CHECKPOINT ...');
          const settle = await run('psql', ['-X', '-q', '-c', 'VACUUM', '-c', 'CHECKPOINT', superuser], { PGPASSWORD: stack.superuserPassword });
          process.stdout.write(settle.code === 0 ? ' done\n' : ` failed: ${settle.stderr.trim()}\n`);
        }
      }
    }

    log(`load average after: ${await loadAverage()}`);
    log('\n## Results (median of rounds; spread = min..max of tps)\n');
    log("Latency and p99 over each run's window (-C: pgbench's average, connecting included). Per transaction in the window:");
    log('CPU µs as total (user/sys), context switches as voluntary / involuntary;');
    log("proxy = the gateway's Node process (all threads) or PgBouncer; server = the coordinator's postmaster and all its children");
    log("(≥: backends that exited in the window did more than 5 % of the server's CPU; their switches are gone from /proc, their CPU is counted).\n");
    log(
      '| case | target | tps | spread | latency ms | p99 ms | proxy CPU µs/tx | proxy csw/tx | ' +
        'server CPU µs/tx | server csw/tx | pgbench CPU µs/tx | ratio |',
    );
    log('| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
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
        let ratio = c === base ? '1.00 (baseline)' : `${fmt(tps / baseTps, 2)} of direct`;
        if (c.proxy === 'gateway' && bouncerCase) ratio += `, ${fmt(tps / bouncerTps, 2)} of PgBouncer`;
        if (group.startsWith('latency') && c !== base) ratio += `, +${fmt(lat - baseLat, 3)} ms`;
        const cells = [
          group,
          c.name,
          fmt(tps),
          `${fmt(Math.min(...ss.map((s) => s.tps)))}..${fmt(Math.max(...ss.map((s) => s.tps)))}`,
          fmt(lat, 3),
          fmt(
            med(ss, (s) => s.p99Ms),
            3,
          ),
          cpuCell(ss, (s) => s.proxy),
          cswCell(ss, (s) => s.proxy),
          cpuCell(ss, (s) => s.server),
          cswCell(
            ss,
            (s) => s.server,
            ss.some((s) => s.serverExited),
          ),
          fmt(
            med(ss, (s) => s.clientCpuUs),
            1,
          ),
          ratio,
        ];
        log(`| ${cells.join(' | ')} |`);
      }
    }

    if (ONLY.has('signin')) await signInLatency(stack, direct, gateway);
    if (ONLY.has('memory')) await idleMemory(stack);
    // Their own clusters (1 coordinator + 8 workers; Citus, 1 + 2): after this one's servers are gone.
    pendingReconcile = ONLY.has('reconcile');
    pendingReconcileCitus = ONLY.has('reconcile-citus');
  } finally {
    for (const b of [bouncer, txBouncer]) {
      if (!b) continue;
      b.child.kill('SIGTERM');
      await new Promise((r) => (b.child.exitCode === null ? b.child.once('exit', r) : r(undefined)));
      await rm(b.dir, { recursive: true, force: true });
    }
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
    const child = spawn(process.execPath, ['--import', 'tsx', new URL('./reconcile.ts', import.meta.url).pathname], {
      stdio: 'inherit',
      env: { ...process.env, ...env },
    });
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
  log("\n## Sign-in latency (node-postgres client, one at a time, TLS; includes the client's own SCRAM work)\n");
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
  for (const [name, times] of rows)
    log(
      `| ${name} | ${fmt(median(times), 2)} | ${fmt(
        pct(
          [...times].sort((a, b) => a - b),
          99,
        ),
        2,
      )} |`,
    );
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
    const batch = Array.from(
      { length: Math.min(50, IDLE - i) },
      () => new pg.Client({ host: 'localhost', port: stack.gatewayPort, user: 'citus', password: CITUS_PASSWORD, database: 'postgres', ssl: { ca } }),
    );
    await Promise.all(batch.map((c) => c.connect()));
    clients.push(...batch);
    if ((i / 50) % 8 === 0) process.stdout.write(`  ${clients.length} connected\r`);
  }
  await new Promise((r) => setTimeout(r, 2000));
  const after = await rss();
  log(`\n  gateway RSS ${fmt(before / 1048576, 1)} MB -> ${fmt(after / 1048576, 1)} MB: ${fmt((after - before) / IDLE / 1024, 1)} KB per connection`);
  await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
}

// Stopped (kill, Ctrl-C): exit through process.exit, so that the 'exit' handlers stop the
// stack and PgBouncer.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(1));

main().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
