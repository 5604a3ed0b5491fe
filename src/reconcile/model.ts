// What the reconciler reads from one node, with every OID already turned into a name:
// OIDs differ from node to node, names are what "the same" means across a cluster.
//
// Two placeholders stand for roles whose names may differ between nodes but whose part
// is the same everywhere: the owner of an object (its privileges are implicit, and
// ownership is not the reconciler's to change) and the bootstrap superuser (OID 10,
// the role initdb created; PostgreSQL 16+ records it as the grantor of every role
// membership a superuser grants). Both start with a NUL, which no role name can hold,
// so they never collide with a real name.
// https://www.postgresql.org/docs/current/ddl-priv.html

/** The owner of the object (or, in default privileges, the role they are for). */
export const OWNER = '\0owner';
/** The bootstrap superuser (OID 10) of the node. */
export const BOOTSTRAP = '\0bootstrap';
/** Grantee 0 in an aclitem: every role. */
export const PUBLIC = '';

/** One row of aclexplode(): one privilege, granted by `grantor` to `grantee`. */
export interface AclEntry {
  readonly grantee: string;
  readonly grantor: string;
  /** As aclexplode() spells it: SELECT, INSERT, ..., TEMPORARY, EXECUTE, USAGE. */
  readonly privilege: string;
  readonly grantable: boolean;
}

export interface RoleRow {
  readonly name: string;
  readonly bootstrap: boolean;
  readonly superuser: boolean;
  readonly inherit: boolean;
  readonly createRole: boolean;
  readonly createDb: boolean;
  readonly login: boolean;
  readonly replication: boolean;
  readonly bypassRls: boolean;
  readonly connectionLimit: number;
  /** ISO text in UTC; null for "no limit" (NULL and 'infinity' mean the same). */
  readonly validUntil: string | null;
  /** The stored verifier: a secret. Never logged, never in a report. */
  readonly password: string | null;
}

/** pg_auth_members (PostgreSQL 16+: one row per grantor, with three options). */
export interface MembershipRow {
  readonly role: string;
  readonly member: string;
  readonly grantor: string;
  readonly admin: boolean;
  readonly inherit: boolean;
  readonly set: boolean;
}

/** pg_db_role_setting for one role: `database` '' is "in every database". */
export interface RoleSettingRow {
  readonly role: string;
  readonly database: string;
  /** name -> value, as stored ("name=value" split at the first '='). */
  readonly settings: ReadonlyMap<string, string>;
}

export type ObjectKind = 'database' | 'schema' | 'table' | 'sequence' | 'column' | 'routine';

/** An object that has privileges, named the same way on every node. */
export interface AclObject {
  readonly kind: ObjectKind;
  /** Name parts: [database] | [schema] | [schema, relation] | [schema, relation, column] |
   * [schema, routine, argument types as format_type() renders them]. */
  readonly parts: readonly string[];
  /** The owner's name on this node (BOOTSTRAP for OID 10); columns: the table's owner. */
  readonly owner: string;
  /** Normalised: the owner is OWNER in grantee and grantor. */
  readonly acl: readonly AclEntry[];
  /** The ACL as stored (aclitems joined by newlines); null for NULL. Equal text and an
   * equal owner mean equal rights: the comparison can stop there. */
  readonly raw: string | null;
}

/** pg_default_acl: `schema` '' is the global entry of `role` (it replaces the built-in default). */
export interface DefaultAclRow {
  readonly role: string;
  readonly schema: string;
  /** r tables, S sequences, f routines, T types, n schemas, L large objects. */
  readonly objectType: string;
  /** Normalised: `role` is OWNER in grantee and grantor. */
  readonly acl: readonly AclEntry[];
}

/** What every database of a node shares (pg_authid, pg_auth_members, ...). */
export interface SharedCatalog {
  readonly serverVersion: number;
  readonly bootstrapName: string;
  readonly roles: ReadonlyMap<string, RoleRow>;
  readonly memberships: readonly MembershipRow[];
  readonly settings: readonly RoleSettingRow[];
  /** Databases that accept connections and are not templates. */
  readonly connectable: readonly string[];
  readonly databases: ReadonlyMap<string, AclObject>;
  /** The built-in privileges of an owner, per acldefault() kind, normalised to OWNER/PUBLIC. */
  readonly builtInAcl: ReadonlyMap<string, readonly AclEntry[]>;
}

/** What one database of a node holds. */
export interface DatabaseCatalog {
  readonly database: string;
  /** Schemas, relations, routines, and the columns that have an ACL, by objectKey(). */
  readonly objects: ReadonlyMap<string, AclObject>;
  /** Every column of every table, by the table's objectKey() (a column without an ACL has
   * no object: it holds no privileges). */
  readonly columns: ReadonlyMap<string, ReadonlySet<string>>;
  /** By defaultAclKey(). */
  readonly defaultAcls: ReadonlyMap<string, DefaultAclRow>;
  /** Citus: the shard placements on this node, by the shard's objectKey('table', ...),
   * each with its distributed or reference table's [schema, name]. */
  readonly shards: ReadonlyMap<string, readonly [schema: string, table: string]>;
}

export function objectKey(kind: ObjectKind, parts: readonly string[]): string {
  return JSON.stringify([kind, ...parts]);
}

export function defaultAclKey(role: string, schema: string, objectType: string): string {
  return JSON.stringify([role, schema, objectType]);
}

/** The acldefault() kind of each pg_default_acl object type. */
export const DEFAULT_ACL_KIND: Readonly<Record<string, string>> = { r: 'r', S: 's', f: 'f', T: 'T', n: 'n', L: 'L' };
