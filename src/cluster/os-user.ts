// PostgreSQL refuses to run as root. When pgwarden runs as root (containers, CI), the
// servers run as the unprivileged system user `postgres`, created if missing; otherwise
// they run as pgwarden's own user.
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { userInfo } from 'node:os';
import { PgwardenError } from '../util/errors.js';

const run = promisify(execFile);

export interface RunAs {
  uid: number;
  gid: number;
  name: string;
}

/** undefined: run as ourselves. */
export async function serverUser(): Promise<RunAs | undefined> {
  if (userInfo().uid !== 0) return undefined;
  const name = 'postgres';
  let ids = await lookup(name);
  if (!ids) {
    try {
      await run('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', name]);
    } catch (e) {
      throw new PgwardenError(
        'CLUSTER_START_FAILED',
        `running as root, pgwarden needs an OS user "${name}" for PostgreSQL and could not create it: ${(e as Error).message}`,
      );
    }
    ids = await lookup(name);
    if (!ids) throw new PgwardenError('CLUSTER_START_FAILED', `could not find OS user "${name}" after creating it`);
  }
  return ids;
}

async function lookup(name: string): Promise<RunAs | undefined> {
  try {
    const [u, g] = await Promise.all([run('id', ['-u', name]), run('id', ['-g', name])]);
    return { uid: Number(u.stdout.trim()), gid: Number(g.stdout.trim()), name };
  } catch {
    return undefined;
  }
}

/** Throws a clear error if `user` cannot reach `dir` (a data directory under /root, say). */
export function assertReachable(dir: string, user: RunAs | undefined): void {
  if (!user) return;
  const r = spawnSync('test', ['-x', dir], { uid: user.uid, gid: user.gid });
  if (r.status !== 0) {
    throw new PgwardenError(
      'CONFIG_INVALID',
      `PostgreSQL runs as the OS user "${user.name}", which cannot enter ${dir}; ` +
        'choose a --data-dir that it can reach (for example under /var/lib or /tmp), or run pgwarden as an unprivileged user',
    );
  }
}
