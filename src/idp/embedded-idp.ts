// The embedded identity provider: an Entra ID-compatible tenant served over HTTPS, for
// local use and tests. `pgwarden up` opens it on the data directory, seeds it on the
// first start, and points the gateway at its authority and tenant; CLI commands change
// its directory and keys through the files, which the running server re-reads.
//
//   const idp = await EmbeddedIdp.open({ dataDir, tls, log });
//   const admin = await idp.seedIfEmpty();   // first start only: { username, password, ... }
//   await idp.listen({ host: '127.0.0.1', port: 0 });
//   idp.authority; idp.tenantId; idp.issuers
//   await idp.close();
import { SignInThrottle } from '../util/throttle.js';
import { mkdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { TlsMaterial } from '../tls/certificates.js';
import { PgwardenError } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { AuthorizationCodes } from './authorization-codes.js';
import { DEFAULT_GROUPS_CLAIM_LIMIT } from './claims.js';
import type { ProviderContext } from './context.js';
import { prepareUnknownUserCheck } from './credentials.js';
import { DeviceCodes, DEFAULT_POLL_INTERVAL_SECONDS } from './device-codes.js';
import { Directory } from './directory.js';
import { removeEndpoint, writeEndpoint } from './endpoint-file.js';
import { FormGuard } from './form-guard.js';
import { issuersFor, type Issuers } from './issuers.js';
import type { Tenant } from './model.js';
import { GRAPH_BASE_PATH, idpPaths } from './paths.js';
import { seedIfEmpty, type SeededAdmin } from './seed.js';
import { buildServer } from './server.js';
import { SigningKeys, type RotationResult } from './signing-keys.js';
import { checkGroupsClaimLimit, checkLifetime, DEFAULT_TOKEN_LIFETIME_MINUTES, TokenIssuer, type LifetimeMinutes } from './token-issuer.js';

export type { SeededAdmin };

export interface EmbeddedIdpOptions {
  readonly dataDir: string;
  /** The HTTPS certificate; it must be valid for `localhost` (ensureLocalTls's is). */
  readonly tls: TlsMaterial;
  readonly log: Logger;
  /** Access token lifetime, random within [min, max] minutes; 5 <= min <= max <= 90.
   * Default 60 to 90, as Entra ID. */
  readonly tokenLifetimeMinutes?: LifetimeMinutes;
  /** Device flow poll interval in seconds (default 5, as Entra ID). */
  readonly deviceCodeIntervalSeconds?: number;
  /** At most this many groups in a token's `groups` claim; a subject in more gets the
   * groups overage (`_claim_names`/`_claim_sources`, see claims.ts). Default 200, as
   * Entra ID for JWTs; tests lower it. */
  readonly groupsClaimLimit?: number;
  /** The clock, in milliseconds since the epoch (tests move it). */
  readonly now?: () => number;
}

export class EmbeddedIdp {
  readonly directory: Directory;
  readonly keys: SigningKeys;
  private tenant: Tenant | undefined;
  private server: FastifyInstance | undefined;
  private listening: { authority: string; address: AddressInfo } | undefined;

  private constructor(
    private readonly options: EmbeddedIdpOptions,
    private readonly lifetime: LifetimeMinutes,
    private readonly groupsClaimLimit: number,
    private readonly now: () => number,
  ) {
    const paths = idpPaths(options.dataDir);
    this.directory = new Directory(paths.directory, now);
    this.keys = new SigningKeys(paths.keys, now);
  }

  /** Opens the provider on `<dataDir>/idp/`, making its signing keys on the first open. */
  static async open(options: EmbeddedIdpOptions): Promise<EmbeddedIdp> {
    const lifetime = checkLifetime(options.tokenLifetimeMinutes ?? DEFAULT_TOKEN_LIFETIME_MINUTES);
    const groupsClaimLimit = checkGroupsClaimLimit(options.groupsClaimLimit ?? DEFAULT_GROUPS_CLAIM_LIMIT);
    const idp = new EmbeddedIdp(options, lifetime, groupsClaimLimit, options.now ?? Date.now);
    await mkdir(idpPaths(options.dataDir).dir, { recursive: true, mode: 0o700 });
    await Promise.all([idp.keys.ensure(), prepareUnknownUserCheck()]);
    idp.tenant = (await idp.directory.snapshot())?.tenant;
    return idp;
  }

  /**
   * On a brand-new directory: creates the tenant (a random id, domain
   * `pgwarden<6 hex>.onmicrosoft.com`) and one user, `admin@<domain>`, with a random
   * password, and returns them (the password is not kept anywhere in clear). Undefined
   * when the directory existed.
   */
  async seedIfEmpty(): Promise<SeededAdmin | undefined> {
    const admin = await seedIfEmpty(this.directory, this.keys);
    this.tenant = (await this.directory.snapshot())?.tenant;
    if (admin) this.options.log.info({ event: 'seed', tenant: admin.tenantId, oid: admin.objectId }, 'identity provider tenant created');
    return admin;
  }

  /** Serves HTTPS on host:port (0: any free port) and writes idp/endpoint.json. The
   * directory must exist (seedIfEmpty). */
  async listen(at: { host: string; port: number }): Promise<AddressInfo> {
    if (this.server) throw new PgwardenError('INTERNAL', 'the identity provider is listening already');
    const tenant = this.requireTenant();
    const ctx: ProviderContext = {
      directory: this.directory,
      keys: this.keys,
      issuer: new TokenIssuer(this.keys, this.lifetime, this.now, { limit: this.groupsClaimLimit, graphBase: () => `${this.authority}${GRAPH_BASE_PATH}` }),
      deviceCodes: new DeviceCodes(this.now, this.options.deviceCodeIntervalSeconds ?? DEFAULT_POLL_INTERVAL_SECONDS),
      authorizationCodes: new AuthorizationCodes(this.now),
      forms: new FormGuard(this.now),
      passwords: new SignInThrottle(this.now),
      now: this.now,
      log: this.options.log,
      authority: () => this.authority,
    };
    const server = await buildServer(ctx, this.options.tls);
    try {
      await server.listen({ host: at.host, port: at.port });
    } catch (e) {
      await server.close().catch(() => undefined);
      if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE') {
        throw new PgwardenError('PORT_IN_USE', `the identity provider cannot listen on ${at.host}:${at.port}: the port is in use`, { cause: e });
      }
      throw e;
    }
    this.server = server;
    const address = server.server.address() as AddressInfo;
    // Always `localhost`: the name the local CA's certificate carries, whatever the address.
    this.listening = { authority: `https://localhost:${address.port}`, address };
    await writeEndpoint(this.options.dataDir, { authority: this.authority, tenantId: tenant.id, tenantDomain: tenant.domain });
    this.options.log.info({ event: 'listen', authority: this.authority, tenant: tenant.id }, 'identity provider listening');
    return address;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await server.close();
    if (this.listening) await removeEndpoint(this.options.dataDir, this.listening.authority);
  }

  /** `https://localhost:PORT`, once listening. */
  get authority(): string {
    if (!this.listening) throw new PgwardenError('INTERNAL', 'the identity provider is not listening');
    return this.listening.authority;
  }

  get address(): AddressInfo {
    if (!this.listening) throw new PgwardenError('INTERNAL', 'the identity provider is not listening');
    return this.listening.address;
  }

  get tenantId(): string {
    return this.requireTenant().id;
  }

  get tenantDomain(): string {
    return this.requireTenant().domain;
  }

  /** The exact `iss` of v1 and v2 tokens: `{authority}/{tid}/` and `{authority}/{tid}/v2.0`. */
  get issuers(): Issuers {
    return issuersFor(this.authority, this.tenantId);
  }

  /** The CA that clients must trust for the authority (PEM), when the TLS is the local CA's. */
  get caPem(): string | undefined {
    return this.options.tls.caPem;
  }

  /** active -> retired, next -> active, a new next (see signing-keys.ts). */
  rotateKeys(): Promise<RotationResult> {
    return this.keys.rotate();
  }

  private requireTenant(): Tenant {
    if (!this.tenant) throw new PgwardenError('CONFIG_INVALID', 'the identity provider has no tenant yet: call seedIfEmpty() first');
    return this.tenant;
  }
}
