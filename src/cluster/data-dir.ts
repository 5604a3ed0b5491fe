// The data directory of one pgwarden: its secrets, its lock, the citus password file.
// The embedded cluster also keeps its servers here; an existing cluster keeps only this.
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { PgwardenError } from '../util/errors.js';
import { randomPassword, readOptional, writeSecretFile } from '../util/files.js';
import { processAlive } from '../util/process.js';
import { dataDirPaths } from '../util/data-dir-paths.js';

export interface ClusterSecrets {
  /** The embedded cluster's bootstrap superuser (unused for an existing cluster). */
  superuserPassword: string;
  gatewayRolePassword: string;
  /** Key for mock SCRAM secrets of unknown roles (hex). */
  mockKey: string;
  /** The gateway's secret: derives the passwords of Entra principals' roles (hex).
   * Every gateway in front of this cluster needs the same one. */
  gatewaySecret: string;
}

export class DataDir {
  private locked = false;

  private constructor(
    readonly path: string,
    readonly secrets: ClusterSecrets,
  ) {}

  /** Creates the directory (0711: servers' OS user may pass through, nobody may list it)
   * and reads its secrets, creating whatever is missing. */
  static async open(dir: string): Promise<DataDir> {
    const path = resolve(dir);
    await mkdir(path, { recursive: true });
    await chmod(path, 0o711);
    return new DataDir(path, await loadSecrets(path));
  }

  get gatewaySecret(): Buffer {
    return Buffer.from(this.secrets.gatewaySecret, 'hex');
  }

  get mockKey(): Buffer {
    return Buffer.from(this.secrets.mockKey, 'hex');
  }

  get citusPasswordFile(): string {
    return dataDirPaths(this.path).citusPassword;
  }

  /** citus's password: the one given (saved), else the saved one, else a new one (saved;
   * `generated` tells the caller to print it once). */
  async citusPassword(given: string | undefined): Promise<{ password: string; generated: boolean }> {
    if (given !== undefined) {
      if (given.length === 0) throw new PgwardenError('CONFIG_INVALID', 'the citus password cannot be empty');
      await writeSecretFile(this.citusPasswordFile, given + '\n');
      return { password: given, generated: false };
    }
    const saved = (await readOptional(this.citusPasswordFile))?.trim();
    if (saved) return { password: saved, generated: false };
    const password = randomPassword();
    await writeSecretFile(this.citusPasswordFile, password + '\n');
    return { password, generated: true };
  }

  /** One pgwarden per data directory. A pid file whose process is gone (SIGKILL) is stale. */
  async lock(): Promise<void> {
    const file = dataDirPaths(this.path).pid;
    const pid = Number((await readOptional(file))?.trim());
    if (pid !== process.pid && processAlive(pid, /node|pgwarden/)) {
      throw new PgwardenError('ALREADY_RUNNING', `pgwarden is already running on ${this.path} (pid ${pid})`);
    }
    await writeFile(file, `${process.pid}\n`);
    this.locked = true;
  }

  async unlock(): Promise<void> {
    if (!this.locked) return;
    await rm(dataDirPaths(this.path).pid, { force: true });
    this.locked = false;
  }
}

async function loadSecrets(dataDir: string): Promise<ClusterSecrets> {
  const file = dataDirPaths(dataDir).secrets;
  const text = await readOptional(file);
  const saved = (text ? JSON.parse(text) : {}) as Partial<ClusterSecrets>;
  const secrets: ClusterSecrets = {
    superuserPassword: saved.superuserPassword ?? randomPassword(32),
    gatewayRolePassword: saved.gatewayRolePassword ?? randomPassword(32),
    mockKey: saved.mockKey ?? randomBytes(32).toString('hex'),
    gatewaySecret: saved.gatewaySecret ?? randomBytes(32).toString('hex'),
  };
  if (Object.keys(saved).length !== Object.keys(secrets).length) {
    await writeSecretFile(file, JSON.stringify(secrets, null, 2) + '\n');
  }
  return secrets;
}

/** What both kinds of cluster take from their data directory. */
export abstract class DataDirBacked {
  protected constructor(protected readonly dir: DataDir) {}

  get dataDir(): string {
    return this.dir.path;
  }

  get secrets(): ClusterSecrets {
    return this.dir.secrets;
  }

  get gatewaySecret(): Buffer {
    return this.dir.gatewaySecret;
  }

  get mockKey(): Buffer {
    return this.dir.mockKey;
  }

  get citusPasswordFile(): string {
    return this.dir.citusPasswordFile;
  }
}
