// Each Entra principal's PostgreSQL role has a password that no person knows: an HMAC of
// the role and its object id under the gateway's secret. The gateway signs in to
// PostgreSQL with it after it has verified the person's token. Binding the object id in
// means that a role re-created for another Entra object gets another password.
import { createHmac } from 'node:crypto';
import { clientKeyFrom, saltedPassword, serverKeyFrom } from '../scram/primitives.js';
import type { ServerFirst } from '../scram/messages.js';

export function derivedPassword(gatewaySecret: Buffer, roleName: string, objectId: string): string {
  return createHmac('sha256', gatewaySecret).update(`pgwarden entra role\0${roleName}\0${objectId.toLowerCase()}`).digest('base64url');
}

/** Bounds memory; one entry per Entra role that signed in recently. */
const MAX_CACHED = 10_000;

/**
 * SCRAM keys of derived passwords, cached per role, object id, salt and iteration count,
 * so that a sign-in costs a few HMACs instead of 4,096 rounds of PBKDF2.
 */
export class DerivedKeys {
  private readonly cache = new Map<string, { clientKey: Buffer; serverKey: Buffer }>();

  constructor(private readonly gatewaySecret: Buffer) {}

  keysFor(roleName: string, objectId: string): (s: ServerFirst) => { clientKey: Buffer; serverKey: Buffer } {
    return (s) => {
      const key = `${roleName}\0${objectId}\0${s.iterations}\0${s.salt.toString('base64')}`;
      let keys = this.cache.get(key);
      if (!keys) {
        const salted = saltedPassword(derivedPassword(this.gatewaySecret, roleName, objectId), s.salt, s.iterations);
        keys = { clientKey: clientKeyFrom(salted), serverKey: serverKeyFrom(salted) };
        if (this.cache.size >= MAX_CACHED) this.cache.clear();
        this.cache.set(key, keys);
      }
      return keys;
    };
  }
}
