// Browser sessions for the portal: an opaque random id in an HttpOnly, Secure,
// SameSite=Strict cookie, and a per-session CSRF token that every state-changing request
// must echo in the X-CSRF-Token header. Sessions live in memory (a restart signs
// everybody out), expire after a while idle and after a maximum age, and are bounded in
// number.
import { randomBytes } from 'node:crypto';
import { constantTimeEqual } from '../scram/primitives.js';
import type { Caller } from './authn.js';

export const SESSION_COOKIE = 'pgwarden_session';
export const CSRF_HEADER = 'x-csrf-token';
export const SESSION_IDLE_MS = 30 * 60_000;
export const SESSION_MAX_AGE_MS = 8 * 60 * 60_000;
const MAX_SESSIONS = 10_000;

export interface PortalSession {
  readonly id: string;
  readonly caller: Caller;
  readonly csrf: string;
  readonly created: number;
  lastSeen: number;
}

export class SessionStore {
  private readonly sessions = new Map<string, PortalSession>();

  create(caller: Caller): PortalSession {
    if (this.sessions.size >= MAX_SESSIONS) this.sweep();
    if (this.sessions.size >= MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value!);
    const now = Date.now();
    // A session never keeps a password.
    const kept: Caller = caller.kind === 'citus' ? { kind: 'citus', name: 'citus' } : caller;
    const s: PortalSession = {
      id: randomBytes(32).toString('base64url'),
      caller: kept,
      csrf: randomBytes(24).toString('base64url'),
      created: now,
      lastSeen: now,
    };
    this.sessions.set(s.id, s);
    return s;
  }

  /** The live session for a cookie value, refreshed; undefined if unknown or expired. */
  get(id: string | undefined): PortalSession | undefined {
    if (!id) return undefined;
    const s = this.sessions.get(id);
    if (!s) return undefined;
    const now = Date.now();
    if (now - s.lastSeen > SESSION_IDLE_MS || now - s.created > SESSION_MAX_AGE_MS) {
      this.sessions.delete(id);
      return undefined;
    }
    s.lastSeen = now;
    return s;
  }

  delete(id: string | undefined): void {
    if (id) this.sessions.delete(id);
  }

  /** Ends every session of a caller (after their password changed or they were removed). */
  deleteWhere(predicate: (s: PortalSession) => boolean): void {
    for (const [id, s] of this.sessions) if (predicate(s)) this.sessions.delete(id);
  }

  static csrfMatches(session: PortalSession, header: string | string[] | undefined): boolean {
    return typeof header === 'string' && constantTimeEqual(Buffer.from(header), Buffer.from(session.csrf));
  }

  private sweep(): void {
    const now = Date.now();
    for (const [id, s] of this.sessions) {
      if (now - s.lastSeen > SESSION_IDLE_MS || now - s.created > SESSION_MAX_AGE_MS) this.sessions.delete(id);
    }
  }
}

/** Set-Cookie options for the session cookie. */
export const SESSION_COOKIE_OPTIONS = {
  path: '/',
  httpOnly: true,
  secure: true,
  sameSite: 'strict' as const,
};
