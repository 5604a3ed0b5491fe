// Reuse of kept server sessions for one client (server-pool.ts keeps them): which kept
// sessions could serve it (its role, database and startup parameters, narrowed for a
// group member to that member), the check that the role may still sign in with the same
// verifier, and whether its own session may be kept when it ends.
import type { GatewayContext } from './context.js';
import type { Reuse } from './pump.js';
import { closeSession, poolKey, type PooledSession } from './server-pool.js';
import { SessionTracker } from './session-tracker.js';

/** An early answer older than this (a slow client) is asked again. */
const EARLY_ANSWER_MAX_AGE_MS = 1_000;

export class SessionReuse {
  private key: string;
  private early: Promise<string | undefined> | undefined;
  private recheckStartedAt = 0;

  constructor(
    private readonly ctx: GatewayContext,
    private readonly role: string,
    private readonly database: string,
    params: ReadonlyMap<string, string>,
  ) {
    this.key = poolKey(params);
  }

  /** When a session is waiting for this client, the recheck runs while the client is
   * still busy with its proof (its PBKDF2 takes milliseconds), so that a reuse adds no
   * round trip to the sign-in. */
  startEarly(): void {
    if (this.ctx.serverPool?.has(this.key)) this.early = this.recheck();
  }

  /** Only sessions of the same `scope` (a group member's object id) may serve this client. */
  narrow(scope: string | undefined): void {
    if (scope) this.key += `\0${scope}`;
  }

  /** A kept session, if one waits and the role's verifier is still `verifier` (the one
   * the sign-in found; null: the role's sessions are never reused). */
  async take(verifier: string | null): Promise<PooledSession | undefined> {
    const pool = this.ctx.serverPool;
    if (!pool || verifier === null) return undefined;
    const session = pool.take(this.key);
    if (!session) return undefined;
    const now = await (this.early && Date.now() - this.recheckStartedAt < EARLY_ANSWER_MAX_AGE_MS ? this.early : this.recheck());
    if (session.socket.destroyed) return undefined; // ended while we asked: a new one
    if (now === verifier && now === session.verifier) {
      pool.reused++;
      this.ctx.metrics?.serverSessionsReused.inc();
      return session;
    }
    // The role changed: its other kept sessions and its cached secret go too.
    closeSession(session.socket);
    this.ctx.roles.changed(this.role);
    return undefined;
  }

  /** How the byte pump hands `backend` back to the pool after a clean end, if it may. */
  onCleanEnd(backend: PooledSession): Reuse | undefined {
    const pool = this.ctx.serverPool;
    if (!pool || !backend.verifier || backend.trailing.length > 0) return undefined;
    const tracker = new SessionTracker(backend.parameters);
    const key = this.key;
    return {
      tracker,
      release: (socket) => void pool.release(key, { ...backend, socket, parameters: tracker.parameters }),
    };
  }

  private recheck(): Promise<string | undefined> {
    this.recheckStartedAt = Date.now();
    return this.ctx.roles.recheck(this.role, this.database).catch(() => undefined);
  }
}
