// A reload of a running pgwarden (SIGHUP, `pgwarden reload`): what can change without a
// restart, checked whole first and then applied at once, so that a bad setting changes
// nothing. The certificate is served to new connections at once; signed-in sessions keep
// the one they were served.
import type { Server as HttpsServer } from 'node:https';
import type { FastifyInstance } from 'fastify';
import type { Gateway } from './gateway/server.js';
import type { OidcVerifier } from './identity/oidc-verifier.js';
import type { TokenVerifier } from './identity/verify-token.js';
import { MAX_CLOCK_SKEW_SECONDS, type EntraConfig } from './identity/config.js';
import { loadOperatorTls, type TlsMaterial } from './tls/certificates.js';
import { PgwardenError } from './util/errors.js';
import type { Logger } from './util/log.js';
import { LOG_LEVELS } from './util/defaults.js';
import type { SignInThrottle, ThrottlePolicy } from './util/throttle.js';

/** What a reload may change; what is left out stays as it runs. */
export interface ReloadSettings {
  /** The operator's certificate and key files, read again. */
  tls?: { cert: string; key: string };
  logLevel?: string;
  authTimeoutMs?: number;
  maxPendingAuth?: number;
  maxConnections?: number;
  throttle?: Partial<ThrottlePolicy>;
  /** Which tokens are accepted: audiences, skew, authority (hence issuers). */
  entra?: Partial<Pick<EntraConfig, 'audiences' | 'clockSkewSeconds' | 'authority'>>;
}

export interface ReloadOutcome {
  /** The certificate served to new connections now differs from the one before. */
  readonly certificateChanged: boolean;
}

/** The parts of a running pgwarden that a reload reaches. */
export interface Reloadable {
  readonly gateway: Gateway;
  readonly api: FastifyInstance;
  readonly apiThrottle: SignInThrottle;
  readonly verifier: TokenVerifier | undefined;
  /** Other OpenID Connect issuers' tokens (docs/oidc.md): the clock skew reaches them too. */
  readonly oidc?: OidcVerifier | undefined;
  readonly log: Logger;
  /** The certificate served now (replaced by a reload). */
  tls: TlsMaterial;
}

/** Checks everything, then applies everything; a PgwardenError (nothing changed) otherwise. */
export async function reload(parts: Reloadable, settings: ReloadSettings): Promise<ReloadOutcome> {
  // 1. Check: whatever can fail, fails here.
  const tls = settings.tls ? await loadOperatorTls(settings.tls.cert, settings.tls.key) : undefined;
  if (settings.logLevel !== undefined && !(LOG_LEVELS as readonly string[]).includes(settings.logLevel)) {
    throw new PgwardenError('CONFIG_INVALID', `unknown log level ${JSON.stringify(settings.logLevel)}`);
  }
  const skew = settings.entra?.clockSkewSeconds;
  if (skew !== undefined && !(skew >= 0 && skew <= MAX_CLOCK_SKEW_SECONDS)) {
    throw new PgwardenError('CONFIG_INVALID', `the clock skew must be between 0 and ${MAX_CLOCK_SKEW_SECONDS} seconds`);
  }
  if (settings.entra && !parts.verifier) throw new PgwardenError('CONFIG_INVALID', 'no identity provider runs: there are no accepted tokens to change');
  if (settings.entra?.authority !== undefined) {
    try {
      new URL(settings.entra.authority);
    } catch {
      throw new PgwardenError('CONFIG_INVALID', `the authority ${settings.entra.authority} is not a URL`);
    }
  }
  // 2. Apply.
  const certificateChanged = tls !== undefined && tls.certPem !== parts.tls.certPem;
  if (tls) {
    (parts.api.server as HttpsServer).setSecureContext({ cert: tls.certPem, key: tls.keyPem, minVersion: 'TLSv1.2' });
    parts.tls = { ...parts.tls, certPem: tls.certPem, keyPem: tls.keyPem };
  }
  parts.gateway.reconfigure({
    ...(tls ? { tls } : {}),
    ...(settings.authTimeoutMs !== undefined ? { authTimeoutMs: settings.authTimeoutMs } : {}),
    ...(settings.maxPendingAuth !== undefined ? { maxPendingAuth: settings.maxPendingAuth } : {}),
    ...(settings.maxConnections !== undefined ? { maxConnections: settings.maxConnections } : {}),
    ...(settings.throttle ? { throttle: settings.throttle } : {}),
  });
  if (settings.throttle) parts.apiThrottle.setPolicy(settings.throttle);
  if (settings.entra) parts.verifier!.reconfigure(settings.entra);
  if (skew !== undefined) parts.oidc?.setClockSkew(skew);
  if (settings.logLevel !== undefined) parts.log.level = settings.logLevel;
  parts.log.info({ event: 'reloaded', certificateChanged }, 'settings reloaded');
  return { certificateChanged };
}
