// Passwords for native roles, as the managed service asks: at least 8 characters, from
// at least three of: upper-case letters, lower-case letters, digits, symbols.
import { PgwardenError } from '../util/errors.js';

export const MIN_PASSWORD_LENGTH = 8;
/** Longer passwords gain nothing and make PBKDF2 input unbounded. */
export const MAX_PASSWORD_LENGTH = 256;

export interface PasswordCheck {
  readonly ok: boolean;
  /** One line per rule, for forms that show the rules while typing. */
  readonly rules: ReadonlyArray<{ rule: string; met: boolean }>;
}

export function passwordCheck(password: string): PasswordCheck {
  const chars = [...password];
  const classes = [/\p{Lu}/u, /\p{Ll}/u, /\p{Nd}/u, /[^\p{Lu}\p{Ll}\p{Nd}]/u].filter((re) => re.test(password)).length;
  const rules = [
    { rule: `at least ${MIN_PASSWORD_LENGTH} characters`, met: chars.length >= MIN_PASSWORD_LENGTH },
    { rule: `at most ${MAX_PASSWORD_LENGTH} characters`, met: chars.length <= MAX_PASSWORD_LENGTH },
    { rule: 'characters from three of: upper-case letters, lower-case letters, digits, symbols', met: classes >= 3 },
    { rule: 'no NUL characters', met: !password.includes('\0') },
  ];
  return { ok: rules.every((r) => r.met), rules };
}

export function checkPassword(password: unknown): string {
  if (typeof password !== 'string') throw new PgwardenError('INVALID_INPUT', 'a password is required');
  const check = passwordCheck(password);
  if (!check.ok) {
    const missing = check.rules.filter((r) => !r.met).map((r) => r.rule);
    throw new PgwardenError('INVALID_INPUT', `the password is too weak: it needs ${missing.join('; ')}`);
  }
  return password;
}
