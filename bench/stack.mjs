// One pgwarden for the benchmark, in its own process (so that /proc tells its CPU time
// apart): the embedded cluster with the coordinator also on loopback TCP with TLS (the
// "direct" case), and the gateway. Prints one JSON line when ready; stops on SIGTERM.
// Usage: node bench/stack.mjs <data-dir> <gateway-port> <node-base-port>
// BENCH_WORKERS: workers of the embedded cluster (default 0; the chaos test runs with some).
import { startPgwarden } from '../dist/pgwarden.js';
import { postgresBinaries } from '../dist/cluster/binaries.js';
import { serverUser } from '../dist/cluster/os-user.js';
import { createLogger } from '../dist/util/log.js';

const [dataDir, gatewayPort, basePort] = process.argv.slice(2);
const running = await startPgwarden({
  dataDir,
  host: '127.0.0.1',
  port: Number(gatewayPort),
  apiPort: 0,
  // Any free port for the embedded identity provider: several stacks may run on one machine.
  identity: { kind: 'embedded', port: 0 },
  workers: Number(process.env.BENCH_WORKERS ?? 0),
  citusPassword: 'Bench-Citus-Passw0rd',
  // BENCH_NODE_TCP=0: the nodes on their Unix sockets only (the chaos test needs no direct
  // case, and with workers the ports after the base one may be taken).
  ...(process.env.BENCH_NODE_TCP === '0' ? {} : { nodeTcp: { host: '127.0.0.1', basePort: Number(basePort) } }),
  // synchronous_commit off: the TPC-B case (-c 256) then measures the proxies and PostgreSQL's
  // row locks rather than this machine's shared disk (a lock on one of 10 branch rows is
  // otherwise held through a WAL flush). Read-only transactions have no WAL to flush.
  // BENCH_MAX_CONNECTIONS: the load test raises it for more than 2,000 clients.
  nodeSettings: {
    max_connections: process.env.BENCH_MAX_CONNECTIONS ?? '2300',
    shared_buffers: '256MB',
    superuser_reserved_connections: '3',
    synchronous_commit: 'off',
  },
  // The load test lets all its clients sign in at once (--max-pending-auth), and gives each
  // sign-in more time (--auth-timeout) when the machine it shares with them is slow.
  ...(process.env.BENCH_MAX_PENDING_AUTH ? { maxPendingAuth: Number(process.env.BENCH_MAX_PENDING_AUTH) } : {}),
  ...(process.env.BENCH_AUTH_TIMEOUT ? { authTimeoutMs: Number(process.env.BENCH_AUTH_TIMEOUT) * 1000 } : {}),
  // BENCH_SERVER_POOL=0 runs the gateway without kept server sessions (and so without
  // following message boundaries), to compare.
  ...(process.env.BENCH_SERVER_POOL ? { serverPool: { maxIdle: Number(process.env.BENCH_SERVER_POOL) } } : {}),
  // The transaction pool's port (--pool-port), BENCH_POOL_SIZE server sessions (20, PgBouncer's default_pool_size).
  transactionPool: { port: 0, size: Number(process.env.BENCH_POOL_SIZE ?? 20) },
  log: createLogger({ file: `${dataDir}/logs/pgwarden.log`, level: process.env.BENCH_LOG_LEVEL ?? 'warn', stderrLevel: 'silent' }),
});
process.stdout.write(
  JSON.stringify({
    pid: process.pid,
    gatewayPort: running.address.port,
    poolPort: running.gateway.poolAddress.port,
    directPort: Number(basePort),
    socketDir: running.cluster.coordinator.spec.socketDir,
    socketPort: running.cluster.coordinator.spec.port,
    postmasterPid: running.cluster.coordinator.pid,
    caPath: running.tls.caPath,
    superuserPassword: running.cluster.secrets.superuserPassword,
    apiUrl: running.apiUrl,
    // What the chaos test needs to stop and start the servers itself (pg_ctl, as their OS user).
    pgCtl: (await postgresBinaries(running.cluster.coordinator.spec.postgresBin)).pg_ctl,
    runAs: (await serverUser()) ?? null,
    nodes: [running.cluster.coordinator, ...running.cluster.workers].map((n) => ({
      name: n.name,
      dataDir: n.spec.dataDir,
      socketDir: n.spec.socketDir,
      port: n.spec.port,
      logFile: n.spec.logFile,
    })),
  }) + '\n',
);
// The load script asks for a full GC before it reads memory and descriptors (node
// --expose-gc); idle server sessions kept for reuse are closed first, so that what is
// left open is only what finished sessions failed to release.
process.on('SIGUSR2', () => {
  const closed = running.gateway.closeIdleServerSessions();
  if (closed > 0) process.stderr.write(`stack: closed ${closed} kept server sessions\n`);
  globalThis.gc?.();
  const m = process.memoryUsage();
  process.stderr.write(
    `stack memory after GC: heap used ${(m.heapUsed / 1048576).toFixed(1)} MB, ` +
      `external ${(m.external / 1048576).toFixed(1)} MB, RSS ${(m.rss / 1048576).toFixed(1)} MB\n`,
  );
});
const stop = () => running.stop().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
