// Semantic comparison of two ACLs and the GRANT/REVOKE statements that turn one into the
// other. ACLs are compared per (grantee, grantor): which privileges, and which of them
// carry the grant option. Text forms of aclitem[] are never compared: the same rights
// can be written in a different order, and a NULL ACL means the built-in default.
// https://www.postgresql.org/docs/current/sql-grant.html
// https://www.postgresql.org/docs/current/sql-revoke.html
import type { AclEntry } from './model.js';

/** Privilege keywords as aclexplode() spells them and GRANT accepts them. Anything else is
 * never put into a statement. */
export const PRIVILEGES: ReadonlySet<string> = new Set([
  'SELECT',
  'INSERT',
  'UPDATE',
  'DELETE',
  'TRUNCATE',
  'REFERENCES',
  'TRIGGER',
  'MAINTAIN',
  'EXECUTE',
  'USAGE',
  'CREATE',
  'CONNECT',
  'TEMPORARY',
]);

/** The privilege keywords in a fixed order, so that statements are stable. */
const ORDER = [...PRIVILEGES];

export interface AclDelta {
  readonly grantee: string;
  readonly grantor: string;
  /** Missing privileges, to grant without the grant option. */
  readonly grant: readonly string[];
  /** Privileges to grant with the grant option (missing, or held without it). */
  readonly grantWithOption: readonly string[];
  /** Privileges to revoke entirely. */
  readonly revoke: readonly string[];
  /** Privileges to keep, without the grant option. */
  readonly revokeOption: readonly string[];
}

type Held = Map<string, boolean>;

function index(entries: readonly AclEntry[]): Map<string, { grantee: string; grantor: string; held: Held }> {
  const out = new Map<string, { grantee: string; grantor: string; held: Held }>();
  for (const e of entries) {
    if (!PRIVILEGES.has(e.privilege)) continue;
    const key = `${e.grantee}\0${e.grantor}`;
    let slot = out.get(key);
    if (!slot) out.set(key, (slot = { grantee: e.grantee, grantor: e.grantor, held: new Map() }));
    slot.held.set(e.privilege, (slot.held.get(e.privilege) ?? false) || e.grantable);
  }
  return out;
}

const byOrder = (a: string, b: string): number => ORDER.indexOf(a) - ORDER.indexOf(b);

/** What to grant and revoke, per (grantee, grantor), to turn `actual` into `desired`. */
export function diffAcl(desired: readonly AclEntry[], actual: readonly AclEntry[]): AclDelta[] {
  const want = index(desired);
  const have = index(actual);
  const out: AclDelta[] = [];
  for (const key of new Set([...want.keys(), ...have.keys()])) {
    const w = want.get(key)?.held ?? new Map<string, boolean>();
    const h = have.get(key)?.held ?? new Map<string, boolean>();
    const who = (want.get(key) ?? have.get(key))!;
    const grant: string[] = [];
    const grantWithOption: string[] = [];
    const revoke: string[] = [];
    const revokeOption: string[] = [];
    for (const [p, option] of w) {
      const held = h.get(p);
      if (held === undefined) (option ? grantWithOption : grant).push(p);
      else if (option && !held) grantWithOption.push(p);
      else if (!option && held) revokeOption.push(p);
    }
    for (const p of h.keys()) if (!w.has(p)) revoke.push(p);
    if (grant.length + grantWithOption.length + revoke.length + revokeOption.length === 0) continue;
    out.push({
      grantee: who.grantee,
      grantor: who.grantor,
      grant: grant.sort(byOrder),
      grantWithOption: grantWithOption.sort(byOrder),
      revoke: revoke.sort(byOrder),
      revokeOption: revokeOption.sort(byOrder),
    });
  }
  return out;
}

/** How one object is named in GRANT and REVOKE; every part already quoted. */
export interface GrantTarget {
  /** 'ON TABLE "s"."t"', 'ON TABLES' (default privileges), ... */
  readonly on: string;
  /** Column privileges: ' ("c")', written after each privilege keyword. */
  readonly columns?: string;
  /** 'ALTER DEFAULT PRIVILEGES FOR ROLE "r" IN SCHEMA "s" ' for default privileges. */
  readonly prefix?: string;
}

/**
 * The statements of one delta, in one string: PostgreSQL runs a multi-statement string as
 * one transaction, so a failure leaves nothing half done (a SET ROLE included).
 * `grantee` is the quoted grantee (or PUBLIC); `runAs`, when given, the quoted role that
 * must issue the statements to be recorded as their grantor.
 */
export function deltaSql(delta: AclDelta, target: GrantTarget, grantee: string, runAs?: string): string {
  const list = (privs: readonly string[]): string => privs.map((p) => p + (target.columns ?? '')).join(', ');
  const prefix = target.prefix ?? '';
  const parts: string[] = [];
  if (delta.revoke.length) parts.push(`${prefix}REVOKE ${list(delta.revoke)} ${target.on} FROM ${grantee} CASCADE`);
  if (delta.revokeOption.length) parts.push(`${prefix}REVOKE GRANT OPTION FOR ${list(delta.revokeOption)} ${target.on} FROM ${grantee} CASCADE`);
  if (delta.grant.length) parts.push(`${prefix}GRANT ${list(delta.grant)} ${target.on} TO ${grantee}`);
  if (delta.grantWithOption.length) parts.push(`${prefix}GRANT ${list(delta.grantWithOption)} ${target.on} TO ${grantee} WITH GRANT OPTION`);
  if (runAs) return [`SET ROLE ${runAs}`, ...parts, 'RESET ROLE'].join('; ');
  return parts.join('; ');
}

/** "grant SELECT, INSERT; revoke UPDATE" — for descriptions. */
export function deltaWords(delta: AclDelta): string {
  const words: string[] = [];
  if (delta.grant.length) words.push(`grant ${delta.grant.join(', ')}`);
  if (delta.grantWithOption.length) words.push(`grant ${delta.grantWithOption.join(', ')} with grant option`);
  if (delta.revokeOption.length) words.push(`revoke grant option for ${delta.revokeOption.join(', ')}`);
  if (delta.revoke.length) words.push(`revoke ${delta.revoke.join(', ')}`);
  return words.join('; ');
}
