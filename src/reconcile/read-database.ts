// Reads the privileges held in one database of a node: schemas (nspacl), tables, views,
// materialized views, foreign tables and sequences (relacl), their columns (attacl),
// functions, procedures and aggregates (proacl), and default privileges (pg_default_acl).
// PostgreSQL's own schemas and pgwarden's are left out: they are the same on every node
// or exist on the coordinator only.
// https://www.postgresql.org/docs/current/ddl-priv.html
import type pg from 'pg';
import { aclJsonSql, normaliseAcl, ownerName, roleRef, type RawAcl, type RoleNames } from './acl-json.js';
import { defaultAclKey, objectKey, type AclEntry, type AclObject, type DatabaseCatalog, type DefaultAclRow, type ObjectKind } from './model.js';

/** Schemas whose privileges are not propagated: PostgreSQL's, and pgwarden's own (coordinator only). */
export const SKIPPED_SCHEMAS = ['pg_catalog', 'information_schema', 'pgwarden'];
const SCHEMA_FILTER = (col: string) =>
  `${col} <> ALL($1::text[]) AND ${col} NOT LIKE 'pg\\_toast%' AND ${col} NOT LIKE 'pg\\_temp\\_%'`;

export async function readDatabase(c: pg.Client, database: string, names: RoleNames, builtIn: ReadonlyMap<string, readonly AclEntry[]>): Promise<DatabaseCatalog> {
  const objects = new Map<string, AclObject>();
  const add = (kind: ObjectKind, parts: string[], ownerOid: number, raw: RawAcl, builtInKind: string): void => {
    const obj: AclObject = { kind, parts, owner: ownerName(ownerOid, names), acl: normaliseAcl(raw, ownerOid, names, builtIn.get(builtInKind) ?? []) };
    objects.set(objectKey(kind, parts), obj);
  };

  const schemas = await c.query<{ nspname: string; owner: string; acl: RawAcl }>(
    `SELECT n.nspname, n.nspowner::int8 AS owner, ${aclJsonSql('n.nspacl')} AS acl
       FROM pg_namespace n WHERE ${SCHEMA_FILTER('n.nspname')}`,
    [SKIPPED_SCHEMAS],
  );
  for (const s of schemas.rows) add('schema', [s.nspname], Number(s.owner), s.acl, 'n');

  // Columns travel with their relation: every column's name (to know it exists) and the
  // ACL of those that have one (NULL, the usual case, means no column privileges).
  const relations = await c.query<{ nspname: string; relname: string; relkind: string; owner: string; acl: RawAcl; columns: Array<[string, RawAcl]> | null }>(
    `SELECT n.nspname, c.relname, c.relkind, c.relowner::int8 AS owner, ${aclJsonSql('c.relacl')} AS acl,
            (SELECT json_agg(json_build_array(a.attname, ${aclJsonSql('a.attacl')}) ORDER BY a.attnum)
               FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS columns
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND ${SCHEMA_FILTER('n.nspname')}`,
    [SKIPPED_SCHEMAS],
  );
  for (const r of relations.rows) {
    const owner = Number(r.owner);
    const sequence = r.relkind === 'S';
    add(sequence ? 'sequence' : 'table', [r.nspname, r.relname], owner, r.acl, sequence ? 's' : 'r');
    if (sequence) continue;
    for (const [column, acl] of r.columns ?? []) add('column', [r.nspname, r.relname, column], owner, acl, 'c');
  }

  // Routines match by schema, name and argument types (format_type() under the session's
  // search_path = pg_catalog, so every type outside pg_catalog is schema-qualified).
  const routines = await c.query<{ nspname: string; proname: string; args: string; owner: string; acl: RawAcl }>(
    `SELECT n.nspname, p.proname, oidvectortypes(p.proargtypes) AS args, p.proowner::int8 AS owner, ${aclJsonSql('p.proacl')} AS acl
       FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE ${SCHEMA_FILTER('n.nspname')}`,
    [SKIPPED_SCHEMAS],
  );
  for (const p of routines.rows) add('routine', [p.nspname, p.proname, p.args], Number(p.owner), p.acl, 'f');

  const defaults = await c.query<{ role: string; nspname: string; objtype: string; acl: RawAcl }>(
    `SELECT d.defaclrole::int8 AS role, coalesce(n.nspname, '') AS nspname, d.defaclobjtype AS objtype, ${aclJsonSql('d.defaclacl')} AS acl
       FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace
      WHERE d.defaclnamespace = 0 OR n.oid IS NOT NULL`,
  );
  const defaultAcls = new Map<string, DefaultAclRow>();
  for (const d of defaults.rows) {
    const roleOid = Number(d.role);
    // The role keeps its name (it is part of the key); inside the ACL it is OWNER, like
    // the owner of an object created under these defaults.
    const role = roleRef(roleOid, undefined, names);
    if (role === undefined || (d.nspname !== '' && SKIPPED_SCHEMAS.includes(d.nspname))) continue;
    const row: DefaultAclRow = { role, schema: d.nspname, objectType: d.objtype, acl: normaliseAcl(d.acl ?? [], roleOid, names, []) };
    defaultAcls.set(defaultAclKey(role, d.nspname, d.objtype), row);
  }
  return { database, objects, defaultAcls };
}

