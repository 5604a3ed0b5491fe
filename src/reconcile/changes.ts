// A change is one idempotent statement for one worker, with a description that is safe
// to log and to show (the SQL itself may carry a verifier, so only `describe` ever leaves
// this module's callers).

export type Category = 'role' | 'membership' | 'setting' | 'privilege' | 'default-privilege' | 'drop';

export const CATEGORIES: readonly Category[] = ['role', 'membership', 'setting', 'privilege', 'default-privilege', 'drop'];

/** Order of application on a worker: a role exists before it is granted anything; a
 * grant option exists before someone grants with it; a role goes last. */
export const PHASE = {
  createRole: 0,
  alterRole: 1,
  membershipBySuperuser: 2,
  membershipByRole: 3,
  setting: 4,
  privilegeByOwner: 5,
  privilegeByGrantee: 6,
  defaultPrivilege: 7,
  dropRole: 8,
} as const;

export interface Change {
  readonly category: Category;
  readonly phase: number;
  /** The database to run it in; undefined: any (shared catalogs). */
  readonly database?: string;
  /** The statement. May hold a secret: never log it, never report it. */
  readonly sql: string;
  /** What it does, without secrets: for logs, errors and reports. */
  readonly describe: string;
  /** True when `sql` holds a secret (a verifier): errors then report only the SQLSTATE. */
  readonly secret?: boolean;
}

export type Counts = Record<Category, number>;

export function emptyCounts(): Counts {
  return { role: 0, membership: 0, setting: 0, privilege: 0, 'default-privilege': 0, drop: 0 };
}

export function countChanges(changes: readonly Change[]): Counts {
  const c = emptyCounts();
  for (const ch of changes) c[ch.category]++;
  return c;
}

const LABELS: Record<Category, [string, string]> = {
  role: ['role', 'roles'],
  membership: ['membership', 'memberships'],
  setting: ['role setting', 'role settings'],
  privilege: ['privilege', 'privileges'],
  'default-privilege': ['default privilege', 'default privileges'],
  drop: ['role to drop', 'roles to drop'],
};

/** "3 roles, 12 privileges"; '' when nothing. Counts statements, not rows. */
export function summarise(counts: Counts): string {
  return CATEGORIES.filter((c) => counts[c] > 0)
    .map((c) => `${counts[c]} ${LABELS[c][counts[c] === 1 ? 0 : 1]}`)
    .join(', ');
}

export function total(counts: Counts): number {
  return CATEGORIES.reduce((n, c) => n + counts[c], 0);
}
