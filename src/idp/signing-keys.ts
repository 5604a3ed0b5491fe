// The provider's token-signing keys, in `<data-dir>/idp/keys.json` (0600), and the key
// that seals refresh tokens.
//
// Rotation is the one Entra ID practises: a key is published before it signs, and stays
// published after it stops signing until every token it signed has expired.
//   next     published in the key set, not yet signing;
//   active   signing (exactly one);
//   retired  published until retiredAt + the longest token lifetime (+ clock skew grace).
// rotateKeys(): active -> retired, next -> active, a new next. A verifier that fetched the
// key set after the previous rotation already holds the new signing key, so new tokens
// work at once and old ones keep working until they expire, without a restart.
// https://learn.microsoft.com/entra/identity-platform/signing-key-rollover
//
// Like Entra's v1 keys, each key comes with a self-signed certificate; `kid` and `x5t`
// are both the certificate's base64url SHA-1 thumbprint (RFC 7517 section 4.8).
import 'reflect-metadata'; // @peculiar/x509's dependency injection needs it loaded first
import * as x509 from '@peculiar/x509';
import { createHash, createPrivateKey, randomBytes, webcrypto, type KeyObject } from 'node:crypto';
import { writeSecretFile } from '../util/files.js';
import { PgwardenError } from '../util/errors.js';
import { withFileLock } from './file-lock.js';
import { WatchedJsonFile } from './watched-file.js';

x509.cryptoProvider.set(globalThis.crypto);

const RSA = { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' } as const;
const CERTIFICATE_YEARS = 5;
/** A retired key stays published this much longer than its last token could live, for
 * verifiers that tolerate clock skew (the gateway allows up to 5 minutes). */
export const RETIRED_KEY_GRACE_SECONDS = 300;
/** Keys retired longer ago than the longest lifetime the provider can ever issue (90
 * minutes) plus the grace are dropped from the file at the next rotation. */
const PRUNE_AFTER_SECONDS = 90 * 60 + RETIRED_KEY_GRACE_SECONDS;
const KEYS_FILE_VERSION = 1;

export type KeyState = 'next' | 'active' | 'retired';

interface StoredKey {
  readonly kid: string;
  readonly state: KeyState;
  readonly createdAt: string;
  readonly activatedAt?: string;
  readonly retiredAt?: string;
  /** PKCS#8 PEM. */
  readonly privateKey: string;
  /** The self-signed certificate, base64 DER (the `x5c` entry). */
  readonly certificate: string;
  /** RSA modulus and exponent, base64url (JWK `n`, `e`). */
  readonly n: string;
  readonly e: string;
}

interface KeysFile {
  readonly version: number;
  /** 32 random bytes, base64url: the key that seals refresh tokens (never rotated, so
   * that a key rotation does not sign everybody out). */
  readonly refreshTokenKey: string;
  readonly keys: readonly StoredKey[];
}

/** A published key, as in Entra's key sets. */
export interface PublicJwk {
  readonly kty: 'RSA';
  readonly use: 'sig';
  readonly kid: string;
  readonly x5t: string;
  readonly n: string;
  readonly e: string;
  readonly x5c: readonly string[];
}

export interface Signer {
  readonly kid: string;
  readonly key: KeyObject;
}

export interface RotationResult {
  readonly active: string;
  readonly next: string;
  readonly retired: string;
}

export class SigningKeys {
  private readonly file: WatchedJsonFile<KeysFile>;
  private readonly privateKeys = new Map<string, KeyObject>();

  constructor(
    readonly path: string,
    private readonly now: () => number = Date.now,
  ) {
    this.file = new WatchedJsonFile(path, parseKeys);
  }

  /** Creates the file (an active and a next key) if it does not exist yet. */
  async ensure(): Promise<void> {
    if (await this.file.read()) return;
    await this.update(async (current) => {
      if (current) return current;
      const stamp = this.timestamp();
      return {
        version: KEYS_FILE_VERSION,
        refreshTokenKey: randomBytes(32).toString('base64url'),
        keys: [
          { ...(await newKey(this.now)), state: 'active', activatedAt: stamp },
          { ...(await newKey(this.now)), state: 'next' },
        ],
      };
    });
  }

  /** The key that signs now. */
  async signer(): Promise<Signer> {
    const active = (await this.read()).keys.find((k) => k.state === 'active');
    if (!active) throw new PgwardenError('INTERNAL', `${this.path} has no active signing key`);
    let key = this.privateKeys.get(active.kid);
    if (!key) {
      key = createPrivateKey(active.privateKey);
      this.privateKeys.set(active.kid, key);
    }
    return { kid: active.kid, key };
  }

  /** The published key set: active, next, and retired keys whose tokens may still be alive. */
  async publicKeys(maxTokenLifetimeSeconds: number): Promise<PublicJwk[]> {
    const order: Record<KeyState, number> = { active: 0, next: 1, retired: 2 };
    const nowMs = this.now();
    return (await this.read()).keys
      .filter((k) => k.state !== 'retired' || Date.parse(k.retiredAt!) + (maxTokenLifetimeSeconds + RETIRED_KEY_GRACE_SECONDS) * 1000 > nowMs)
      .sort((a, b) => order[a.state] - order[b.state])
      .map((k) => ({ kty: 'RSA', use: 'sig', kid: k.kid, x5t: k.kid, n: k.n, e: k.e, x5c: [k.certificate] }));
  }

  async refreshTokenKey(): Promise<Uint8Array> {
    return Buffer.from((await this.read()).refreshTokenKey, 'base64url');
  }

  /** active -> retired, next -> active, a new next; drops keys retired long ago. */
  async rotate(): Promise<RotationResult> {
    const fresh = await newKey(this.now); // outside the lock: RSA key generation is slow
    let result: RotationResult | undefined;
    await this.update(async (current) => {
      if (!current) throw new PgwardenError('CONFIG_INVALID', `there are no signing keys at ${this.path} yet`);
      const stamp = this.timestamp();
      const oldActive = current.keys.find((k) => k.state === 'active');
      const next = current.keys.find((k) => k.state === 'next');
      if (!oldActive || !next) throw new PgwardenError('INTERNAL', `${this.path} lacks an active or a next key`);
      const keep = current.keys.filter((k) => k.state === 'retired' && Date.parse(k.retiredAt!) + PRUNE_AFTER_SECONDS * 1000 > this.now());
      result = { active: next.kid, next: fresh.kid, retired: oldActive.kid };
      return {
        ...current,
        keys: [{ ...next, state: 'active', activatedAt: stamp }, { ...fresh, state: 'next' }, { ...oldActive, state: 'retired', retiredAt: stamp }, ...keep],
      };
    });
    return result!;
  }

  private async read(): Promise<KeysFile> {
    const keys = await this.file.read();
    if (!keys) throw new PgwardenError('CONFIG_INVALID', `there are no signing keys at ${this.path}: run 'pgwarden up' or 'pgwarden idp init' first`);
    return keys;
  }

  private timestamp(): string {
    return new Date(this.now()).toISOString();
  }

  private update(change: (current: KeysFile | undefined) => Promise<KeysFile>): Promise<void> {
    return withFileLock(this.path, async () => {
      this.file.invalidate();
      const current = await this.file.read();
      const updated = await change(current);
      if (updated !== current) await writeSecretFile(this.path, `${JSON.stringify(updated, null, 2)}\n`);
      this.file.invalidate();
    });
  }
}

function parseKeys(raw: unknown): KeysFile {
  const k = raw as Partial<KeysFile> | null;
  if (!k || k.version !== KEYS_FILE_VERSION || !Array.isArray(k.keys) || typeof k.refreshTokenKey !== 'string') {
    throw new PgwardenError('CONFIG_INVALID', 'the identity provider keys file is damaged or of another version');
  }
  return k as KeysFile;
}

/** A fresh RSA-2048 key with its self-signed certificate. */
async function newKey(now: () => number): Promise<Omit<StoredKey, 'state'>> {
  const keys = (await webcrypto.subtle.generateKey(RSA, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const start = now();
  const serial = randomBytes(16);
  serial[0] = serial[0]! & 0x7f;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial.toString('hex'),
    name: 'CN=pgwarden identity provider token signing',
    notBefore: new Date(start - 86_400_000),
    notAfter: new Date(start + CERTIFICATE_YEARS * 365 * 86_400_000),
    keys,
    signingAlgorithm: RSA,
    extensions: [new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true)],
  });
  const der = Buffer.from(cert.rawData);
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)).toString('base64');
  const jwk = await webcrypto.subtle.exportKey('jwk', keys.publicKey);
  return {
    kid: createHash('sha1').update(der).digest('base64url'),
    createdAt: new Date(start).toISOString(),
    privateKey: `-----BEGIN PRIVATE KEY-----\n${pkcs8.replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n')}-----END PRIVATE KEY-----\n`,
    certificate: der.toString('base64'),
    n: jwk.n!,
    e: jwk.e!,
  };
}
