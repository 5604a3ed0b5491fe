// A node's roles and privileges as sorted lines of text, with every OID turned into a
// name, so that two nodes can be compared with deepEqual. Written independently of
// src/reconcile (plain SQL) so that it checks the reconciler instead of repeating it.
//
// Normalised: the owner of an object is <owner> and the bootstrap superuser <bootstrap>
// (their names may differ between nodes, and ownership is not propagated); a NULL ACL is
// its built-in default (acldefault); NULL and 'infinity' in VALID UNTIL are the same;
// role settings are sorted; verifiers are hashed (a failed assertion prints the lines).
// Left out, like the reconciler leaves them out: superusers, pg_* roles,
// pgwarden_gateway, and the pg_catalog, information_schema, pg_toast and pgwarden schemas.
import type pg from 'pg';

export interface CatalogSnapshot {
  roles: string[];
  members: string[];
  settings: string[];
  datacl: string[];
  nspacl: string[];
  relacl: string[];
  attacl: string[];
  proacl: string[];
  defacl: string[];
}

const MANAGED = (a: string) => `${a}.oid <> 10 AND NOT ${a}.rolsuper AND ${a}.rolname !~ '^pg_' AND ${a}.rolname <> 'pgwarden_gateway'`;
const USER_SCHEMA = (n: string) => `${n} NOT IN ('pg_catalog', 'information_schema', 'pgwarden') AND ${n} !~ '^pg_(toast|temp_)'`;

/** SQL naming role `oid` with the placeholders; `owner` is the owner's OID expression. */
function who(oid: string, owner: string): string {
  return `CASE WHEN ${oid} = 0 THEN 'PUBLIC' WHEN ${oid} = ${owner} THEN '<owner>' WHEN ${oid} = 10 THEN '<bootstrap>'
               ELSE (SELECT rolname FROM pg_authid WHERE oid = ${oid}) END`;
}

/** One line per privilege of `acl` (an expression over `from`): "<key> <grantee>=<privilege>[*]/<grantor>". */
function explode(key: string, acl: string, owner: string, from: string, where = 'true'): string {
  return `SELECT ${key} || ' ' || ${who('x.grantee', owner)} || '=' || x.privilege_type
                 || CASE WHEN x.is_grantable THEN '*' ELSE '' END || '/' || ${who('x.grantor', owner)}
            FROM ${from}, LATERAL aclexplode(${acl}) x WHERE ${where}`;
}

const QUERIES: Record<keyof CatalogSnapshot, string> = {
  roles: `SELECT concat_ws('|', a.rolname, a.rolinherit, a.rolcreaterole, a.rolcreatedb, a.rolcanlogin, a.rolreplication, a.rolbypassrls,
                 a.rolconnlimit, CASE WHEN a.rolvaliduntil IS NULL OR a.rolvaliduntil = 'infinity' THEN 'forever' ELSE a.rolvaliduntil::text END,
                 coalesce(md5(a.rolpassword), 'no password'))
            FROM pg_authid a WHERE ${MANAGED('a')}`,
  members: `SELECT concat_ws('|', r.rolname, m.rolname, CASE WHEN g.oid = 10 THEN '<bootstrap>' ELSE g.rolname END,
                   x.admin_option, x.inherit_option, x.set_option)
              FROM pg_auth_members x JOIN pg_authid r ON r.oid = x.roleid JOIN pg_authid m ON m.oid = x.member JOIN pg_authid g ON g.oid = x.grantor
             WHERE ${MANAGED('m')}`,
  settings: `SELECT concat_ws('|', a.rolname, coalesce(d.datname, '*'), array(SELECT unnest(s.setconfig) ORDER BY 1)::text)
               FROM pg_db_role_setting s JOIN pg_authid a ON a.oid = s.setrole LEFT JOIN pg_database d ON d.oid = s.setdatabase
              WHERE ${MANAGED('a')}`,
  datacl: explode('d.datname', "coalesce(d.datacl, acldefault('d', d.datdba))", 'd.datdba', 'pg_database d'),
  nspacl: explode('n.nspname', "coalesce(n.nspacl, acldefault('n', n.nspowner))", 'n.nspowner', 'pg_namespace n', USER_SCHEMA('n.nspname')),
  relacl: explode(
    "n.nspname || '.' || c.relname",
    `coalesce(c.relacl, acldefault(CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::"char", c.relowner))`,
    'c.relowner',
    'pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace',
    `c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND ${USER_SCHEMA('n.nspname')}`,
  ),
  attacl: explode(
    "n.nspname || '.' || c.relname || '.' || t.attname",
    't.attacl',
    'c.relowner',
    'pg_attribute t JOIN pg_class c ON c.oid = t.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace',
    `t.attacl IS NOT NULL AND t.attnum > 0 AND NOT t.attisdropped AND ${USER_SCHEMA('n.nspname')}`,
  ),
  proacl: explode(
    "n.nspname || '.' || p.proname || '(' || oidvectortypes(p.proargtypes) || ')'",
    "coalesce(p.proacl, acldefault('f', p.proowner))",
    'p.proowner',
    'pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace',
    USER_SCHEMA('n.nspname'),
  ),
  defacl: explode(
    "CASE WHEN d.defaclrole = 10 THEN '<bootstrap>' ELSE (SELECT rolname FROM pg_authid WHERE oid = d.defaclrole) END" +
      " || ' ' || coalesce(n.nspname, '*') || ' ' || d.defaclobjtype::text",
    'd.defaclacl',
    'd.defaclrole',
    'pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace',
  ),
};

/** Reads the snapshot over `c` (a superuser connection to the database to compare). */
export async function catalogSnapshot(c: pg.Client): Promise<CatalogSnapshot> {
  await c.query("SET search_path = pg_catalog; SET TimeZone = 'UTC'; SET DateStyle = 'ISO'");
  const out = {} as CatalogSnapshot;
  for (const [k, sql] of Object.entries(QUERIES) as Array<[keyof CatalogSnapshot, string]>) {
    const r = await c.query<{ line: string }>(`SELECT line FROM (${sql}) AS q(line) ORDER BY 1`);
    out[k] = r.rows.map((x) => x.line);
  }
  await c.query('RESET search_path; RESET TimeZone; RESET DateStyle');
  return out;
}

/** The categories in which `b` differs from `a`, with the lines only one side has. */
export function snapshotDiff(a: CatalogSnapshot, b: CatalogSnapshot): string[] {
  const out: string[] = [];
  for (const k of Object.keys(a) as Array<keyof CatalogSnapshot>) {
    const left = new Set(a[k]);
    const right = new Set(b[k]);
    const onlyA = a[k].filter((x) => !right.has(x));
    const onlyB = b[k].filter((x) => !left.has(x));
    if (onlyA.length || onlyB.length) out.push(`${k}: only on the first: ${JSON.stringify(onlyA)}; only on the second: ${JSON.stringify(onlyB)}`);
  }
  return out;
}
