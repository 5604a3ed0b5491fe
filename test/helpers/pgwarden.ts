// Starts a real pgwarden (embedded PostgreSQL cluster + gateway) in a temporary data
// directory, on a free port, for one test file; and runs the machine's real clients.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { fileURLToPath } from 'node:url';
import { startPgwarden, type PgwardenOptions, type RunningPgwarden } from '../../src/pgwarden.js';
import { createLogger } from '../../src/util/log.js';
import { CatalogWatch } from '../../src/catalog/catalog-watch.js';
import { RoleCatalog } from '../../src/catalog/role-catalog.js';
import { Gateway, type GatewayOptions } from '../../src/gateway/server.js';
import { processAlive } from '../../src/util/process.js';
import type { EmbeddedCluster } from '../../src/cluster/embedded.js';

export const CITUS_PASSWORD = 'Citus-Test-Passw0rd';

export interface TestPgwarden extends Omit<RunningPgwarden, 'cluster'> {
  /** Tests run the embedded cluster: its servers can be stopped and started. */
  readonly cluster: EmbeddedCluster;
  readonly dataDir: string;
  readonly port: number;
  readonly caPath: string;
  readonly logFile: string;
  /** A libpq connection string to the gateway. */
  conn(user: string, extra?: string): string;
  /** Stops pgwarden and removes its data directory. */
  destroy(): Promise<void>;
}

/** A new temporary directory (0711: the servers' OS user must reach what is below it). */
export async function makeDataDir(prefix = 'pgwarden-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  await chmod(dir, 0o711);
  return dir;
}

export async function startTestPgwarden(options: Partial<PgwardenOptions> = {}, dataDir?: string): Promise<TestPgwarden> {
  const dir = dataDir ?? (await makeDataDir());
  const logFile = join(dir, 'logs', 'pgwarden.log');
  const running = await startPgwarden({
    dataDir: dir,
    host: '127.0.0.1',
    port: 0,
    apiPort: 0,
    identity: { kind: 'embedded', port: 0 },
    workers: 2,
    citusPassword: CITUS_PASSWORD,
    log: createLogger({ file: logFile, level: 'debug', stderrLevel: 'silent' }),
    ...options,
  });
  const port = running.address.port;
  return {
    ...running,
    cluster: running.cluster as EmbeddedCluster,
    dataDir: dir,
    port,
    caPath: running.tls.caPath!,
    logFile,
    conn: (user: string, extra = '') =>
      `host=127.0.0.1 port=${port} user='${user.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}' dbname=postgres sslmode=require ${extra}`.trim(),
    destroy: async () => {
      await running.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** pgwarden in front of an existing cluster (administrators' connection strings), without
 * an identity provider, its log in `dataDir`. */
export function startExternalPgwarden(dataDir: string, citusPassword: string, coordinator: string, workers: string[]): Promise<RunningPgwarden> {
  return startPgwarden({
    dataDir,
    host: '127.0.0.1',
    port: 0,
    apiPort: 0,
    identity: { kind: 'none' },
    citusPassword,
    external: { coordinator, workers },
    log: createLogger({ file: join(dataDir, 'logs', 'pgwarden.log'), stderrLevel: 'silent' }),
  });
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a program to its end (bounded by `timeoutMs`), never throwing on a non-zero exit. */
export function run(file: string, args: string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { env: { ...process.env, ...options.env }, timeout: options.timeoutMs ?? 30_000, cwd: options.cwd, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
        resolve({ code, stdout: stdout.toString(), stderr: stderr.toString() });
      },
    );
  });
}

/** psql -X -A -t: unaligned, tuples only, no psqlrc. */
export function psql(conn: string, sql: string, password: string | undefined, env: NodeJS.ProcessEnv = {}): Promise<RunResult> {
  const e: NodeJS.ProcessEnv = { PGCONNECT_TIMEOUT: '10', ...env };
  if (password !== undefined) e.PGPASSWORD = password;
  else e.PGPASSWORD = '';
  return run('psql', ['-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1', conn, '-c', sql], { env: e });
}

/** The CLI as npm installs it (built by npm test's build step). */
export const PGWARDEN_BIN = fileURLToPath(new URL('../../bin/pgwarden.js', import.meta.url));

/**
 * Runs the built CLI (bin/pgwarden.js; npm run build first) in a child process, as a user
 * would: `input` is written to its stdin, which is then closed. PGWARDEN_CITUS_PASSWORD is
 * not inherited from the test run's environment (set it in `env` where a test needs it).
 * Killed after `timeoutMs` (code null); never throws on a non-zero exit.
 */
export function runCli(args: string[], options: { env?: NodeJS.ProcessEnv; input?: string; cwd?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [PGWARDEN_BIN, ...args], {
      env: { ...process.env, PGWARDEN_CITUS_PASSWORD: undefined, ...options.env },
      cwd: options.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

/** Starts a long-running process; the caller ends it. */
export function start(file: string, args: string[], env: NodeJS.ProcessEnv = {}, cwd?: string): ChildProcess & { output: () => string } {
  const child = spawn(file, args, { env: { ...process.env, ...env }, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  return Object.assign(child, { output: () => out });
}

/** Waits until `predicate` holds, polling; fails after `timeoutMs`. */
export async function waitFor(predicate: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await predicate()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** True if a PostgreSQL server process with this pid runs (a zombie that its new parent
 * has not reaped yet does not count: it has exited, and its command line is empty). */
export function alive(pid: number): boolean {
  return processAlive(pid, /postgres/);
}

export interface SecondGateway {
  readonly gateway: Gateway;
  readonly port: number;
  /** Its own catalog watch (auth method, roles), as a second pgwarden's would be. */
  readonly watch: CatalogWatch;
  close(): Promise<void>;
}

/** A second gateway on `pw`'s cluster, with a catalog watch of its own (two gateways
 * behind one load balancer); `options` override its defaults. */
export async function startSecondGateway(pw: TestPgwarden, options: Partial<GatewayOptions> = {}): Promise<SecondGateway> {
  const log = createLogger({ stderrLevel: 'silent', level: 'silent' });
  const pool = pw.cluster.gatewayPool();
  const roles = new RoleCatalog(pool);
  const watch = new CatalogWatch(() => pw.cluster.gatewayClient(), pool, roles, log);
  await watch.start();
  const gateway = new Gateway({
    host: '127.0.0.1',
    port: 0,
    tls: pw.tls,
    backend: pw.cluster.backend,
    roles,
    authMethod: () => watch.authMethod,
    mockKey: Buffer.alloc(32, 1),
    log,
    ...options,
  });
  const port = (await gateway.listen()).port;
  return {
    gateway,
    port,
    watch,
    close: async () => {
      await gateway.close();
      await watch.stop();
      await pool.end();
    },
  };
}

/** Signs in with `config` and runs one query: 'ok', else the error's SQLSTATE and message. */
export async function signInOutcome(config: pg.ClientConfig): Promise<string> {
  const c = new pg.Client(config);
  c.on('error', () => undefined);
  try {
    await c.connect();
    await c.query('select 1');
    return 'ok';
  } catch (e) {
    return `${(e as { code?: string }).code ?? '?'} ${(e as Error).message}`;
  } finally {
    await c.end().catch(() => undefined);
  }
}
