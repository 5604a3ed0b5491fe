// What the gateway's catalog readers (role-catalog.ts, catalog-watch.ts, audit.ts) need of
// their connections to the coordinator: a node-postgres Pool, or one that follows the
// coordinator from host to host (cluster/following-pool.ts).
import type pg from 'pg';

export interface CatalogDb {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(query: string | pg.QueryConfig, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

export interface CatalogPool extends CatalogDb {
  end(): Promise<void>;
}
