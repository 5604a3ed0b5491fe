// A node reached at one of several hosts: libpq's multi-host connection strings
// (`host=a,b port=5432,5432 target_session_attrs=read-write`), as Patroni and
// pg_auto_failover hand them out for a primary that moves. Like libpq, pgwarden tries the
// hosts in turn until one connects and is what target_session_attrs asks; unlike libpq,
// it remembers which one that was and tries it first next time, so that every connection
// after a failover does not first knock on the old primary. Every connection pgwarden
// makes to the node goes through here: the gateway's sessions, the catalog watch, the
// reconciler, the control plane.
// https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-MULTIPLE-HOSTS
import type pg from 'pg';
import type { Logger } from 'pino';
import { PgwardenError, describeError } from '../util/errors.js';

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** libpq's target_session_attrs, of the values a node that pgwarden writes to can take. */
export type TargetSessionAttrs = 'any' | 'read-write' | 'primary';

/** What a server said of itself: in recovery (a standby), and whether its sessions are read-only. */
export interface ServerState {
  readonly inRecovery: boolean;
  readonly readOnly: boolean;
}

export function describeHost(at: HostPort): string {
  return `${at.host}:${at.port}`;
}

/** No host of the node could be used. `standbyAnswered`: at least one answered but was a
 * standby or read-only (a failover may be under way: waiting may help). */
export class NoHostError extends PgwardenError {
  constructor(
    readonly node: string,
    readonly wants: TargetSessionAttrs,
    readonly standbyAnswered: boolean,
    tried: readonly string[],
  ) {
    super(
      standbyAnswered ? 'NO_PRIMARY' : 'BACKEND_UNAVAILABLE',
      `no host of ${node} accepts ${wants === 'primary' ? 'sessions as the primary' : 'read-write sessions'} now: ${tried.join('; ')}`,
    );
  }
}

/** How to open one kind of connection (node-postgres client, gateway session) on a host. */
export interface Opener<C> {
  open(at: HostPort): Promise<C>;
  /** What the connection's server is. */
  state(c: C): ServerState | Promise<ServerState>;
  /** Closes a connection that is not what is asked. */
  discard(c: C): void;
  /** An error of `open` that every host would give too (the server's own answer to this
   * session: a wrong password, no such database): thrown as it is. */
  final?(e: unknown): boolean;
  /** An error of `open` that means "not now" (starting up, shutting down): an answer, as a standby's is. */
  notNow?(e: unknown): boolean;
  /** When no host is what is asked, take the first standby that answered rather than fail
   * (reads: a standby has everything but the last moments). */
  standbyFallback?: boolean;
}

export class HostChoice {
  private index = 0;

  constructor(
    /** The node's name, for messages ("coordinator", "worker-1"). */
    readonly node: string,
    readonly hosts: readonly HostPort[],
    readonly wants: TargetSessionAttrs,
    private readonly log?: Logger,
  ) {
    if (hosts.length === 0) throw new Error('a node needs at least one host');
  }

  /** The host that answered as asked last (the first one until then). */
  get current(): HostPort {
    return this.hosts[this.index]!;
  }

  /** Whether a connection must be asked what it is before it is used. */
  get checks(): boolean {
    return this.wants !== 'any';
  }

  /** The hosts to try, the current one first, then the others in the string's order. */
  order(): HostPort[] {
    return [this.current, ...this.hosts.filter((_, i) => i !== this.index)];
  }

  /** Why a server in `state` is not what is asked, or undefined if it is. */
  refuses(state: ServerState): string | undefined {
    if (this.wants === 'any') return undefined;
    if (state.inRecovery) return 'a standby (in recovery)';
    if (this.wants === 'read-write' && state.readOnly) return 'read-only (default_transaction_read_only)';
    return undefined;
  }

  /** `at` answered as asked: try it first from now on. */
  settle(at: HostPort): void {
    const i = this.hosts.indexOf(at);
    if (i < 0 || i === this.index) return;
    const was = this.current;
    this.index = i;
    this.log?.warn(
      { event: 'host-changed', node: this.node, from: describeHost(was), to: describeHost(at) },
      `${this.node} is now reached at ${describeHost(at)} (was ${describeHost(was)})`,
    );
  }

  /**
   * Opens a connection on the first host, in order(), that connects and is what
   * target_session_attrs asks, and settles on it. With a single host and no
   * target_session_attrs, a failure to connect is thrown as it is; otherwise NoHostError
   * names each host's reason. A failure after the connection is handed out is the
   * caller's: nothing is retried then.
   */
  async open<C>(how: Opener<C>): Promise<{ conn: C; at: HostPort }> {
    const tried: string[] = [];
    let standbyAnswered = false;
    let fallback: { conn: C; at: HostPort } | undefined;
    for (const at of this.order()) {
      let conn: C;
      try {
        conn = await how.open(at);
      } catch (e) {
        if ((this.hosts.length === 1 && !this.checks) || how.final?.(e)) throw e;
        if (how.notNow?.(e)) standbyAnswered = true;
        tried.push(`${describeHost(at)}: ${reason(e)}`);
        continue;
      }
      let refusal: string | undefined;
      try {
        refusal = this.checks ? this.refuses(await how.state(conn)) : undefined;
      } catch (e) {
        refusal = `cannot tell whether it is a standby (${reason(e)})`;
      }
      if (refusal === undefined) {
        if (fallback) how.discard(fallback.conn);
        this.settle(at);
        return { conn, at };
      }
      if (how.standbyFallback && !fallback) fallback = { conn, at };
      else how.discard(conn);
      standbyAnswered = true;
      tried.push(`${describeHost(at)}: ${refusal}`);
    }
    if (fallback) return fallback;
    throw new NoHostError(this.node, this.wants, standbyAnswered, tried);
  }
}

/** An error's message, with the system's error code of its cause ("ECONNREFUSED") if any. */
function reason(e: unknown): string {
  const code = ((e as Error)?.cause as NodeJS.ErrnoException | undefined)?.code;
  if (code) return `${(e as Error).message} (${code})`;
  return e instanceof PgwardenError ? e.message : describeError(e);
}

/** What a node-postgres connection's server is (one round trip). */
export async function pgServerState(c: pg.Client | pg.PoolClient): Promise<ServerState> {
  const r = await c.query<{ r: boolean; ro: string }>("SELECT pg_is_in_recovery() AS r, current_setting('transaction_read_only') AS ro");
  return { inRecovery: r.rows[0]!.r, readOnly: r.rows[0]!.ro === 'on' };
}

/** What a server reported of itself in ParameterStatus at sign-in (PostgreSQL 14 and later). */
export function reportedServerState(parameters: ReadonlyMap<string, string>): ServerState {
  return { inRecovery: parameters.get('in_hot_standby') === 'on', readOnly: parameters.get('default_transaction_read_only') === 'on' };
}
