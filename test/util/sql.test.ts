import { test } from 'node:test';
import assert from 'node:assert/strict';
import { quoteIdent, quoteLiteral } from '../../src/util/sql.js';

// How PostgreSQL reads the quoted forms back, to check round trips.

/** A double-quoted identifier: "" stands for one ". */
function readIdent(quoted: string): string {
  assert.match(quoted, /^"(?:[^"]|"")+"$/s);
  return quoted.slice(1, -1).replace(/""/g, '"');
}

/** A standard string '...' ('' stands for ') or an escape string E'...' (\\ for \ as well). */
function readLiteral(quoted: string): string {
  const escaped = quoted.startsWith("E'");
  const body = quoted.slice(escaped ? 2 : 1, -1);
  assert.ok(quoted.endsWith("'"));
  assert.match(body, escaped ? /^(?:[^'\\]|''|\\\\)*$/s : /^(?:[^']|'')*$/s);
  const unquoted = body.replace(/''/g, "'");
  return escaped ? unquoted.replace(/\\\\/g, '\\') : unquoted;
}

const TRICKY = [
  'bob',
  'MixedCase',
  'with space',
  'alice@contoso.com',
  'a"b',
  '"',
  '""',
  "o'brien",
  "'",
  'back\\slash',
  '\\',
  'it\'s "all" \\ here',
  'jürgen',
  '山田太郎',
  '🐘',
  'semi;colon -- comment /* c */',
  'new\nline\ttab',
];

test('quoteIdent: always double quotes, so case, spaces and @ survive', () => {
  assert.equal(quoteIdent('bob'), '"bob"');
  assert.equal(quoteIdent('MixedCase'), '"MixedCase"');
  assert.equal(quoteIdent('with space'), '"with space"');
  assert.equal(quoteIdent('alice@contoso.com'), '"alice@contoso.com"');
  assert.equal(quoteIdent('select'), '"select"');
});

test('quoteIdent: double quotes are doubled; single quotes and backslashes are left alone', () => {
  assert.equal(quoteIdent('a"b'), '"a""b"');
  assert.equal(quoteIdent('"'), '""""');
  assert.equal(quoteIdent('"x"'), '"""x"""');
  assert.equal(quoteIdent("o'brien"), `"o'brien"`);
  assert.equal(quoteIdent('back\\slash'), '"back\\slash"');
});

test('quoteIdent: unicode is kept as it is', () => {
  assert.equal(quoteIdent('jürgen'), '"jürgen"');
  assert.equal(quoteIdent('山田太郎'), '"山田太郎"');
  assert.equal(quoteIdent('🐘'), '"🐘"');
});

test('quoteIdent: an empty identifier or one with NUL is refused', () => {
  assert.throws(() => quoteIdent(''), { name: 'RangeError', message: 'an SQL identifier cannot be empty' });
  assert.throws(() => quoteIdent('a\0b'), { name: 'RangeError', message: 'an SQL identifier cannot contain a NUL character' });
  assert.throws(() => quoteIdent('\0'), RangeError);
});

test('quoteIdent: round trip', () => {
  for (const name of TRICKY) assert.equal(readIdent(quoteIdent(name)), name, name);
});

test('quoteLiteral: single quotes are doubled', () => {
  assert.equal(quoteLiteral('abc'), "'abc'");
  assert.equal(quoteLiteral(''), "''");
  assert.equal(quoteLiteral("o'brien"), "'o''brien'");
  assert.equal(quoteLiteral("'"), "''''");
  assert.equal(quoteLiteral("''"), "''''''");
});

test('quoteLiteral: double quotes, spaces, @, case and unicode are left alone', () => {
  assert.equal(quoteLiteral('a"b'), `'a"b'`);
  assert.equal(quoteLiteral('Alice Smith@Contoso.com'), "'Alice Smith@Contoso.com'");
  assert.equal(quoteLiteral('zoë 山田 🐘'), "'zoë 山田 🐘'");
  // A SCRAM verifier, as bootstrap sends it.
  const verifier = 'SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=';
  assert.equal(quoteLiteral(verifier), `'${verifier}'`);
});

test('quoteLiteral: a backslash forces the E form, with backslashes doubled', () => {
  assert.equal(quoteLiteral('back\\slash'), "E'back\\\\slash'");
  assert.equal(quoteLiteral('\\'), "E'\\\\'");
  assert.equal(quoteLiteral("it's C:\\dir"), "E'it''s C:\\\\dir'");
  // A backslash before a quote cannot escape it.
  assert.equal(quoteLiteral("\\'"), "E'\\\\'''");
});

test('quoteLiteral: NUL is refused', () => {
  assert.throws(() => quoteLiteral('a\0b'), { name: 'RangeError', message: 'an SQL literal cannot contain a NUL character' });
  assert.throws(() => quoteLiteral('\0'), RangeError);
});

test('quoteLiteral: round trip', () => {
  for (const value of ['', ...TRICKY]) assert.equal(readLiteral(quoteLiteral(value)), value, value);
});
