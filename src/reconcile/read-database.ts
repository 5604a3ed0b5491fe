// Reads the privileges held in one database of a node: schemas (nspacl), tables, views,
// materialized views, foreign tables and sequences (relacl), their columns (attacl),
// functions, procedures and aggregates (proacl), and default privileges (pg_default_acl).
// PostgreSQL's own schemas and pgwarden's are left out: they are the same on every node
// or exist on the coordinator only.
// https://www.postgresql.org/docs/current/ddl-priv.html
import type pg from 'pg';
import { normaliseAcl, recordedOwner, type NameContext } from './acl-text.js';
import { defaultAclKey, objectKey, type AclEntry, type AclObject, type DatabaseCatalog, type DefaultAclRow, type ObjectKind } from './model.js';

/** Schemas whose privileges are not propagated: PostgreSQL's, and pgwarden's own (coordinator only). */
export const SKIPPED_SCHEMAS = ['pg_catalog', 'information_schema', 'pgwarden'];
const SCHEMA_FILTER = (col: string): string => `${col} <> ALL($1::text[]) AND ${col} NOT LIKE 'pg\\_toast%' AND ${col} NOT LIKE 'pg\\_temp\\_%'`;

export async function readDatabase(
  c: pg.Client,
  database: string,
  names: ReadonlyMap<number, string>,
  context: NameContext,
  builtIn: ReadonlyMap<string, readonly AclEntry[]>,
): Promise<DatabaseCatalog> {
  const objects = new Map<string, AclObject>();
  const columns = new Map<string, ReadonlySet<string>>();
  const add = (kind: ObjectKind, parts: string[], ownerOid: number, acl: string[] | null, builtInKind: string): void => {
    const obj: AclObject = {
      kind,
      parts,
      owner: recordedOwner(ownerOid, names),
      acl: normaliseAcl(acl, names.get(ownerOid) ?? '', context, builtIn.get(builtInKind) ?? []),
      raw: acl?.join('\n') ?? null,
    };
    objects.set(objectKey(kind, parts), obj);
  };

  const schemas = await c.query<{ nspname: string; owner: string; acl: string[] | null }>(
    `SELECT n.nspname, n.nspowner::int8 AS owner, n.nspacl::text[] AS acl FROM pg_namespace n WHERE ${SCHEMA_FILTER('n.nspname')}`,
    [SKIPPED_SCHEMAS],
  );
  for (const s of schemas.rows) add('schema', [s.nspname], Number(s.owner), s.acl, 'n');

  // Every column's name (to know it exists), and the ACL of the few that have one. One
  // JSON document for all relations: node-postgres parses that much faster than
  // thousands of rows with text[] columns.
  type RelationRow = [
    schema: string,
    name: string,
    kind: string,
    owner: number,
    acl: string[] | null,
    columns: string[] | null,
    columnAcls: Record<string, string[]> | null,
  ];
  const relations = await c.query<{ rows: RelationRow[] | null }>(
    `SELECT json_agg(json_build_array(n.nspname, c.relname, c.relkind, c.relowner::int8, c.relacl::text[],
              CASE WHEN c.relkind <> 'S' THEN
                (SELECT array_agg(a.attname::text) FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) END,
              CASE WHEN c.relkind <> 'S' THEN
                (SELECT json_object_agg(a.attname, a.attacl::text[]) FROM pg_attribute a
                  WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attacl IS NOT NULL) END)) AS rows
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND ${SCHEMA_FILTER('n.nspname')}`,
    [SKIPPED_SCHEMAS],
  );
  for (const [schema, name, kind, owner, acl, cols, columnAcls] of relations.rows[0]?.rows ?? []) {
    const sequence = kind === 'S';
    add(sequence ? 'sequence' : 'table', [schema, name], owner, acl, sequence ? 's' : 'r');
    if (sequence) continue;
    columns.set(objectKey('table', [schema, name]), new Set(cols ?? []));
    for (const [column, columnAcl] of Object.entries(columnAcls ?? {})) add('column', [schema, name, column], owner, columnAcl, 'c');
  }

  // Routines match by schema, name and argument types (format_type() under the session's
  // search_path = pg_catalog, so every type outside pg_catalog is schema-qualified).
  const routines = await c.query<{ nspname: string; proname: string; args: string; owner: string; acl: string[] | null }>(
    `SELECT n.nspname, p.proname, oidvectortypes(p.proargtypes) AS args, p.proowner::int8 AS owner, p.proacl::text[] AS acl
       FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE ${SCHEMA_FILTER('n.nspname')}`,
    [SKIPPED_SCHEMAS],
  );
  for (const p of routines.rows) add('routine', [p.nspname, p.proname, p.args], Number(p.owner), p.acl, 'f');

  const defaults = await c.query<{ role: string; nspname: string; objtype: string; acl: string[] }>(
    `SELECT d.defaclrole::int8 AS role, coalesce(n.nspname, '') AS nspname, d.defaclobjtype AS objtype, d.defaclacl::text[] AS acl
       FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace
      WHERE d.defaclnamespace = 0 OR n.oid IS NOT NULL`,
  );
  const defaultAcls = new Map<string, DefaultAclRow>();
  for (const d of defaults.rows) {
    const roleOid = Number(d.role);
    const roleName = names.get(roleOid);
    if (roleName === undefined || (d.nspname !== '' && SKIPPED_SCHEMAS.includes(d.nspname))) continue;
    // The role keeps its name (it is part of the key; BOOTSTRAP for OID 10); inside the
    // ACL it is OWNER, like the owner of an object created under these defaults.
    const role = recordedOwner(roleOid, names);
    const row: DefaultAclRow = { role, schema: d.nspname, objectType: d.objtype, acl: normaliseAcl(d.acl, roleName, context, []) };
    defaultAcls.set(defaultAclKey(role, d.nspname, d.objtype), row);
  }
  return { database, objects, columns, defaultAcls, shards: await readShards(c) };
}

/**
 * Citus: which of this node's tables are shard placements, and of which table. Citus
 * names a shard after its table and shard id (shard_name()); its metadata is on every
 * node (Citus 11+). Shards are read like any table (the reconciler's sessions turn
 * citus.override_table_visibility off), and planned against their table's privileges
 * (plan-shards.ts).
 */
async function readShards(c: pg.Client): Promise<Map<string, readonly [string, string]>> {
  const shards = new Map<string, readonly [string, string]>();
  const citus = await c.query<{ present: boolean }>("SELECT to_regclass('pg_catalog.pg_dist_shard') IS NOT NULL AS present");
  if (!citus.rows[0]?.present) return shards;
  const r = await c.query<{ schema: string; table: string; shard: string }>(
    // A shard lives in its table's schema; shard_name() leaves out the schema where the
    // search_path finds it, and quotes as needed (parse_ident() undoes both).
    `SELECT n.nspname AS schema, l.relname AS table, s.relname AS shard
       FROM pg_dist_shard d
       JOIN pg_class l ON l.oid = d.logicalrelid JOIN pg_namespace n ON n.oid = l.relnamespace
       CROSS JOIN LATERAL parse_ident(shard_name(d.logicalrelid, d.shardid)) AS p(parts)
       JOIN pg_class s ON s.relnamespace = l.relnamespace AND s.relname = p.parts[array_upper(p.parts, 1)]
      WHERE s.oid <> l.oid`,
  );
  for (const x of r.rows) shards.set(objectKey('table', [x.schema, x.shard]), [x.schema, x.table]);
  return shards;
}
