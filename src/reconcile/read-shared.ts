// Reads what all databases of a node share: roles with their attributes and verifiers,
// role memberships, per-role settings, database privileges, and the built-in default
// privileges of each kind of object. Needs a superuser: only superusers read pg_authid.
// https://www.postgresql.org/docs/current/catalog-pg-authid.html
import type pg from 'pg';
import { PgwardenError } from '../util/errors.js';
import { BOOTSTRAP_SUPERUSER_OID, normaliseAcl, recordedOwner, type NameContext } from './acl-text.js';
import {
  BOOTSTRAP,
  objectKey,
  OWNER,
  PUBLIC,
  type AclEntry,
  type AclObject,
  type MembershipRow,
  type RoleRow,
  type RoleSettingRow,
  type SharedCatalog,
} from './model.js';

/** pg_auth_members gained inherit_option and set_option, and one row per grantor, in 16. */
export const MIN_SERVER_VERSION = 160000;

/** acldefault() kinds the reconciler compares against. */
const BUILT_IN_KINDS = ['d', 'n', 'r', 's', 'f', 'T', 'L', 'c'];

interface RoleQueryRow {
  oid: string;
  rolname: string;
  rolsuper: boolean;
  rolinherit: boolean;
  rolcreaterole: boolean;
  rolcreatedb: boolean;
  rolcanlogin: boolean;
  rolreplication: boolean;
  rolbypassrls: boolean;
  rolconnlimit: number;
  rolvaliduntil: string | null;
  rolpassword: string | null;
}

export interface SharedRead {
  readonly catalog: SharedCatalog;
  /** OID -> name on this node, for reading its databases. */
  readonly names: ReadonlyMap<number, string>;
  readonly context: NameContext;
}

export async function readShared(c: pg.Client): Promise<SharedRead> {
  const version = Number((await c.query<{ v: string }>("SELECT current_setting('server_version_num') AS v")).rows[0]!.v);
  if (version < MIN_SERVER_VERSION) {
    throw new PgwardenError('FEATURE_NOT_SUPPORTED', `the reconciler needs PostgreSQL 16 or later (this node runs ${version})`);
  }
  const roles = await c.query<RoleQueryRow>(
    `SELECT oid::int8 AS oid, rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, rolreplication,
            rolbypassrls, rolconnlimit,
            CASE WHEN rolvaliduntil IS NULL OR rolvaliduntil = 'infinity' THEN NULL ELSE rolvaliduntil::text END AS rolvaliduntil,
            rolpassword
       FROM pg_authid`,
  );
  const names = new Map<number, string>(roles.rows.map((r) => [Number(r.oid), r.rolname]));
  const bootstrapName = names.get(BOOTSTRAP_SUPERUSER_OID) ?? 'postgres';
  const roleMap = new Map<string, RoleRow>();
  for (const r of roles.rows) {
    roleMap.set(r.rolname, {
      name: r.rolname,
      bootstrap: Number(r.oid) === BOOTSTRAP_SUPERUSER_OID,
      superuser: r.rolsuper,
      inherit: r.rolinherit,
      createRole: r.rolcreaterole,
      createDb: r.rolcreatedb,
      login: r.rolcanlogin,
      replication: r.rolreplication,
      bypassRls: r.rolbypassrls,
      connectionLimit: r.rolconnlimit,
      validUntil: r.rolvaliduntil,
      password: r.rolpassword,
    });
  }

  const members = await c.query<{ roleid: string; member: string; grantor: string; admin_option: boolean; inherit_option: boolean; set_option: boolean }>(
    'SELECT roleid::int8, member::int8, grantor::int8, admin_option, inherit_option, set_option FROM pg_auth_members',
  );
  const memberships: MembershipRow[] = [];
  for (const m of members.rows) {
    // The bootstrap superuser as granted role or member keeps its own name (it is a
    // role like any other there); as grantor it is the placeholder (superusers' grants).
    const role = names.get(Number(m.roleid));
    const member = names.get(Number(m.member));
    const grantor = Number(m.grantor) === BOOTSTRAP_SUPERUSER_OID ? BOOTSTRAP : names.get(Number(m.grantor));
    if (role === undefined || member === undefined || grantor === undefined) continue;
    memberships.push({ role, member, grantor, admin: m.admin_option, inherit: m.inherit_option, set: m.set_option });
  }

  const settingRows = await c.query<{ database: string; role: string; setconfig: string[] | null }>(
    `SELECT coalesce(d.datname, '') AS database, s.setrole::int8 AS role, s.setconfig
       FROM pg_db_role_setting s LEFT JOIN pg_database d ON d.oid = s.setdatabase
      WHERE s.setrole <> 0 AND (s.setdatabase = 0 OR d.oid IS NOT NULL)`,
  );
  const settings: RoleSettingRow[] = [];
  for (const s of settingRows.rows) {
    const role = names.get(Number(s.role));
    if (role === undefined) continue;
    settings.push({ role, database: s.database, settings: parseSetConfig(s.setconfig ?? []) });
  }

  const builtIn = await readBuiltInAcls(c);
  const context: NameContext = { bootstrapName, known: new Set(names.values()) };
  const dbRows = await c.query<{ datname: string; datdba: string; acl: string[] | null; connectable: boolean }>(
    `SELECT datname, datdba::int8 AS datdba, datacl::text[] AS acl, datallowconn AND NOT datistemplate AS connectable
       FROM pg_database ORDER BY datname`,
  );
  const databases = new Map<string, AclObject>();
  for (const d of dbRows.rows) {
    const owner = Number(d.datdba);
    const obj: AclObject = {
      kind: 'database',
      parts: [d.datname],
      owner: recordedOwner(owner, names),
      acl: normaliseAcl(d.acl, names.get(owner) ?? '', context, builtIn.get('d') ?? []),
      raw: d.acl?.join('\n') ?? null,
    };
    databases.set(objectKey('database', obj.parts), obj);
  }

  return {
    names,
    context,
    catalog: {
      serverVersion: version,
      bootstrapName,
      roles: roleMap,
      memberships,
      settings,
      connectable: dbRows.rows.filter((d) => d.connectable).map((d) => d.datname),
      databases,
      builtInAcl: builtIn,
    },
  };
}

/** "name=value" entries; the value is everything after the first '='. */
export function parseSetConfig(entries: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const e of entries) {
    const at = e.indexOf('=');
    if (at > 0) out.set(e.slice(0, at), e.slice(at + 1));
  }
  return out;
}

/** acldefault(kind, owner) for each kind, with the owner as OWNER: what a NULL ACL means. */
async function readBuiltInAcls(c: pg.Client): Promise<Map<string, AclEntry[]>> {
  const r = await c.query<{ kind: string; grantee: string; privilege_type: string; is_grantable: boolean }>(
    `SELECT k.kind, x.grantee::int8 AS grantee, x.privilege_type, x.is_grantable
       FROM unnest($1::text[]) AS k(kind), aclexplode(acldefault(k.kind::"char", ${BOOTSTRAP_SUPERUSER_OID})) x`,
    [BUILT_IN_KINDS],
  );
  const out = new Map<string, AclEntry[]>(BUILT_IN_KINDS.map((k) => [k, []]));
  for (const row of r.rows) {
    out
      .get(row.kind)!
      .push({ grantee: Number(row.grantee) === 0 ? PUBLIC : OWNER, grantor: OWNER, privilege: row.privilege_type, grantable: row.is_grantable });
  }
  return out;
}
