// Throttling of failed sign-ins, used by the gateway, the API (citus's HTTP Basic) and
// the embedded identity provider. Two layers, so that a client with the right
// credentials is never refused because of other roles' failures (docs/security.md):
//
// - per client address and role: after a few failures, attempts for that role from that
//   address are refused before their credentials are checked, for a time that doubles
//   with each further failure, up to a cap. Only this pair is refused: other roles of the
//   address, and the role from other addresses, are not. A success clears the pair.
// - per client address: never a refusal. After many failures (any roles), the answer to
//   each further *failure* from the address is held back for a time that doubles, up to
//   a cap, as PostgreSQL's auth_delay does; a success is never held back. The caller
//   checks the credentials first and asks for the delay only when they were wrong.
//
// Memory is bounded: entries are forgotten after a quiet period, the oldest go first
// when the table is full, and role names are kept as fixed-size digests. Unknown roles
// count like known ones, so the throttle tells nobody which roles exist.
import { createHash } from 'node:crypto';

/** Failures of one role from one address before its attempts are refused. */
export const ROLE_FREE_FAILURES = 3;
export const ROLE_BASE_BLOCK_MS = 1_000;
export const ROLE_MAX_BLOCK_MS = 60_000;
/** Failures from one address (any roles) before the answers to its failures are held back. */
export const ADDRESS_FREE_FAILURES = 30;
export const ADDRESS_BASE_DELAY_MS = 100;
/** Small on purpose: a held answer keeps a connection (and a --max-pending-auth slot). */
export const ADDRESS_MAX_DELAY_MS = 1_000;
/** An entry without failures for this long is forgotten. */
export const FORGET_AFTER_MS = 15 * 60_000;
export const MAX_ENTRIES = 100_000;
/** Entries forgotten at once when the table is full: one address can now fail with any
 * number of roles, and evicting one at a time from a Map's front costs more and more. */
const EVICT_BATCH = 1_000;

interface Entry {
  failures: number;
  /** Role/address entries: refused until then. Address entries: 0 (never refused). */
  blockedUntil: number;
  lastFailure: number;
}

/** Failures allowed before blocking a role/address pair and before delaying an
 * address's failures (tests that exercise many refusals raise them). */
export interface ThrottlePolicy {
  roleFreeFailures: number;
  addressFreeFailures: number;
}

export interface ThrottleVerdict {
  blocked: boolean;
  retryAfterMs: number;
}

/** "1 second", "5 seconds": how long a refused client should wait, rounded up. */
export function retryAfterText(ms: number): string {
  const seconds = Math.max(1, Math.ceil(ms / 1000));
  return seconds === 1 ? '1 second' : `${seconds} seconds`;
}

/** `min(max, base * 2^(n-1))` for the n-th failure beyond the free ones, else 0. */
function backoff(failures: number, free: number, base: number, max: number): number {
  const beyond = failures - free;
  return beyond > 0 ? Math.min(max, base * 2 ** Math.min(beyond - 1, 30)) : 0;
}

export class SignInThrottle {
  private readonly entries = new Map<string, Entry>();

  private policy: ThrottlePolicy;

  constructor(
    private readonly now: () => number = Date.now,
    policy: Partial<ThrottlePolicy> = {},
  ) {
    this.policy = { roleFreeFailures: ROLE_FREE_FAILURES, addressFreeFailures: ADDRESS_FREE_FAILURES, ...policy };
  }

  /** New thresholds (a reload); failures already counted stay counted. */
  setPolicy(policy: Partial<ThrottlePolicy>): void {
    this.policy = { ...this.policy, ...policy };
  }

  private static addressKey(address: string): string {
    return `a\0${address}`;
  }

  /** A role name can be as long as a startup packet allows: kept as a digest. */
  private static roleKey(address: string, role: string): string {
    return `r\0${address}\0${createHash('sha256').update(role, 'utf8').digest('base64url')}`;
  }

  /**
   * Before the credentials are checked: whether this role may try from this address.
   * Only the role's own failures from the address can refuse it.
   */
  check(address: string, role: string): ThrottleVerdict {
    const now = this.now();
    const key = SignInThrottle.roleKey(address, role);
    const e = this.entries.get(key);
    if (!e) return { blocked: false, retryAfterMs: 0 };
    if (now - e.lastFailure > FORGET_AFTER_MS) {
      this.entries.delete(key);
      return { blocked: false, retryAfterMs: 0 };
    }
    return e.blockedUntil > now ? { blocked: true, retryAfterMs: e.blockedUntil - now } : { blocked: false, retryAfterMs: 0 };
  }

  /**
   * After credentials were checked and found wrong: counts the failure for the role and
   * the address. Returns how long to hold back the answer to this failure (0 until the
   * address has failed often).
   */
  failure(address: string, role: string): number {
    const now = this.now();
    const { roleFreeFailures, addressFreeFailures } = this.policy;
    const pair = this.bump(SignInThrottle.roleKey(address, role), now);
    if (pair.failures > roleFreeFailures) pair.blockedUntil = now + backoff(pair.failures, roleFreeFailures, ROLE_BASE_BLOCK_MS, ROLE_MAX_BLOCK_MS);
    const fromAddress = this.bump(SignInThrottle.addressKey(address), now);
    return backoff(fromAddress.failures, addressFreeFailures, ADDRESS_BASE_DELAY_MS, ADDRESS_MAX_DELAY_MS);
  }

  /** After credentials were checked and found right: the pair starts again. The
   * address's count stays (one good account must not wash a spray's failures away). */
  success(address: string, role: string): void {
    this.entries.delete(SignInThrottle.roleKey(address, role));
  }

  /** Role/address pairs refused right now (for the metric). */
  blockedCount(): number {
    const now = this.now();
    let n = 0;
    for (const e of this.entries.values()) if (e.blockedUntil > now) n++;
    return n;
  }

  get size(): number {
    return this.entries.size;
  }

  private bump(key: string, now: number): Entry {
    const e = this.entries.get(key) ?? { failures: 0, blockedUntil: 0, lastFailure: now };
    if (now - e.lastFailure > FORGET_AFTER_MS) e.failures = 0;
    e.failures++;
    e.lastFailure = now;
    // Re-insert: Map order is age order, so the oldest entry is the first to go.
    this.entries.delete(key);
    if (this.entries.size >= MAX_ENTRIES) this.evictOldest(now);
    this.entries.set(key, e);
    return e;
  }

  /** Forgets the oldest entries that block nothing now, so that filling the table (one
   * address failing with many role names) cannot wash away the blocks it earned; only a
   * table of blocking entries alone loses its oldest blocks, to stay bounded. */
  private evictOldest(now: number): void {
    let n = EVICT_BATCH;
    for (const [key, e] of this.entries) {
      if (e.blockedUntil > now) continue;
      this.entries.delete(key);
      if (--n === 0) return;
    }
    for (const key of this.entries.keys()) {
      this.entries.delete(key);
      if (--n === 0) return;
    }
  }
}
