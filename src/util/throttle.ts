// Throttling of failed sign-ins, per client address and role, and per address: after a
// few failures an attempt is refused outright (never delayed) for a time that doubles
// with each further failure, up to a cap. A success clears its role/address entry.
// Memory is bounded: entries are forgotten after a quiet period, and the oldest go
// first when the table is full. Unknown roles count like known ones, so the throttle
// tells nobody which roles exist.

export const ROLE_FREE_FAILURES = 3;
export const ROLE_BASE_BLOCK_MS = 1_000;
export const ROLE_MAX_BLOCK_MS = 60_000;
export const ADDRESS_FREE_FAILURES = 30;
export const ADDRESS_BASE_BLOCK_MS = 1_000;
export const ADDRESS_MAX_BLOCK_MS = 5 * 60_000;
/** An entry without failures for this long is forgotten. */
export const FORGET_AFTER_MS = 15 * 60_000;
export const MAX_ENTRIES = 100_000;

interface Entry {
  failures: number;
  blockedUntil: number;
  lastFailure: number;
}

/** Failures allowed before blocking (tests that exercise many refusals raise them). */
export interface ThrottlePolicy {
  roleFreeFailures: number;
  addressFreeFailures: number;
}

export interface ThrottleVerdict {
  blocked: boolean;
  retryAfterMs: number;
}

export class SignInThrottle {
  private readonly entries = new Map<string, Entry>();

  private readonly policy: ThrottlePolicy;

  constructor(private readonly now: () => number = Date.now, policy: Partial<ThrottlePolicy> = {}) {
    this.policy = { roleFreeFailures: ROLE_FREE_FAILURES, addressFreeFailures: ADDRESS_FREE_FAILURES, ...policy };
  }

  private static keys(address: string, role: string): [string, string] {
    return [`a\0${address}`, `r\0${address}\0${role}`];
  }

  check(address: string, role: string): ThrottleVerdict {
    const now = this.now();
    let until = 0;
    for (const key of SignInThrottle.keys(address, role)) {
      const e = this.entries.get(key);
      if (!e) continue;
      if (now - e.lastFailure > FORGET_AFTER_MS) this.entries.delete(key);
      else until = Math.max(until, e.blockedUntil);
    }
    return until > now ? { blocked: true, retryAfterMs: until - now } : { blocked: false, retryAfterMs: 0 };
  }

  failure(address: string, role: string): void {
    const now = this.now();
    const [addressKey, roleKey] = SignInThrottle.keys(address, role);
    this.bump(addressKey, now, this.policy.addressFreeFailures, ADDRESS_BASE_BLOCK_MS, ADDRESS_MAX_BLOCK_MS);
    this.bump(roleKey, now, this.policy.roleFreeFailures, ROLE_BASE_BLOCK_MS, ROLE_MAX_BLOCK_MS);
  }

  success(address: string, role: string): void {
    this.entries.delete(SignInThrottle.keys(address, role)[1]);
  }

  /** Entries that block right now (for the metric). */
  blockedCount(): number {
    const now = this.now();
    let n = 0;
    for (const e of this.entries.values()) if (e.blockedUntil > now) n++;
    return n;
  }

  get size(): number {
    return this.entries.size;
  }

  private bump(key: string, now: number, free: number, base: number, max: number): void {
    const e = this.entries.get(key) ?? { failures: 0, blockedUntil: 0, lastFailure: now };
    if (now - e.lastFailure > FORGET_AFTER_MS) e.failures = 0;
    e.failures++;
    e.lastFailure = now;
    if (e.failures > free) e.blockedUntil = now + Math.min(max, base * 2 ** (e.failures - free - 1));
    // Re-insert: Map order is age order, so the oldest entry is the first to go.
    this.entries.delete(key);
    if (this.entries.size >= MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, e);
  }
}
