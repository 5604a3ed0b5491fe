// The device authorization grant (RFC 8628): a device asks for a code, the user enters
// the short user code on /devicelogin and signs in, the device polls the token endpoint.
// Pending authorizations live in memory: they last minutes, and a restart only means
// asking for a new code.
// https://learn.microsoft.com/entra/identity-platform/v2-oauth2-device-code
import { randomBytes, randomInt } from 'node:crypto';
import { refuse } from './oauth-errors.js';
import type { Target } from './resources.js';

/** Entra's device codes expire after 15 minutes; clients poll every 5 seconds. */
export const DEVICE_CODE_LIFETIME_SECONDS = 900;
export const DEFAULT_POLL_INTERVAL_SECONDS = 5;
/** Entra's user codes are 9 upper-case letters and digits. No vowels (no words), no 0/O/1/I. */
const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ23456789';
const USER_CODE_LENGTH = 9;
/** Memory bound: more pending codes than this and the oldest are forgotten. */
const MAX_PENDING = 10_000;

export interface DeviceAuthorization {
  readonly deviceCode: string;
  readonly userCode: string;
  readonly clientId: string;
  readonly target: Target;
  readonly expiresAt: number;
  readonly intervalSeconds: number;
  lastPollAt: number | undefined;
  status: 'pending' | 'approved' | 'redeemed';
  objectId: string | undefined;
}

export class DeviceCodes {
  private readonly byDevice = new Map<string, DeviceAuthorization>();
  private readonly byUser = new Map<string, DeviceAuthorization>();

  constructor(
    private readonly now: () => number,
    readonly intervalSeconds = DEFAULT_POLL_INTERVAL_SECONDS,
  ) {}

  create(clientId: string, target: Target): DeviceAuthorization {
    this.sweep();
    let userCode: string;
    do {
      userCode = Array.from({ length: USER_CODE_LENGTH }, () => USER_CODE_ALPHABET[randomInt(USER_CODE_ALPHABET.length)]).join('');
    } while (this.byUser.has(userCode));
    const auth: DeviceAuthorization = {
      deviceCode: `DAQABAAEAAAD${randomBytes(96).toString('base64url')}`,
      userCode,
      clientId,
      target,
      expiresAt: this.now() + DEVICE_CODE_LIFETIME_SECONDS * 1000,
      intervalSeconds: this.intervalSeconds,
      lastPollAt: undefined,
      status: 'pending',
      objectId: undefined,
    };
    this.byDevice.set(auth.deviceCode, auth);
    this.byUser.set(userCode, auth);
    return auth;
  }

  /** A pending, unexpired authorization by the code the user typed (case, spaces and
   * dashes do not matter). */
  pendingByUserCode(typed: string): DeviceAuthorization | undefined {
    const auth = this.byUser.get(typed.toUpperCase().replace(/[\s-]+/g, ''));
    return auth && auth.status === 'pending' && auth.expiresAt > this.now() ? auth : undefined;
  }

  approve(auth: DeviceAuthorization, objectId: string): void {
    auth.status = 'approved';
    auth.objectId = objectId;
  }

  /** One poll of the token endpoint: the approved grant (once), or the RFC 8628 answer. */
  poll(deviceCode: string, clientId: string): { objectId: string; target: Target } {
    const auth = this.byDevice.get(deviceCode);
    if (!auth || auth.status === 'redeemed') throw refuse.badGrant();
    if (auth.clientId !== clientId) throw refuse.clientMismatch();
    const now = this.now();
    if (auth.expiresAt <= now) throw refuse.deviceCodeExpired();
    if (auth.status === 'approved') {
      auth.status = 'redeemed';
      return { objectId: auth.objectId!, target: auth.target };
    }
    const tooSoon = auth.lastPollAt !== undefined && now - auth.lastPollAt < auth.intervalSeconds * 1000;
    auth.lastPollAt = now;
    throw tooSoon ? refuse.slowDown() : refuse.pending();
  }

  private sweep(): void {
    const now = this.now();
    for (const [code, auth] of this.byDevice) {
      if (auth.expiresAt <= now || this.byDevice.size > MAX_PENDING) {
        this.byDevice.delete(code);
        this.byUser.delete(auth.userCode);
      }
    }
  }
}
