// A PostgreSQL session for one client that has proved who it is: a kept one when one
// waits for it (session-reuse.ts), else a new one, opened in its turn (opening-queue.ts).
// While PostgreSQL is slow to start sessions or has no room for one, the client waits, up
// to the gateway's server wait (--server-wait-timeout); only then is it told, 53300 or
// 57P03, that the cluster is overloaded.
import type { Socket } from 'node:net';
import { BackendRefusal, openBackendSession, type BackendSession, type KeysFor } from './backend.js';
import type { GatewayContext } from './context.js';
import { OverloadedError, type RoomScope } from './opening-queue.js';
import { closeSession, type PooledSession } from './server-pool.js';
import { NoHostError, reportedServerState } from '../cluster/hosts.js';
import { PgwardenError, isPgwardenError, isServerGoingAway } from '../util/errors.js';

export interface SessionRequest {
  readonly ctx: GatewayContext;
  /** The startup parameters (user and database included) the session starts with. */
  readonly params: ReadonlyMap<string, string>;
  readonly keysFor: KeysFor;
  /** The client: when it leaves, so does its place in line. */
  readonly client: Socket;
  /** A kept session for the client, if one waits (tried first, and again at its turn). */
  readonly kept?: () => Promise<PooledSession | undefined>;
}

/** PostgreSQL's refusals that mean "not now": no room (53300), or not accepting sessions (57P03). */
const WAIT_AND_RETRY = new Set(['53300', '57P03']);

export async function serverSession(req: SessionRequest): Promise<BackendSession | PooledSession> {
  const kept = await req.kept?.();
  if (kept) return kept;
  const { ctx, client } = req;
  const queue = ctx.openings;
  const role = req.params.get('user') ?? '';
  const database = req.params.get('database') ?? role;
  const waitMs = ctx.serverWaitMs;
  const turn = queue.enter(['cluster', `role\0${role}`, `database\0${database}`], Date.now() + waitMs);
  const leaving = new AbortController();
  const onClose = (): void => leaving.abort(new PgwardenError('PEER_CLOSED', 'the client left while waiting for a server session'));
  client.once('close', onClose);
  if (client.destroyed) onClose();
  // The coordinator lists several hosts and none was the primary at the last try (a
  // failover under way): the client waits for one, as for room.
  let noPrimary: NoHostError | undefined;
  try {
    for (;;) {
      await queue.wait(turn, leaving.signal, waitMs).catch((e: unknown) => {
        throw e instanceof OverloadedError && noPrimary ? failoverTooLong(noPrimary, waitMs) : e;
      });
      const session = await attempt(req, turn);
      if (session !== 'retry') {
        if (!leaving.signal.aborted) return session;
        closeSession(session.socket);
        throw leaving.signal.reason;
      }
    }
  } finally {
    client.off('close', onClose);
  }

  // One try in the turn: a kept session that has come back meanwhile, else a new one.
  async function attempt(req: SessionRequest, turn: ReturnType<typeof queue.enter>): Promise<BackendSession | PooledSession | 'retry'> {
    try {
      const again = await req.kept?.();
      if (again) {
        queue.abandoned(turn);
        return again;
      }
      const { backend } = ctx;
      const { conn: session } = await backend.choice.open({
        open: (at) =>
          openBackendSession(backend.target(at), req.params, req.keysFor, Math.min(ctx.backendTimeoutMs, remaining()), {
            timeoutMs: remaining(),
            timeoutError: () => queue.overloaded(turn, waitMs),
          }),
        state: (s) => reportedServerState(s.parameters),
        discard: (s) => closeSession(s.socket),
        final: (e) => !isPgwardenError(e, 'BACKEND_UNAVAILABLE') && !(e instanceof BackendRefusal && isServerGoingAway(e.sqlstate)),
        notNow: (e) => e instanceof BackendRefusal,
      });
      queue.succeeded(turn);
      // However it ends later (closed, or kept and closed), its end makes room.
      session.socket.once('close', queue.onSessionClosed);
      return session;
    } catch (e) {
      noPrimary = e instanceof NoHostError && e.standbyAnswered ? e : undefined;
      if (noPrimary) {
        queue.refused(turn, 'cluster', '57P03', noPrimary.message);
        ctx.log.debug({ event: 'server-session-wait', reason: noPrimary.message, role, database }, 'waiting for the coordinator to have a primary');
        return 'retry';
      }
      if (!(e instanceof BackendRefusal) || !WAIT_AND_RETRY.has(e.sqlstate)) {
        queue.abandoned(turn);
        throw e;
      }
      // Idle kept sessions take room too (in all, and of their role): they go first.
      if (e.sqlstate === '53300' && ctx.serverPool && ctx.serverPool.idleCount > 0) ctx.serverPool.forget();
      queue.refused(turn, scopeOf(e, role, database), e.sqlstate, e.message);
      ctx.log.debug({ event: 'server-session-wait', sqlstate: e.sqlstate, reason: e.message, role, database }, 'waiting for room for a server session');
      return 'retry';
    }
  }

  function remaining(): number {
    return Math.max(0, turn.deadline - Date.now());
  }
}

/** A sign-in waited the whole server wait for a coordinator with several hosts to have a primary. */
function failoverTooLong(last: NoHostError, waitMs: number): PgwardenError {
  return new PgwardenError('NO_PRIMARY', `${last.message} (waited ${Math.round(waitMs / 1000)} s)`, {
    detail: "A failover may be under way. Try again shortly; the operator can check the coordinator's hosts and raise pgwarden up --server-wait-timeout.",
  });
}

/** Which sign-ins a refusal holds back: PostgreSQL's messages name a role's or a
 * database's CONNECTION LIMIT; anything else (max_connections, reserved slots, start-up or
 * shutdown, messages in another language) holds back every sign-in. */
function scopeOf(e: BackendRefusal, role: string, database: string): RoomScope {
  if (e.sqlstate === '53300' && /too many connections for role/.test(e.message)) return `role\0${role}`;
  if (e.sqlstate === '53300' && /too many connections for database/.test(e.message)) return `database\0${database}`;
  return 'cluster';
}
