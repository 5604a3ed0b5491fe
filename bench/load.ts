// Load: concurrent clients sign in through the gateway, half with Entra tokens and half
// with passwords (SCRAM), and run queries, reconnecting every few queries; `--runs` times
// in a row on one pgwarden. Afterwards: no client saw an error, and the gateway's resident
// memory and open file descriptors are back near their baseline. Prints a table with the
// sign-in latency (p50, p99: from connect to ready, as the client saw it).
// Run: npm run load -- [--clients N] [--seconds S] [--runs N]
// (or LOAD_CLIENTS, LOAD_SECONDS, LOAD_RUNS; defaults 1,000 clients, 60 s, 1 run).
import { readFile, rm } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { errorKind, fds, percentile, rssAfterGcMb, rssMb, runClients } from './client-loop.js';
import { tokenFor } from './token.js';
import { CITUS_PASSWORD, guardStack, log, startStack, type Stack } from './stack-client.js';

const { values: args } = parseArgs({
  options: { clients: { type: 'string' }, seconds: { type: 'string' }, runs: { type: 'string' } },
});
const CLIENTS = positive('--clients', args.clients ?? process.env.LOAD_CLIENTS ?? '1000');
const SECONDS = positive('--seconds', args.seconds ?? process.env.LOAD_SECONDS ?? '60');
const RUNS = positive('--runs', args.runs ?? process.env.LOAD_RUNS ?? '1');
const QUERIES_PER_CONNECTION = 20;

function positive(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) {
    process.stderr.write(`load: ${name} must be a positive whole number (got ${JSON.stringify(value)})\n`);
    process.exit(2);
  }
  return n;
}

interface RunResult {
  signIns: number;
  queries: number;
  errors: Map<string, number>;
  p50: number;
  p99: number;
  after: { rss: number; fds: number };
}

async function oneRun(stack: Stack, ca: string, user: string, token: string, n: number): Promise<RunResult> {
  const deadline = Date.now() + SECONDS * 1000;
  const counts = { connections: 0, queries: 0, errors: 0 };
  const errors = new Map<string, number>();
  const latencies: number[] = [];
  const progress = setInterval(async () => {
    log(
      `  run ${n}: ${Math.max(0, Math.round((deadline - Date.now()) / 1000))} s left: ` +
        `${counts.connections} sign-ins, ${counts.queries} queries, ${counts.errors} errors; ` +
        `gateway RSS ${(await rssMb(stack.pid)).toFixed(1)} MB, ${await fds(stack.pid)} fds`,
    );
  }, 10_000);
  await runClients({
    gatewayPort: stack.gatewayPort,
    ca,
    database: 'postgres',
    clients: CLIENTS,
    queriesPerConnection: QUERIES_PER_CONNECTION,
    identity: (i) => (i % 2 === 0 ? { user, password: token, group: 'entra' } : { user: 'citus', password: CITUS_PASSWORD, group: 'citus' }),
    running: () => Date.now() < deadline,
    record: (o) => {
      if (o.error) {
        counts.errors++;
        const m = errorKind(o.error);
        errors.set(m, (errors.get(m) ?? 0) + 1);
      } else if (o.phase === 'sign-in') {
        counts.connections++;
        latencies.push(o.endedAt - o.startedAt);
      } else counts.queries++;
    },
  });
  clearInterval(progress);
  await new Promise((r) => setTimeout(r, 5000));
  const after = { rss: await rssAfterGcMb(stack.pid), fds: await fds(stack.pid) };
  const sorted = Float64Array.from(latencies).sort();
  return { signIns: counts.connections, queries: counts.queries, errors, p50: percentile(sorted, 50), p99: percentile(sorted, 99), after };
}

async function main(): Promise<void> {
  // Room for every client's session (and the kept ones), and for all of them signing in at once.
  process.env.BENCH_MAX_CONNECTIONS ??= String(Math.max(2300, CLIENTS + 300));
  process.env.BENCH_MAX_PENDING_AUTH ??= String(Math.max(1000, CLIENTS + 100));
  // The gateway's sign-in timer (--auth-timeout, 30 s) runs from the accept, so on two
  // cores shared by the clients' TLS and PBKDF2, the gateway and PostgreSQL, a thousand
  // sign-ins at once can pass it before any client is slow: 120 s here (LOAD_AUTH_TIMEOUT).
  process.env.BENCH_AUTH_TIMEOUT ??= process.env.LOAD_AUTH_TIMEOUT ?? '120';
  log(
    `load: ${CLIENTS} clients for ${SECONDS} s, ${RUNS} run(s) (half Entra tokens, half SCRAM passwords), ` +
      `${QUERIES_PER_CONNECTION} queries per connection; gateway --auth-timeout ${process.env.BENCH_AUTH_TIMEOUT} s`,
  );
  const stack: Stack = await startStack();
  const guard = guardStack(stack);
  try {
    const tokens = await tokenFor(stack.dataDir);
    const ca = await readFile(stack.caPath, 'utf8');
    // Warm up once, then take the baseline.
    const warm = new pg.Client({
      host: '127.0.0.1',
      port: stack.gatewayPort,
      user: 'citus',
      password: CITUS_PASSWORD,
      database: 'postgres',
      ssl: { ca, servername: 'localhost' },
    });
    await warm.connect();
    await warm.end();
    await new Promise((r) => setTimeout(r, 1000));
    const baseline = { rss: await rssAfterGcMb(stack.pid), fds: await fds(stack.pid) };
    log(`baseline: gateway RSS ${baseline.rss.toFixed(1)} MB, ${baseline.fds} open fds`);

    const results: RunResult[] = [];
    for (let n = 1; n <= RUNS; n++) {
      const r = await oneRun(stack, ca, tokens.user, await tokens.token(), n).catch((e: unknown) => {
        throw new Error(guard.died() ?? (e as Error).message, { cause: e });
      });
      if (guard.died()) throw new Error(guard.died());
      results.push(r);
      const errors = [...r.errors.values()].reduce((a, b) => a + b, 0);
      log(`run ${n}: ${r.signIns} sign-ins, ${r.queries} queries, ${errors} errors, sign-in p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms`);
      for (const [m, k] of r.errors) log(`  error x${k}: ${m}`);
    }
    log('');
    log(`| run | clients | seconds | sign-ins | queries | errors | sign-in p50 ms | sign-in p99 ms | RSS before -> after (MB) | open fds before -> after |`);
    log(`| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |`);
    results.forEach((r, i) => {
      const errors = [...r.errors.values()].reduce((a, b) => a + b, 0);
      log(
        `| ${i + 1} | ${CLIENTS} | ${SECONDS} | ${r.signIns} | ${r.queries} | ${errors} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ` +
          `${baseline.rss.toFixed(1)} -> ${r.after.rss.toFixed(1)} | ${baseline.fds} -> ${r.after.fds} |`,
      );
    });
    const failed = results.filter((r) => r.errors.size > 0).length;
    const leaked = results.some((r) => r.after.fds - baseline.fds > 5);
    if (failed > 0 || leaked) {
      log(failed > 0 ? `FAILED: clients saw errors in ${failed} of ${RUNS} run(s)` : 'FAILED: file descriptors leaked');
      process.exitCode = 1;
    } else log(`ok: ${RUNS} run(s) without errors, file descriptors back to the baseline`);
  } finally {
    await guard.stop();
    if (guard.died()) process.exitCode = 1;
    await rm(stack.dataDir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`load failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
