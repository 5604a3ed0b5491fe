// Sessions that end with their token (the cluster's session expiry `token`; `never`, the
// default, is the managed service's behaviour): a session signed in with an access token
// is ended when the token expires, with FATAL 28000 saying why and what to do. A query
// in flight is let finish: the session ends at its ReadyForQuery, or when the grace
// period is over, whichever comes first. The setting is read when the token expires, and
// again every minute after (a switch to `token` ends sessions whose tokens have expired).
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { errorResponse, terminate } from '../protocol/messages.js';
import type { SessionExpiry } from '../catalog/auth-method.js';
import { sendCancel } from './backend.js';
import type { GatewayContext } from './context.js';
import type { PooledSession } from './server-pool.js';
import { SessionTracker } from './session-tracker.js';

/** How long a query in flight at the token's expiry may still run. */
export const SESSION_EXPIRY_GRACE_MS = 5 * 60_000;
/** With session expiry off when the token expired, how often it is looked at again. */
const RECHECK_MS = 60_000;
/** setTimeout's longest wait; a later expiry waits in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface ExpiryWatch {
  /** Milliseconds since the epoch: the token's `exp`. */
  readonly expiresAtMs: number;
  readonly client: Socket;
  readonly server: Socket;
  /** Follows the session's messages (fed by the pump): tells a query in flight. */
  readonly tracker: SessionTracker;
  readonly setting: () => SessionExpiry;
  readonly graceMs: number;
  /** Cancels the server's query in flight (a CancelRequest with the backend's key). */
  readonly cancel: () => void;
  readonly role: string;
  readonly log: Logger;
}

/** What the client is told when its session ends with its token. */
export function tokenExpiredMessage(): Buffer {
  return errorResponse({
    severity: 'FATAL',
    sqlstate: '28000',
    message: 'the access token of this session has expired',
    detail: 'Session expiry is "token" for this cluster: a session signed in with an access token ends when the token does.',
    hint: 'Acquire a new token and connect again.',
  });
}

/** Calls `then` once the token has expired while the setting is `token` (looked at when
 * it expires, then every minute); returns what stops the wait. For the transaction pool,
 * whose client ends itself (txpool/client.ts expire()). */
export function whenTokenExpires(expiresAtMs: number, setting: () => SessionExpiry, then: () => void): () => void {
  let timer: NodeJS.Timeout | undefined;
  const wait = (ms: number): void => {
    timer = setTimeout(check, Math.min(Math.max(0, ms), MAX_TIMER_MS));
    timer.unref();
  };
  const check = (): void => {
    if (Date.now() < expiresAtMs) return wait(expiresAtMs - Date.now());
    if (setting() !== 'token') return wait(RECHECK_MS);
    then();
  };
  wait(expiresAtMs - Date.now());
  return () => clearTimeout(timer);
}

/** Watches one session; returns what stops the watch (the session ended on its own). */
export function watchTokenExpiry(w: ExpiryWatch): () => void {
  let timer: NodeJS.Timeout | undefined;
  let ended = false;
  const wait = (ms: number, then: () => void): void => {
    timer = setTimeout(then, Math.min(Math.max(0, ms), MAX_TIMER_MS));
    timer.unref();
  };
  const stop = (): void => {
    ended = true;
    if (timer) clearTimeout(timer);
    w.tracker.onIdle = undefined;
  };

  const end = (how: 'idle' | 'grace'): void => {
    if (ended) return;
    stop();
    w.log.info(
      { event: 'session-expired', role: w.role, ended: how === 'idle' ? 'between queries' : 'after the grace period' },
      'token expired: session ended',
    );
    // The FATAL goes only between two of the server's messages; in the middle of one it
    // would be read as part of it, and the client just sees the connection close.
    if (how === 'idle' || w.tracker.betweenServerMessages) {
      w.client.end(tokenExpiredMessage());
    } else {
      w.client.destroy();
    }
    // A query still running is cancelled: PostgreSQL would notice its client gone only
    // when it next writes. Terminate follows, read once the query has stopped.
    if (how === 'grace') w.cancel();
    if (!w.server.destroyed) w.server.end(terminate());
    setTimeout(() => {
      w.client.destroy();
      w.server.destroy();
    }, 5_000).unref();
  };

  const expired = (): void => {
    if (ended) return;
    if (Date.now() < w.expiresAtMs) return wait(w.expiresAtMs - Date.now(), expired);
    if (w.setting() !== 'token') return wait(RECHECK_MS, expired);
    if (w.tracker.idle) return end('idle');
    // After the ReadyForQuery has gone on to the client (the pump writes the chunk after
    // the tracker has seen it): hence the microtask.
    w.tracker.onIdle = () => queueMicrotask(() => w.tracker.idle && end('idle'));
    wait(w.graceMs, () => end('grace'));
  };
  wait(w.expiresAtMs - Date.now(), expired);
  return stop;
}

/**
 * Watches a session signed in with a token that expires at `expiresAtMs`: its messages
 * are followed by the reuse's tracker when there is one, else by a tracker of its own
 * (returned, for the pump to feed; `early`, the bytes the client sent ahead of its
 * sign-in's end, are followed first).
 */
export function watchSession(
  ctx: GatewayContext,
  session: { role: string; client: Socket; backend: PooledSession; expiresAtMs: number },
  reuseTracker: SessionTracker | undefined,
  early: Buffer,
): { tracker: SessionTracker | undefined; stop: () => void } {
  const { backend } = session;
  const tracker = reuseTracker ?? new SessionTracker(backend.parameters);
  if (!reuseTracker && early.length > 0) tracker.fromClient(early);
  const key = backend.key;
  const stop = watchTokenExpiry({
    expiresAtMs: session.expiresAtMs,
    client: session.client,
    server: backend.socket,
    tracker,
    setting: ctx.sessionExpiry,
    graceMs: ctx.sessionExpiryGraceMs,
    cancel: () => key && sendCancel(key),
    role: session.role,
    log: ctx.log,
  });
  return { tracker: reuseTracker ? undefined : tracker, stop };
}
