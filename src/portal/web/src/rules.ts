// The rules for new roles, shown while typing. They mirror the server's
// (src/control/password-policy.ts and src/control/role-names.ts), which has the last word;
// test/portal/rules.test.ts checks that both agree. No DOM here: the tests import it.

export const MIN_PASSWORD_LENGTH = 8;
export const MAX_PASSWORD_LENGTH = 256;
export const MAX_ROLE_NAME_BYTES = 63;

export interface PasswordRule {
  readonly id: 'length' | 'classes' | 'max-length' | 'nul';
  readonly text: string;
  readonly met: boolean;
  /** Rules that are met by almost every password are shown only when broken. */
  readonly onlyWhenBroken?: boolean;
}

export interface CharacterClasses {
  readonly upper: boolean;
  readonly lower: boolean;
  readonly digit: boolean;
  readonly symbol: boolean;
}

export function characterClasses(password: string): CharacterClasses {
  return {
    upper: /\p{Lu}/u.test(password),
    lower: /\p{Ll}/u.test(password),
    digit: /\p{Nd}/u.test(password),
    symbol: /[^\p{Lu}\p{Ll}\p{Nd}]/u.test(password),
  };
}

export function passwordRules(password: string): PasswordRule[] {
  const length = [...password].length;
  const classes = Object.values(characterClasses(password)).filter(Boolean).length;
  return [
    { id: 'length', text: `At least ${MIN_PASSWORD_LENGTH} characters`, met: length >= MIN_PASSWORD_LENGTH },
    { id: 'classes', text: 'Characters from three of: upper-case letters, lower-case letters, digits, symbols', met: classes >= 3 },
    { id: 'max-length', text: `At most ${MAX_PASSWORD_LENGTH} characters`, met: length <= MAX_PASSWORD_LENGTH, onlyWhenBroken: true },
    { id: 'nul', text: 'No NUL characters', met: !password.includes('\0'), onlyWhenBroken: true },
  ];
}

export function passwordOk(password: string): boolean {
  return passwordRules(password).every((r) => r.met);
}

/** Names PostgreSQL refuses, and the roles that belong to PostgreSQL and pgwarden. */
const RESERVED = ['public', 'none', 'current_user', 'session_user', 'current_role'];
const RESERVED_EXACT = ['postgres', 'citus'];

export function utf8Length(s: string): number {
  return new TextEncoder().encode(s).length;
}

/** Why a name cannot be a new role's, or undefined if it can. */
export function roleNameProblem(name: string, existing: readonly string[]): string | undefined {
  if (name.length === 0) return 'Enter a name for the role.';
  const bytes = utf8Length(name);
  if (bytes > MAX_ROLE_NAME_BYTES) return `The name is ${bytes} bytes long; at most ${MAX_ROLE_NAME_BYTES} bytes are allowed.`;
  if (name.includes('\0')) return 'A name cannot contain a NUL character.';
  if (name.startsWith('pg_')) return 'Names starting with "pg_" belong to PostgreSQL.';
  if (RESERVED.includes(name.toLowerCase()) || RESERVED_EXACT.includes(name) || name.startsWith('pgwarden_')) return `"${name}" is a reserved name.`;
  if (existing.includes(name)) return `A role named "${name}" exists already.`;
  return undefined;
}
