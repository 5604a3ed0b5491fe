// What the load and the chaos test share: clients that sign in through the gateway and
// run queries, reconnecting every few queries, each outcome reported as it happens; and
// the gateway process's resident memory and open file descriptors, read from /proc.
import { readFile, readdir } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import pg from 'pg';

/** Who a client signs in as, asked again before each connection. */
export interface Identity {
  user: string;
  password: string;
  /** The kind of client, for the tables (e.g. "entra", "citus"). */
  group: string;
  /** A variant within the group (e.g. which token or password it used). */
  variant?: string;
}

export interface Outcome {
  client: number;
  group: string;
  variant: string | undefined;
  phase: 'sign-in' | 'query';
  /** When the attempt started and ended (ms, performance.now()). */
  startedAt: number;
  endedAt: number;
  /** Undefined: it succeeded. */
  error?: { code: string; message: string };
}

export interface ClientLoopOptions {
  gatewayPort: number;
  ca: string;
  database: string;
  clients: number;
  queriesPerConnection: number;
  /** May make the client wait (a rollout of a new password). */
  identity(client: number): Identity | Promise<Identity>;
  /** Whether clients keep going (checked after each query and before each connection). */
  running(): boolean;
  record(outcome: Outcome): void;
  /** A client whose attempt failed waits this long before its next one (a real client backs off). */
  pauseAfterErrorMs?: number;
  /** A query or sign-in that takes longer is reported as an error (a hang); default none. */
  hangAfterMs?: number;
}

/** Runs `clients` clients until `running()` says stop; started 50 at a time, as a real fleet would. */
export async function runClients(o: ClientLoopOptions): Promise<void> {
  const one = async (i: number): Promise<void> => {
    // Every client signs in at least once, however late the ramp-up started it.
    do {
      const who = await o.identity(i);
      const c = new pg.Client({
        // An address, not a name: no getaddrinfo in libuv's thread pool, which the clients'
        // PBKDF2 (SCRAM) and the token's verification need; the certificate is checked for
        // the name all the same.
        host: '127.0.0.1',
        port: o.gatewayPort,
        database: o.database,
        ssl: { ca: o.ca, servername: 'localhost' },
        user: who.user,
        password: who.password,
        ...(o.hangAfterMs ? { connectionTimeoutMillis: o.hangAfterMs, query_timeout: o.hangAfterMs } : {}),
      });
      // A session that ends between queries (a restarted server) fails the next query with
      // "not queryable": the error it ended with is the one reported.
      let ended: unknown;
      c.on('error', (e) => (ended ??= e));
      const report = (phase: Outcome['phase'], startedAt: number, e?: unknown): void =>
        o.record({ client: i, group: who.group, variant: who.variant, phase, startedAt, endedAt: performance.now(), ...(e ? { error: errorOf(e) } : {}) });
      let phase: Outcome['phase'] = 'sign-in';
      let started = performance.now();
      try {
        await c.connect();
        report('sign-in', started);
        phase = 'query';
        for (let q = 0; q < o.queriesPerConnection && o.running(); q++) {
          started = performance.now();
          const r = await c.query('select $1::int + 1 as n', [q]);
          if (r.rows[0].n !== q + 1) throw new Error('wrong answer');
          report('query', started);
        }
      } catch (e) {
        report(phase, started, ended ?? e);
        if (o.pauseAfterErrorMs) await new Promise((r) => setTimeout(r, o.pauseAfterErrorMs));
      } finally {
        await c.end().catch(() => undefined);
      }
    } while (o.running());
  };
  const running: Array<Promise<void>> = [];
  for (let i = 0; i < o.clients; i++) {
    running.push(one(i));
    if (i % 50 === 49) await new Promise((r) => setTimeout(r, 100));
  }
  await Promise.all(running);
}

function errorOf(e: unknown): { code: string; message: string } {
  const x = e as { code?: unknown; message?: unknown };
  return { code: typeof x.code === 'string' ? x.code : '', message: String(x.message ?? e) };
}

/** "CODE message", as the tables print an error. */
export function errorKind(e: { code: string; message: string }): string {
  return `${e.code} ${e.message}`.trim();
}

export async function rssMb(pid: number): Promise<number> {
  return Number(/VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024;
}

/** Resident memory of the gateway process right after a full garbage collection (the
 * kept server sessions closed first: a closed session's socket may take up to 1 s to go). */
export async function rssAfterGcMb(pid: number): Promise<number> {
  process.kill(pid, 'SIGUSR2');
  await new Promise((r) => setTimeout(r, 2000));
  return rssMb(pid);
}

export async function fds(pid: number): Promise<number> {
  return (await readdir(`/proc/${pid}/fd`)).length;
}

export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}
