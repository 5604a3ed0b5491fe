// The transaction pool's server sessions: per role, database and startup parameters (a
// "group"), at most `size` sessions, shared by any number of clients one transaction at
// a time (PgBouncer's pool_mode = transaction). A client that needs a session while all
// are busy waits in line (first come, first served) up to `waitTimeoutMs`. Sessions are
// opened with the keys of the client that needs one (so that a client whose password
// has changed cannot open one), closed after `idleTimeoutMs` unused or `lifetimeMs` in
// all, and closed when their role changes.
import type { Logger } from 'pino';
import { DEFAULTS } from '../../util/defaults.js';
import { PgwardenError } from '../../util/errors.js';
import type { BackendSession } from '../backend.js';
import { closeSession } from '../server-pool.js';
import { readsShared, setReadSink } from '../server-reads.js';

export interface TransactionPoolOptions {
  /** Server sessions per role, database and startup parameters. */
  size: number;
  /** How long a client waits for a session before it is told the pool is busy. */
  waitTimeoutMs: number;
  idleTimeoutMs: number;
  lifetimeMs: number;
  /** Named statements kept prepared on each server session (PgBouncer's max_prepared_statements). */
  maxPreparedStatements: number;
}

export const DEFAULT_TRANSACTION_POOL: TransactionPoolOptions = {
  size: DEFAULTS.poolSize,
  waitTimeoutMs: DEFAULTS.poolWaitTimeoutSeconds * 1000,
  idleTimeoutMs: 600_000,
  lifetimeMs: 3_600_000,
  maxPreparedStatements: 200,
};

/** The client a session serves for one transaction: it gets what the server sends. */
export interface ServerOwner {
  /** A read from the server; `shared` bytes are valid only during the call (server-reads.ts). */
  serverBytes(bytes: Buffer, shared: boolean): void;
  serverDrain(): void;
  serverGone(): void;
}

/** A server session of the pool. Its socket's listeners are put on once, when it is
 * opened, and hand each event to the session's owner of the moment: taking a session
 * and giving it back costs no listener changes and no pause and resume (each of which
 * was a system call per transaction). The socket keeps reading while idle: an idle
 * session says nothing unasked unless it is going away, and is then closed. */
export interface PoolServer {
  readonly session: BackendSession;
  readonly group: ServerGroup;
  readonly bornAt: number;
  /** Statements prepared on it (gateway names), least recently used first. */
  readonly prepared: Map<string, true>;
  /** Its role changed while it was busy: closed when released. */
  retired: boolean;
  owner: ServerOwner | undefined;
  /** When it was last given back (idle sessions are closed after idleTimeoutMs). */
  idleSince: number;
}

interface Waiter {
  readonly open: () => Promise<BackendSession>;
  readonly resolve: (server: PoolServer) => void;
  readonly reject: (e: unknown) => void;
  readonly timer: NodeJS.Timeout;
}

export class ServerGroup {
  readonly idle: PoolServer[] = [];
  readonly busy = new Set<PoolServer>();
  opening = 0;
  readonly waiters: Waiter[] = [];
  /** The run-time parameters of the group's first session, for its clients' sign-in. */
  parameters: Map<string, string> | undefined;

  constructor(
    readonly key: string,
    readonly role: string,
  ) {}

  get total(): number {
    return this.idle.length + this.busy.size + this.opening;
  }
}

export class TransactionPool {
  private readonly groups = new Map<string, ServerGroup>();
  private closed = false;
  /** One sweep for idle sessions past their time, rather than a timer per session set and
   * cleared on every transaction. */
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    readonly options: TransactionPoolOptions,
    private readonly log: Logger,
  ) {
    const every = Math.max(100, Math.min(options.idleTimeoutMs / 2, 10_000));
    this.sweeper = setInterval(() => this.sweepIdle(), every).unref();
  }

  group(key: string, role: string): ServerGroup {
    let g = this.groups.get(key);
    if (!g) this.groups.set(key, (g = new ServerGroup(key, role)));
    return g;
  }

  /** A server session of `group` for one transaction: an idle one, a new one (opened
   * with `open`) while the group has room, or the next one released. */
  acquire(group: ServerGroup, open: () => Promise<BackendSession>): Promise<PoolServer> {
    if (this.closed) return Promise.reject(new PgwardenError('BACKEND_UNAVAILABLE', 'the gateway is shutting down'));
    const idle = this.takeIdle(group);
    if (idle) return Promise.resolve(idle);
    if (group.total < this.options.size) return this.open(group, open);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        open,
        resolve,
        reject,
        timer: setTimeout(() => {
          const i = group.waiters.indexOf(waiter);
          if (i >= 0) group.waiters.splice(i, 1);
          reject(
            new PgwardenError(
              'TOO_MANY_CONNECTIONS',
              `all ${this.options.size} server sessions of the transaction pool for this role and database stayed busy`,
              {
                detail: `Waited ${Math.round(this.options.waitTimeoutMs / 1000)} s. Raise --pool-size, or use the session port.`,
              },
            ),
          );
        }, this.options.waitTimeoutMs),
      };
      group.waiters.push(waiter);
    });
  }

  /** Gives a session back after its transaction: to the next waiting client, or idle. A
   * session that may not serve again (`reusable` false, retired, too old) is closed. */
  release(server: PoolServer, reusable: boolean): void {
    const group = server.group;
    group.busy.delete(server);
    const { socket } = server.session;
    const alive = !socket.destroyed && socket.writable;
    if (!reusable || !alive || server.retired || this.closed || Date.now() - server.bornAt > this.options.lifetimeMs) {
      closeSession(socket);
      this.makeRoom(group);
      return;
    }
    const waiter = group.waiters.shift();
    if (waiter) {
      clearTimeout(waiter.timer);
      group.busy.add(server);
      waiter.resolve(server);
      return;
    }
    server.idleSince = Date.now();
    socket.resume(); // its last owner may have paused it (a client slow to read)
    group.idle.push(server);
  }

  /** Closes the sessions of `role` (all roles when undefined): idle ones now, busy ones
   * when their transaction ends. */
  forget(role?: string): void {
    for (const group of this.groups.values()) {
      if (role !== undefined && group.role !== role) continue;
      for (const server of [...group.idle]) this.dropIdle(server);
      for (const server of group.busy) server.retired = true;
    }
  }

  /** Server sessions by state, and clients waiting for one (metrics). */
  counts(): { idle: number; busy: number; opening: number; waiting: number } {
    const n = { idle: 0, busy: 0, opening: 0, waiting: 0 };
    for (const g of this.groups.values()) {
      n.idle += g.idle.length;
      n.busy += g.busy.size;
      n.opening += g.opening;
      n.waiting += g.waiters.length;
    }
    return n;
  }

  close(): void {
    this.closed = true;
    clearInterval(this.sweeper);
    this.forget();
    for (const g of this.groups.values()) {
      for (const w of g.waiters.splice(0)) {
        clearTimeout(w.timer);
        w.reject(new PgwardenError('BACKEND_UNAVAILABLE', 'the gateway is shutting down'));
      }
    }
  }

  private takeIdle(group: ServerGroup): PoolServer | undefined {
    for (;;) {
      const server = group.idle.pop(); // the most recently used: warm caches
      if (!server) return undefined;
      const { socket } = server.session;
      if (!socket.destroyed && socket.writable) {
        group.busy.add(server);
        return server;
      }
      closeSession(socket);
    }
  }

  private async open(group: ServerGroup, open: () => Promise<BackendSession>): Promise<PoolServer> {
    group.opening++;
    let session: BackendSession;
    try {
      session = await open();
    } catch (e) {
      group.opening--;
      this.makeRoom(group);
      throw e;
    }
    group.opening--;
    const server: PoolServer = { session, group, bornAt: Date.now(), prepared: new Map(), retired: false, owner: undefined, idleSince: 0 };
    this.listen(server);
    group.parameters ??= new Map(session.parameters);
    group.busy.add(server);
    this.log.debug({ event: 'pool-server-opened', role: group.role, sessions: group.total }, 'transaction pool opened a server session');
    return server;
  }

  /** A session closed or failed to open: the first waiter opens one with its own keys. */
  private makeRoom(group: ServerGroup): void {
    if (group.total >= this.options.size) return;
    const waiter = group.waiters.shift();
    if (!waiter) return;
    clearTimeout(waiter.timer);
    this.open(group, waiter.open).then(waiter.resolve, waiter.reject);
  }

  /** Puts the session's listeners on, once: each event goes to its owner, or, while
   * it has none, ends the session. */
  private listen(server: PoolServer): void {
    const { socket } = server.session;
    const unasked = (): void => this.dropIdle(server);
    if (readsShared(socket)) {
      setReadSink(socket, (bytes) => {
        if (server.owner) server.owner.serverBytes(bytes, true);
        else unasked();
        return true;
      });
    } else {
      socket.on('data', (chunk: Buffer) => (server.owner ? server.owner.serverBytes(chunk, false) : unasked()));
    }
    socket.on('drain', () => server.owner?.serverDrain());
    const gone = (): void => (server.owner ? server.owner.serverGone() : unasked());
    socket.on('end', gone);
    socket.on('close', gone);
    socket.on('error', () => undefined); // 'close' follows
  }

  private sweepIdle(): void {
    const before = Date.now() - this.options.idleTimeoutMs;
    for (const group of this.groups.values()) {
      for (const server of group.idle.filter((s) => s.idleSince <= before)) this.dropIdle(server);
    }
  }

  /** Closes an idle session (one that spoke unasked, went away or sat unused too long);
   * a busy session without an owner (taken, not yet attached) is closed when released. */
  private dropIdle(server: PoolServer): void {
    const group = server.group;
    const i = group.idle.indexOf(server);
    if (i < 0) {
      if (group.busy.has(server)) server.retired = true;
      return;
    }
    group.idle.splice(i, 1);
    closeSession(server.session.socket);
    this.makeRoom(group);
  }
}
