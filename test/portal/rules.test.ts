// The page's rules for new roles agree with the server's, which has the last word: a
// password or name the page accepts is one the API accepts, and the other way round.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { passwordCheck } from '../../src/control/password-policy.js';
import { checkRoleName } from '../../src/control/role-names.js';
import { passwordOk, passwordRules, roleNameProblem } from '../../src/portal/web/src/rules.js';

const characters = fc.oneof(fc.constantFrom('a', 'Z', '7', '#', ' ', 'é', 'Ä', '٣', '\0', '😀', '_'), fc.string({ unit: 'grapheme', maxLength: 1 }));

test('a password passes on the page exactly when the server takes it', () => {
  fc.assert(
    fc.property(
      fc.array(characters, { maxLength: 300 }).map((cs) => cs.join('')),
      (pw) => {
        assert.equal(passwordOk(pw), passwordCheck(pw).ok, JSON.stringify(pw));
      },
    ),
    { numRuns: 2000 },
  );
  for (const pw of ['Db-User-Passw0rd!', 'short1A', 'alllowercase', 'ALLUPPER123', 'no-digits-Here', 'x'.repeat(257) + 'A1']) {
    assert.equal(passwordOk(pw), passwordCheck(pw).ok, pw);
  }
});

test('the rules shown while typing', () => {
  assert.deepEqual(
    passwordRules('')
      .filter((r) => !r.onlyWhenBroken)
      .map((r) => [r.text, r.met]),
    [
      ['At least 8 characters', false],
      ['Characters from three of: upper-case letters, lower-case letters, digits, symbols', false],
    ],
  );
  assert.deepEqual(
    passwordRules('Db-User-Passw0rd!').map((r) => r.met),
    [true, true, true, true],
  );
});

test('a role name passes on the page exactly when the server takes it', () => {
  const names = fc.oneof(
    fc.array(characters, { maxLength: 70 }).map((cs) => cs.join('')),
    fc.constantFrom(
      'pg_x',
      'pgwarden_x',
      'public',
      'PUBLIC',
      'citus',
      'postgres',
      'None',
      'current_user',
      'db_user',
      'a'.repeat(63),
      'é'.repeat(32),
      'é'.repeat(31),
    ),
  );
  fc.assert(
    fc.property(names, (name) => {
      let server = true;
      try {
        checkRoleName(name);
      } catch {
        server = false;
      }
      assert.equal(roleNameProblem(name, []) === undefined, server, JSON.stringify(name));
    }),
    { numRuns: 2000 },
  );
  assert.equal(roleNameProblem('db_user', ['db_user']), 'A role named "db_user" exists already.');
  assert.equal(roleNameProblem('é'.repeat(32), []), 'The name is 64 bytes long; at most 63 bytes are allowed.');
});
