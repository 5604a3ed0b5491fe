// libpq connection strings, both forms: `host=db1 port=5432 user=postgres sslmode=require`
// and `postgresql://postgres@db1:5432/postgres?sslmode=require`, with libpq's meaning of
// sslmode (node-postgres's own parser treats `require` as `verify-full` and reads no
// key=value form, so pgwarden reads them itself).
// https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-CONNSTRING
import { readFileSync } from 'node:fs';
import type { ClientConfig } from 'pg';
import { checkServerIdentity, type ConnectionOptions, type PeerCertificate } from 'node:tls';
import { isIP } from 'node:net';
import { PgwardenError } from '../util/errors.js';

export type SslMode = 'disable' | 'allow' | 'prefer' | 'require' | 'verify-ca' | 'verify-full';

export interface ConnInfo {
  /** A host name, an IP address, or a Unix-socket directory (starts with /). */
  host: string;
  port: number;
  user: string | undefined;
  password: string | undefined;
  dbname: string;
  sslmode: SslMode;
  sslrootcert: string | undefined;
}

const SSL_MODES: readonly SslMode[] = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'];
const KNOWN = new Set(['host', 'hostaddr', 'port', 'user', 'password', 'dbname', 'sslmode', 'sslrootcert', 'application_name', 'connect_timeout']);

function invalid(text: string, why: string): PgwardenError {
  return new PgwardenError('CONFIG_INVALID', `invalid connection string (${why}): ${redact(text)}`);
}

/** One value of a libpq connection string, always single-quoted (\\ and ' escaped).
 * https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-CONNSTRING */
export function conninfoValue(value: string): string {
  return "'" + value.replace(/\\/g, '\\\\').replace(/'/g, "\\'") + "'";
}

/** The connection string with any password replaced, for messages. */
export function redact(text: string): string {
  return text.replace(/(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)/gi, '$1***').replace(/(:\/\/[^:/@]*:)[^@]*@/, '$1***@');
}

function keyValues(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let i = 0;
  const skip = (): void => {
    while (i < text.length && /\s/.test(text[i]!)) i++;
  };
  for (skip(); i < text.length; skip()) {
    const eq = text.indexOf('=', i);
    if (eq < 0) throw invalid(text, `"${text.slice(i, i + 20)}" has no "="`);
    const key = text.slice(i, eq).trim();
    i = eq + 1;
    skip();
    let value = '';
    if (text[i] === "'") {
      i++;
      for (;;) {
        if (i >= text.length) throw invalid(text, 'unterminated quoted value');
        const c = text[i++]!;
        if (c === '\\' && i < text.length) value += text[i++];
        else if (c === "'") break;
        else value += c;
      }
    } else {
      while (i < text.length && !/\s/.test(text[i]!)) {
        const c = text[i++]!;
        value += c === '\\' && i < text.length ? text[i++] : c;
      }
    }
    out.set(key, value);
  }
  return out;
}

function uriValues(text: string): Map<string, string> {
  let url: URL;
  try {
    url = new URL(text.replace(/^postgres(ql)?:/, 'http:'));
  } catch {
    throw invalid(text, 'not a URI');
  }
  const out = new Map<string, string>();
  if (url.hostname) out.set('host', decodeURIComponent(url.hostname.replace(/^\[|\]$/g, '')));
  if (url.port) out.set('port', url.port);
  if (url.username) out.set('user', decodeURIComponent(url.username));
  if (url.password) out.set('password', decodeURIComponent(url.password));
  if (url.pathname.length > 1) out.set('dbname', decodeURIComponent(url.pathname.slice(1)));
  for (const [k, v] of url.searchParams) out.set(k, v);
  return out;
}

export function parseConnInfo(text: string): ConnInfo {
  const values = /^postgres(ql)?:\/\//.test(text) ? uriValues(text) : keyValues(text);
  for (const key of values.keys()) if (!KNOWN.has(key)) throw invalid(text, `unknown keyword "${key}"`);
  const sslmode = (values.get('sslmode') ?? 'prefer') as SslMode;
  if (!SSL_MODES.includes(sslmode)) throw invalid(text, `sslmode "${sslmode}"`);
  const port = Number(values.get('port') ?? 5432);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw invalid(text, 'port');
  return {
    host: values.get('host') ?? values.get('hostaddr') ?? 'localhost',
    port,
    user: values.get('user'),
    password: values.get('password'),
    dbname: values.get('dbname') ?? 'postgres',
    sslmode,
    sslrootcert: values.get('sslrootcert'),
  };
}

/** TLS options for a connection, by sslmode; undefined for no TLS. `prefer` and `allow`
 * are treated as `require`: pgwarden does not send credentials in the clear to a remote node. */
export function tlsOptions(c: ConnInfo): ConnectionOptions | undefined {
  if (c.host.startsWith('/') || c.sslmode === 'disable') return undefined;
  const ca = c.sslrootcert ? readFileSync(c.sslrootcert, 'utf8') : undefined;
  const verify = c.sslmode === 'verify-ca' || c.sslmode === 'verify-full';
  return {
    ...(ca ? { ca } : {}),
    rejectUnauthorized: verify,
    // SNI takes names only (RFC 6066); verify-full still checks an IP against the certificate.
    ...(isIP(c.host) ? {} : { servername: c.host }),
    ...(isIP(c.host) && c.sslmode === 'verify-full' ? { checkServerIdentity: (_: string, cert: PeerCertificate) => checkServerIdentity(c.host, cert) } : {}),
    ...(c.sslmode === 'verify-ca' ? { checkServerIdentity: () => undefined } : {}),
  };
}

/** node-postgres settings for the node, as `user` with `password` (or the conninfo's own). */
export function pgConfig(c: ConnInfo, user?: string, password?: string, database?: string): ClientConfig {
  const tls = tlsOptions(c);
  return {
    host: c.host,
    port: c.port,
    user: user ?? c.user,
    password: password ?? c.password ?? process.env.PGPASSWORD,
    database: database ?? c.dbname,
    application_name: 'pgwarden',
    ...(tls ? { ssl: tls } : {}),
  };
}
