// Staged changes: what the page will do on Save, as the managed service's page works
// (choose, add, remove, then Save in the toolbar). Pure functions over plain data, so the
// rules are easy to read and to test. Passwords live only inside staged changes, in
// memory, until Save sends them; they are never rendered.
import { METHOD_LABELS, PRINCIPAL_TYPE_LABELS, type AuthMethod, type Principal, type Role, type SessionExpiry } from './types.js';

export type AdminType = 'user' | 'servicePrincipal';

export type ChangeBody =
  | { kind: 'method'; from: AuthMethod; to: AuthMethod }
  | { kind: 'session-expiry'; from: SessionExpiry; to: SessionExpiry }
  | { kind: 'add-admin'; name: string; type: AdminType; objectId?: string; appId?: string }
  | { kind: 'remove-admin'; name: string; type: Principal['type'] }
  | { kind: 'add-role'; name: string; password: string }
  | { kind: 'reset-password'; name: string; password: string }
  | { kind: 'delete-role'; name: string };

export type Change = ChangeBody & { readonly id: number };

let nextId = 1;
const withId = (c: ChangeBody): Change => ({ ...c, id: nextId++ });

export interface ServerState {
  readonly method: AuthMethod;
  /** Absent in states made before the setting existed: never. */
  readonly sessionExpiry?: SessionExpiry;
  readonly admins: readonly Principal[];
  readonly roles: readonly Role[];
}

// Staging

export function stageMethod(changes: readonly Change[], server: ServerState, to: AuthMethod): Change[] {
  const rest = changes.filter((c) => c.kind !== 'method');
  return to === server.method ? rest : [...rest, withId({ kind: 'method', from: server.method, to })];
}

export function stageSessionExpiry(changes: readonly Change[], server: ServerState, to: SessionExpiry): Change[] {
  const rest = changes.filter((c) => c.kind !== 'session-expiry');
  const from = server.sessionExpiry ?? 'never';
  return to === from ? rest : [...rest, withId({ kind: 'session-expiry', from, to })];
}

export function stageAddAdmins(
  changes: readonly Change[],
  server: ServerState,
  picked: ReadonlyArray<{ name: string; type: AdminType; objectId?: string; appId?: string }>,
): Change[] {
  let out = [...changes];
  for (const p of picked) {
    const removal = out.find((c) => c.kind === 'remove-admin' && c.name === p.name);
    if (removal) {
      out = out.filter((c) => c !== removal);
      continue;
    }
    if (server.admins.some((a) => a.name === p.name) || out.some((c) => c.kind === 'add-admin' && c.name === p.name)) continue;
    out.push(
      withId({ kind: 'add-admin', name: p.name, type: p.type, ...(p.objectId ? { objectId: p.objectId } : {}), ...(p.appId ? { appId: p.appId } : {}) }),
    );
  }
  return out;
}

export function stageRemoveAdmin(changes: readonly Change[], server: ServerState, name: string): Change[] {
  if (changes.some((c) => c.kind === 'add-admin' && c.name === name)) return changes.filter((c) => !(c.kind === 'add-admin' && c.name === name));
  const admin = server.admins.find((a) => a.name === name);
  if (!admin || changes.some((c) => c.kind === 'remove-admin' && c.name === name)) return [...changes];
  return [...changes, withId({ kind: 'remove-admin', name, type: admin.type })];
}

export function stageAddRole(changes: readonly Change[], name: string, password: string): Change[] {
  return [...changes, withId({ kind: 'add-role', name, password })];
}

export function stageResetPassword(changes: readonly Change[], name: string, password: string): Change[] {
  const added = changes.find((c) => c.kind === 'add-role' && c.name === name);
  if (added) return changes.map((c) => (c === added ? { ...c, password } : c));
  return [...changes.filter((c) => !(c.kind === 'reset-password' && c.name === name)), withId({ kind: 'reset-password', name, password })];
}

export function stageDeleteRole(changes: readonly Change[], name: string): Change[] {
  if (changes.some((c) => c.kind === 'add-role' && c.name === name))
    return changes.filter((c) => !('name' in c && c.name === name && (c.kind === 'add-role' || c.kind === 'reset-password')));
  return [...changes.filter((c) => !(c.kind === 'reset-password' && c.name === name)), withId({ kind: 'delete-role', name })];
}

export function unstage(changes: readonly Change[], id: number): Change[] {
  return changes.filter((c) => c.id !== id);
}

// What the page shows

export function effectiveMethod(changes: readonly Change[], server: ServerState): AuthMethod {
  const m = changes.find((c) => c.kind === 'method');
  return m && m.kind === 'method' ? m.to : server.method;
}

export function effectiveSessionExpiry(changes: readonly Change[], server: ServerState): SessionExpiry {
  const c = changes.find((x) => x.kind === 'session-expiry');
  return c && c.kind === 'session-expiry' ? c.to : (server.sessionExpiry ?? 'never');
}

export type RowStatus = 'saved' | 'added' | 'removed' | 'password';

export interface AdminRow {
  readonly name: string;
  readonly type: Principal['type'];
  readonly objectId?: string;
  /** Another OpenID Connect issuer's admin: its issuer. */
  readonly issuer?: string;
  readonly status: RowStatus;
  readonly changeId?: number;
}

export function adminRows(changes: readonly Change[], server: ServerState): AdminRow[] {
  const rows: AdminRow[] = server.admins.map((a) => {
    const removal = changes.find((c) => c.kind === 'remove-admin' && c.name === a.name);
    return {
      name: a.name,
      type: a.type,
      objectId: a.objectId,
      ...(a.issuer ? { issuer: a.issuer } : {}),
      status: removal ? 'removed' : 'saved',
      ...(removal ? { changeId: removal.id } : {}),
    };
  });
  for (const c of changes) {
    if (c.kind === 'add-admin') rows.push({ name: c.name, type: c.type, ...(c.objectId ? { objectId: c.objectId } : {}), status: 'added', changeId: c.id });
  }
  return rows;
}

export interface RoleRow {
  readonly name: string;
  readonly builtIn: boolean;
  readonly status: RowStatus;
  readonly changeId?: number;
}

export function roleRows(changes: readonly Change[], server: ServerState): RoleRow[] {
  const rows: RoleRow[] = server.roles.map((r) => {
    const deletion = changes.find((c) => c.kind === 'delete-role' && c.name === r.name);
    const reset = changes.find((c) => c.kind === 'reset-password' && c.name === r.name);
    const change = deletion ?? reset;
    return { name: r.name, builtIn: r.builtIn, status: deletion ? 'removed' : reset ? 'password' : 'saved', ...(change ? { changeId: change.id } : {}) };
  });
  for (const c of changes) if (c.kind === 'add-role') rows.push({ name: c.name, builtIn: false, status: 'added', changeId: c.id });
  return rows;
}

/** Role names taken now or after Save (a staged deletion frees its name only after Save). */
export function takenRoleNames(changes: readonly Change[], server: ServerState): string[] {
  return [...server.roles.map((r) => r.name), ...changes.flatMap((c) => (c.kind === 'add-role' ? [c.name] : []))];
}

export function describe(c: ChangeBody): string {
  switch (c.kind) {
    case 'method':
      return `Authentication methods: ${METHOD_LABELS[c.from]} → ${METHOD_LABELS[c.to]}`;
    case 'session-expiry':
      return c.to === 'token' ? 'End sessions when their access token expires' : 'Keep sessions after their access token expires';
    case 'add-admin':
      return `Add Microsoft Entra admin ${c.name} (${PRINCIPAL_TYPE_LABELS[c.type]})`;
    case 'remove-admin':
      return `Remove Microsoft Entra admin ${c.name}`;
    case 'add-role':
      return `Add PostgreSQL role ${c.name}`;
    case 'reset-password':
      return `Reset the password of ${c.name}`;
    case 'delete-role':
      return `Delete PostgreSQL role ${c.name}`;
  }
}

/**
 * The order of Save: admins and roles first, the authentication methods last, so that a
 * switch to Microsoft Entra only comes after its first admin exists, and the person who
 * saves keeps access until everything else is done.
 */
export function applyOrder(changes: readonly Change[]): Change[] {
  const rank: Record<Change['kind'], number> = {
    'add-admin': 0,
    'add-role': 1,
    'reset-password': 2,
    'delete-role': 3,
    'remove-admin': 4,
    'session-expiry': 5,
    method: 6,
  };
  return [...changes].sort((a, b) => rank[a.kind] - rank[b.kind] || a.id - b.id);
}

export interface Notice {
  readonly level: 'error' | 'warning';
  readonly text: string;
}

/** What the person should know before Save; errors block Save. */
export function notices(changes: readonly Change[], server: ServerState, me: { kind: 'citus' | 'entra'; name: string }): Notice[] {
  const out: Notice[] = [];
  const method = effectiveMethod(changes, server);
  const admins = adminRows(changes, server).filter((r) => r.status !== 'removed');
  if (method === 'entra' && admins.length === 0) {
    out.push({
      level: 'error',
      text: 'Add a Microsoft Entra admin before choosing Microsoft Entra authentication only: otherwise nobody could manage the cluster.',
    });
  }
  if (changes.some((c) => c.kind === 'method')) {
    if (me.kind === 'citus' && method === 'entra') {
      out.push({ level: 'warning', text: 'citus will be disabled, and you are signed in as citus: after Save, sign in with a Microsoft Entra admin.' });
    }
    if (me.kind === 'entra' && method === 'postgres') {
      out.push({ level: 'warning', text: 'Microsoft Entra authentication will be off, and you are signed in with it: after Save, sign in as citus.' });
    }
  }
  if (me.kind === 'entra' && changes.some((c) => c.kind === 'remove-admin' && c.name === me.name)) {
    out.push({ level: 'warning', text: 'You are removing yourself as a Microsoft Entra admin: you will lose access to this page.' });
  }
  return out;
}
