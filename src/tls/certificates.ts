// TLS material for the gateway (and later the embedded identity provider): either the
// operator's certificate and key, or a local CA and a server certificate that pgwarden
// makes on the first start, so that `sslmode=verify-full sslrootcert=<data-dir>/tls/ca.crt`
// works out of the box. Keys are ECDSA P-256: a handshake costs a fraction of RSA's.
import 'reflect-metadata'; // @peculiar/x509's dependency injection needs it loaded first
import * as x509 from '@peculiar/x509';
import { createHash, createPrivateKey, webcrypto, X509Certificate as NodeX509 } from 'node:crypto';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { readOptional, writeSecretFile } from '../util/files.js';
import { PgwardenError } from '../util/errors.js';

x509.cryptoProvider.set(globalThis.crypto);

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;
const CA_LIFETIME_DAYS = 3650;
/** Browsers and some clients refuse leaf certificates valid for more than 398 days. */
const SERVER_LIFETIME_DAYS = 397;
/** A server certificate this close to its end is renewed at start. */
const RENEW_BEFORE_DAYS = 30;

export interface TlsMaterial {
  /** PEM chain: the server certificate first. */
  readonly certPem: string;
  readonly keyPem: string;
  /** The CA that clients should trust (the local CA), when pgwarden made it. */
  readonly caPem?: string;
  readonly caPath?: string;
}

export interface TlsPaths {
  readonly dir: string;
  readonly caCert: string;
  readonly caKey: string;
  readonly serverCert: string;
  readonly serverKey: string;
}

export function tlsPaths(dataDir: string): TlsPaths {
  const dir = join(dataDir, 'tls');
  return {
    dir,
    caCert: join(dir, 'ca.crt'),
    caKey: join(dir, 'ca.key'),
    serverCert: join(dir, 'server.crt'),
    serverKey: join(dir, 'server.key'),
  };
}

/** Loads an operator's certificate and key, checking that they belong together. */
export async function loadOperatorTls(certPath: string, keyPath: string): Promise<TlsMaterial> {
  const [certPem, keyPem] = await Promise.all([readFile(certPath, 'utf8'), readFile(keyPath, 'utf8')]).catch((e: unknown) => {
    throw new PgwardenError('CONFIG_INVALID', `cannot read --tls-cert/--tls-key: ${(e as Error).message}`);
  });
  try {
    const cert = new NodeX509(certPem);
    if (!cert.checkPrivateKey(createPrivateKey(keyPem))) throw new Error('the key does not match the certificate');
  } catch (e) {
    throw new PgwardenError('CONFIG_INVALID', `--tls-cert/--tls-key are not a usable pair: ${(e as Error).message}`);
  }
  return { certPem, keyPem };
}

/**
 * Returns the local CA and a server certificate valid for localhost, 127.0.0.1, ::1
 * and `extraHosts`, making or renewing them when needed. Private keys are 0600.
 */
export async function ensureLocalTls(dataDir: string, extraHosts: readonly string[]): Promise<TlsMaterial> {
  const paths = tlsPaths(dataDir);
  await mkdir(paths.dir, { recursive: true, mode: 0o755 });
  let caPem = await readOptional(paths.caCert);
  let caKeyPem = await readOptional(paths.caKey);
  if (!caPem || !caKeyPem) {
    ({ certPem: caPem, keyPem: caKeyPem } = await makeCa());
    await writeSecretFile(paths.caKey, caKeyPem);
    await writeFile(paths.caCert, caPem, { mode: 0o644 });
  }
  const hosts = [...new Set(['localhost', '127.0.0.1', '::1', ...extraHosts.filter((h) => h && h !== '0.0.0.0' && h !== '::')])];
  let certPem = await readOptional(paths.serverCert);
  let keyPem = await readOptional(paths.serverKey);
  if (!certPem || !keyPem || !serverCertFits(certPem, caPem, hosts)) {
    ({ certPem, keyPem } = await makeServerCert(caPem, caKeyPem, hosts));
    await writeSecretFile(paths.serverKey, keyPem);
    await writeFile(paths.serverCert, certPem, { mode: 0o644 });
  }
  return { certPem, keyPem, caPem, caPath: paths.caCert };
}

function serverCertFits(certPem: string, caPem: string, hosts: readonly string[]): boolean {
  try {
    const cert = new NodeX509(certPem);
    if (!cert.verify(new NodeX509(caPem).publicKey)) return false;
    if (new Date(cert.validTo).getTime() - Date.now() < RENEW_BEFORE_DAYS * DAY_MS) return false;
    return hosts.every((h) => (isIP(h) ? cert.checkIP(h) : cert.checkHost(h)) !== undefined);
  } catch {
    return false;
  }
}

async function exportKeyPem(key: webcrypto.CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  return `-----BEGIN PRIVATE KEY-----\n${der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n')}-----END PRIVATE KEY-----\n`;
}

async function importKeyPem(pem: string): Promise<webcrypto.CryptoKey> {
  const der = Buffer.from(pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, ''), 'base64');
  return await webcrypto.subtle.importKey('pkcs8', der, ALGORITHM, true, ['sign']);
}

function serial(): string {
  // Positive, random, 16 bytes (RFC 5280 section 4.1.2.2 asks for at most 20).
  const b = webcrypto.getRandomValues(new Uint8Array(16));
  b[0] = b[0]! & 0x7f;
  return Buffer.from(b).toString('hex');
}

/**
 * Citus mode: the identity the cluster's nodes show each other. Citus connects from node
 * to node as the session's own role (a query on a distributed table) and as the
 * superuser (metadata); with SCRAM for everyone else, those connections sign in with this
 * certificate instead of passwords that pgwarden does not know (docs/citus.md). One node
 * CA and one certificate (CN pgwarden-node, server and client use), both kept in
 * <data-dir>/tls, keys 0600.
 */
export interface NodeTls {
  readonly caPem: string;
  readonly certPem: string;
  readonly keyPem: string;
}

/** The common name that pg_ident.conf maps to every role (src/cluster/node.ts). */
export const NODE_CERT_CN = 'pgwarden-node';

export async function ensureNodeTls(dataDir: string): Promise<NodeTls> {
  const dir = tlsPaths(dataDir).dir;
  const paths = { caCert: join(dir, 'node-ca.crt'), caKey: join(dir, 'node-ca.key'), cert: join(dir, 'node.crt'), key: join(dir, 'node.key') };
  await mkdir(dir, { recursive: true, mode: 0o755 });
  let caPem = await readOptional(paths.caCert);
  let caKeyPem = await readOptional(paths.caKey);
  if (!caPem || !caKeyPem) {
    ({ certPem: caPem, keyPem: caKeyPem } = await makeCa('CN=pgwarden node CA'));
    await writeSecretFile(paths.caKey, caKeyPem);
    await writeFile(paths.caCert, caPem, { mode: 0o644 });
  }
  const hosts = ['localhost', '127.0.0.1', '::1'];
  let certPem = await readOptional(paths.cert);
  let keyPem = await readOptional(paths.key);
  if (!certPem || !keyPem || !serverCertFits(certPem, caPem, hosts)) {
    ({ certPem, keyPem } = await makeLeafCert(caPem, caKeyPem, `CN=${NODE_CERT_CN}`, hosts, [
      x509.ExtendedKeyUsage.serverAuth,
      x509.ExtendedKeyUsage.clientAuth,
    ]));
    await writeSecretFile(paths.key, keyPem);
    await writeFile(paths.cert, certPem, { mode: 0o644 });
  }
  return { caPem, certPem, keyPem };
}

export async function makeCa(name = 'CN=pgwarden local CA'): Promise<{ certPem: string; keyPem: string }> {
  const keys = (await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name,
    notBefore: new Date(now - DAY_MS),
    notAfter: new Date(now + CA_LIFETIME_DAYS * DAY_MS),
    keys,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString('pem') + '\n', keyPem: await exportKeyPem(keys.privateKey) };
}

export function makeServerCert(caPem: string, caKeyPem: string, hosts: readonly string[]): Promise<{ certPem: string; keyPem: string }> {
  return makeLeafCert(caPem, caKeyPem, 'CN=localhost', hosts, [x509.ExtendedKeyUsage.serverAuth]);
}

async function makeLeafCert(
  caPem: string,
  caKeyPem: string,
  subject: string,
  hosts: readonly string[],
  usages: string[],
): Promise<{ certPem: string; keyPem: string }> {
  const ca = new x509.X509Certificate(caPem);
  const caKey = await importKeyPem(caKeyPem);
  const keys = (await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject,
    issuer: ca.subject,
    notBefore: new Date(now - DAY_MS),
    notAfter: new Date(now + SERVER_LIFETIME_DAYS * DAY_MS),
    publicKey: keys.publicKey,
    signingKey: caKey,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension(usages),
      new x509.SubjectAlternativeNameExtension(hosts.map((h) => ({ type: isIP(h) ? ('ip' as const) : ('dns' as const), value: h }))),
      await x509.AuthorityKeyIdentifierExtension.create(ca),
    ],
  });
  return { certPem: cert.toString('pem') + '\n', keyPem: await exportKeyPem(keys.privateKey) };
}

/**
 * The channel-binding data of type tls-server-end-point (RFC 5929 section 4.1): the
 * hash of the server certificate, with the hash function of its signature algorithm,
 * SHA-256 when that is MD5 or SHA-1.
 */
export function tlsServerEndPoint(certPem: string): Buffer {
  const first = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(certPem);
  if (!first) throw new PgwardenError('CONFIG_INVALID', 'the TLS certificate file holds no PEM certificate');
  const leaf = new x509.X509Certificate(first[0]);
  const alg = leaf.signatureAlgorithm as { hash?: { name?: string } };
  const name = (alg.hash?.name ?? 'SHA-256').toUpperCase();
  const hash = name === 'SHA-384' ? 'sha384' : name === 'SHA-512' ? 'sha512' : 'sha256';
  return createHash(hash).update(Buffer.from(leaf.rawData)).digest();
}
