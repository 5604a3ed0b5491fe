// The one place where SQL identifiers and literals are built from strings.
// Every statement pgwarden sends with a name or value in it goes through these two
// functions (or through a bind parameter), never through bare concatenation.

/** Quotes an identifier as PostgreSQL's quote_ident() does, always with double quotes,
 * so that case, spaces, quotes and `@` survive exactly. */
export function quoteIdent(name: string): string {
  if (name.length === 0) throw new RangeError('an SQL identifier cannot be empty');
  if (name.includes('\0')) throw new RangeError('an SQL identifier cannot contain a NUL character');
  return '"' + name.replace(/"/g, '""') + '"';
}

/** Quotes a literal as PostgreSQL's quote_literal() does: backslashes force the E'' form,
 * so the result is right whatever standard_conforming_strings says. */
export function quoteLiteral(value: string): string {
  if (value.includes('\0')) throw new RangeError('an SQL literal cannot contain a NUL character');
  const body = value.replace(/'/g, "''");
  return value.includes('\\') ? "E'" + body.replace(/\\/g, '\\\\') + "'" : "'" + body + "'";
}

/** PostgreSQL truncates identifiers to NAMEDATALEN-1 bytes; pgwarden refuses instead. */
export const MAX_IDENTIFIER_BYTES = 63;
