// Protection of the provider's sign-in forms (/devicelogin, the authorize page):
//  - against cross-site request forgery, a double-submit token: the page sets a random
//    `__Host-` cookie (Secure, HttpOnly, SameSite=Strict) and puts an HMAC of it, with an
//    expiry, in a hidden field; a POST must carry both, and they must match;
//  - against tampering, the authorization request (client, redirect URI, PKCE challenge)
//    travels in a hidden field sealed with an HMAC, so the POST cannot change it.
// The key lives in memory: a restart only invalidates forms that are open at that moment.
// https://cheatsheetseries.owasp.org/cheatsheets/Cross-Site_Request_Forgery_Prevention_Cheat_Sheet.html
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const FORM_COOKIE = '__Host-pgwarden-form';
/** A sign-in form may stay open this long (the device code itself lasts 15 minutes). */
export const FORM_LIFETIME_SECONDS = 20 * 60;

export class FormGuard {
  private readonly key = randomBytes(32);

  constructor(private readonly now: () => number) {}

  /** A cookie value for a browser that has none (or a malformed one). */
  cookieFor(existing: string | undefined): string {
    return existing && /^[A-Za-z0-9_-]{22}$/.test(existing) ? existing : randomBytes(16).toString('base64url');
  }

  /** The hidden-field token bound to `cookie`. */
  token(cookie: string): string {
    const expires = Math.floor(this.now() / 1000) + FORM_LIFETIME_SECONDS;
    return `${expires}.${this.mac(`csrf\0${cookie}\0${expires}`)}`;
  }

  check(token: string | undefined, cookie: string | undefined): boolean {
    if (!token || !cookie) return false;
    const [expires, mac] = token.split('.');
    if (!expires || !mac || Number(expires) * 1000 <= this.now()) return false;
    return equal(mac, this.mac(`csrf\0${cookie}\0${expires}`));
  }

  seal(value: unknown): string {
    const body = Buffer.from(JSON.stringify(value)).toString('base64url');
    return `${body}.${this.mac(`seal\0${body}`)}`;
  }

  open<T>(sealed: string | undefined): T | undefined {
    const [body, mac] = (sealed ?? '').split('.');
    if (!body || !mac || !equal(mac, this.mac(`seal\0${body}`))) return undefined;
    return JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as T;
  }

  private mac(text: string): string {
    return createHmac('sha256', this.key).update(text).digest('base64url');
  }
}

function equal(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** A cookie from a Cookie header. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export function formCookieHeader(value: string): string {
  return `${FORM_COOKIE}=${value}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=${FORM_LIFETIME_SECONDS}`;
}
