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
import type { HostPort, TargetSessionAttrs } from './hosts.js';

export type SslMode = 'disable' | 'allow' | 'prefer' | 'require' | 'verify-ca' | 'verify-full';

export interface ConnInfo {
  /** Each a host name, an IP address, or a Unix-socket directory (starts with /); several
   * when the string lists several (`host=a,b port=5432,5433`, `postgresql://a:5432,b:5433/`). */
  hosts: HostPort[];
  /** Which of the hosts to use: libpq's target_session_attrs, of the values a node that
   * pgwarden writes to can take. */
  targetSessionAttrs: TargetSessionAttrs;
  user: string | undefined;
  password: string | undefined;
  dbname: string;
  sslmode: SslMode;
  sslrootcert: string | undefined;
}

const SSL_MODES: readonly SslMode[] = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'];
const TARGET_SESSION_ATTRS: readonly TargetSessionAttrs[] = ['any', 'read-write', 'primary'];
const KNOWN = new Set([
  'host',
  'hostaddr',
  'port',
  'user',
  'password',
  'dbname',
  'sslmode',
  'sslrootcert',
  'application_name',
  'connect_timeout',
  'target_session_attrs',
]);

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
  // The authority may list several hosts (`a:5432,b:5433`), which URL cannot parse: it is
  // read here, and URL reads the rest (path and query).
  const rest = text.replace(/^postgres(ql)?:\/\//, '');
  const end = rest.search(/[/?]/);
  const authority = end < 0 ? rest : rest.slice(0, end);
  let url: URL;
  try {
    url = new URL('http://x' + (end < 0 ? '' : rest.slice(end)));
  } catch {
    throw invalid(text, 'not a URI');
  }
  const out = new Map<string, string>();
  const at = authority.lastIndexOf('@');
  const hostsPart = authority.slice(at + 1);
  if (at >= 0) {
    const userinfo = authority.slice(0, at);
    const colon = userinfo.indexOf(':');
    const user = colon < 0 ? userinfo : userinfo.slice(0, colon);
    if (user) out.set('user', decode(text, user));
    if (colon >= 0) out.set('password', decode(text, userinfo.slice(colon + 1)));
  }
  if (hostsPart) {
    const hosts: string[] = [];
    const ports: string[] = [];
    for (const item of hostsPart.split(',')) {
      const m = /^(\[[^\]]*\]|[^:]*)(?::(\d*))?$/.exec(item);
      if (!m) throw invalid(text, `host "${item}"`);
      hosts.push(decode(text, m[1]!.replace(/^\[|\]$/g, '')));
      ports.push(m[2] ?? '');
    }
    out.set('host', hosts.join(','));
    if (ports.some((p) => p !== '')) out.set('port', ports.join(','));
  }
  if (url.pathname.length > 1) out.set('dbname', decode(text, url.pathname.slice(1)));
  for (const [k, v] of url.searchParams) out.set(k, v);
  return out;
}

function decode(text: string, part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw invalid(text, 'bad %-escape');
  }
}

/** libpq's lists: one port for every host, or one per host; an empty entry is the default. */
function hostList(text: string, values: Map<string, string>): HostPort[] {
  const hosts = (values.get('host') ?? values.get('hostaddr') ?? '').split(',').map((h) => h || 'localhost');
  const ports = (values.get('port') ?? '').split(',');
  if (ports.length !== 1 && ports.length !== hosts.length) throw invalid(text, `${hosts.length} hosts and ${ports.length} ports`);
  return hosts.map((host, i) => {
    const port = Number(ports[ports.length === 1 ? 0 : i] || 5432);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw invalid(text, 'port');
    return { host, port };
  });
}

export function parseConnInfo(text: string): ConnInfo {
  const values = /^postgres(ql)?:\/\//.test(text) ? uriValues(text) : keyValues(text);
  for (const key of values.keys()) if (!KNOWN.has(key)) throw invalid(text, `unknown keyword "${key}"`);
  const sslmode = (values.get('sslmode') ?? 'prefer') as SslMode;
  if (!SSL_MODES.includes(sslmode)) throw invalid(text, `sslmode "${sslmode}"`);
  const targetSessionAttrs = (values.get('target_session_attrs') ?? 'any') as TargetSessionAttrs;
  if (!TARGET_SESSION_ATTRS.includes(targetSessionAttrs)) {
    throw invalid(text, `target_session_attrs "${targetSessionAttrs}": pgwarden writes to every node, so it takes ${TARGET_SESSION_ATTRS.join(', ')}`);
  }
  return {
    hosts: hostList(text, values),
    targetSessionAttrs,
    user: values.get('user'),
    password: values.get('password'),
    dbname: values.get('dbname') ?? 'postgres',
    sslmode,
    sslrootcert: values.get('sslrootcert'),
  };
}

/** TLS options for a connection, by sslmode; undefined for no TLS. `prefer` and `allow`
 * are treated as `require`: pgwarden does not send credentials in the clear to a remote node. */
export function tlsOptions(c: ConnInfo, at: HostPort): ConnectionOptions | undefined {
  if (at.host.startsWith('/') || c.sslmode === 'disable') return undefined;
  const ca = c.sslrootcert ? readFileSync(c.sslrootcert, 'utf8') : undefined;
  const verify = c.sslmode === 'verify-ca' || c.sslmode === 'verify-full';
  return {
    ...(ca ? { ca } : {}),
    rejectUnauthorized: verify,
    // SNI takes names only (RFC 6066); verify-full still checks an IP against the certificate.
    ...(isIP(at.host) ? {} : { servername: at.host }),
    ...(isIP(at.host) && c.sslmode === 'verify-full' ? { checkServerIdentity: (_: string, cert: PeerCertificate) => checkServerIdentity(at.host, cert) } : {}),
    ...(c.sslmode === 'verify-ca' ? { checkServerIdentity: () => undefined } : {}),
  };
}

/** node-postgres settings for the node's host `at`, as `user` with `password` (or the conninfo's own). */
export function pgConfig(c: ConnInfo, at: HostPort, user?: string, password?: string, database?: string): ClientConfig {
  const tls = tlsOptions(c, at);
  return {
    host: at.host,
    port: at.port,
    user: user ?? c.user,
    password: password ?? c.password ?? process.env.PGPASSWORD,
    database: database ?? c.dbname,
    application_name: 'pgwarden',
    ...(tls ? { ssl: tls } : {}),
  };
}
