// Reading aclitem[] columns. An ACL arrives as text[] (one aclitem per element) and is
// parsed here: reading ACLs as text keeps a pass cheap (aclexplode() in SQL costs the
// server several times more on thousands of tables), and equal text with an equal
// owner means equal rights, which lets a pass skip most objects without looking inside.
// A NULL ACL means "the built-in default for the owner", not the same as an empty one.
//
// aclitem's text form (aclitemout() in PostgreSQL's acl.c): grantee=privileges/grantor,
// an empty grantee for PUBLIC, names double-quoted (with "" for a quote) unless they are
// only letters, digits and underscores, and each privilege letter followed by * when it
// carries the grant option.
// https://www.postgresql.org/docs/current/ddl-priv.html#PRIVILEGE-ABBREVS-TABLE
import { BOOTSTRAP, OWNER, PUBLIC, type AclEntry } from './model.js';

/** OID of the bootstrap superuser: fixed by initdb. */
export const BOOTSTRAP_SUPERUSER_OID = 10;

/** The privilege letters of aclitem's text form. */
export const PRIVILEGE_LETTERS: Readonly<Record<string, string>> = {
  a: 'INSERT',
  r: 'SELECT',
  w: 'UPDATE',
  d: 'DELETE',
  D: 'TRUNCATE',
  x: 'REFERENCES',
  t: 'TRIGGER',
  m: 'MAINTAIN',
  X: 'EXECUTE',
  U: 'USAGE',
  C: 'CREATE',
  c: 'CONNECT',
  T: 'TEMPORARY',
  s: 'SET',
  A: 'ALTER SYSTEM',
};

export interface AclItem {
  /** '' for PUBLIC. */
  readonly grantee: string;
  readonly grantor: string;
  readonly privileges: ReadonlyArray<readonly [privilege: string, grantable: boolean]>;
}

/** Reads a name at `at` up to `stop` (or the end); returns it and where it ended. */
function readName(s: string, at: number, stop: string | undefined): [string, number] | undefined {
  if (s[at] !== '"') {
    const end = stop === undefined ? s.length : s.indexOf(stop, at);
    return end < 0 ? undefined : [s.slice(at, end), end];
  }
  let name = '';
  let i = at + 1;
  for (;;) {
    if (i >= s.length) return undefined;
    if (s[i] === '"') {
      if (s[i + 1] !== '"') return [name, i + 1];
      name += '"';
      i += 2;
    } else {
      name += s[i++];
    }
  }
}

/** Parses one aclitem; undefined if it is not in the form above. */
export function parseAclItem(text: string): AclItem | undefined {
  const grantee = readName(text, 0, '=');
  if (!grantee || text[grantee[1]] !== '=') return undefined;
  const slash = text.indexOf('/', grantee[1]);
  if (slash < 0) return undefined;
  const privileges: Array<[string, boolean]> = [];
  for (let i = grantee[1] + 1; i < slash; i++) {
    const p = PRIVILEGE_LETTERS[text[i]!];
    if (p === undefined) return undefined;
    const grantable = text[i + 1] === '*';
    if (grantable) i++;
    privileges.push([p, grantable]);
  }
  const grantor = readName(text, slash + 1, undefined);
  if (!grantor || grantor[1] !== text.length) return undefined;
  return { grantee: grantee[0], grantor: grantor[0], privileges };
}

/** How names are recorded on one node: the owner and the bootstrap superuser become placeholders. */
export interface NameContext {
  readonly bootstrapName: string;
  /** Every role name on the node; an item naming anything else (a role dropped meanwhile,
   * shown as its OID) is left out, and the next pass sees it settled. */
  readonly known: ReadonlySet<string>;
}

function ref(name: string, owner: string | undefined, ctx: NameContext): string | undefined {
  if (name === '') return PUBLIC;
  if (name === owner) return OWNER;
  if (name === ctx.bootstrapName) return BOOTSTRAP;
  return ctx.known.has(name) ? name : undefined;
}

/** Normalised entries of an ACL read as text[]; `builtIn` stands in for NULL. `owner` is
 * the owner's name on this node. */
export function normaliseAcl(items: readonly string[] | null, owner: string, ctx: NameContext, builtIn: readonly AclEntry[]): AclEntry[] {
  if (items === null) return [...builtIn];
  const out: AclEntry[] = [];
  for (const text of items) {
    const item = parseAclItem(text);
    if (!item) continue;
    const grantee = ref(item.grantee, owner, ctx);
    const grantor = ref(item.grantor, owner, ctx);
    if (grantee === undefined || grantor === undefined) continue;
    for (const [privilege, grantable] of item.privileges) out.push({ grantee, grantor, privilege, grantable });
  }
  return out;
}

/** The name to record as an object's owner: BOOTSTRAP for OID 10. */
export function recordedOwner(oid: number, names: ReadonlyMap<number, string>): string {
  return oid === BOOTSTRAP_SUPERUSER_OID ? BOOTSTRAP : (names.get(oid) ?? `#${oid}`);
}
