// Statements that change a server session beyond their transaction. On the transaction
// pool's port the next transaction may run on another server session, and this one goes
// to another client: such a statement would silently leak its state to a stranger (a
// SET), or lose it (a LISTEN, a session advisory lock, a WITH HOLD cursor, a temporary
// table, an SQL-level PREPARE). PgBouncer documents the same list and lets them through;
// pgwarden refuses what it can see in the statement text, and says why.
//
// Hand-written: what is needed is only the first words of each statement and the
// function names outside quotes and comments, not a full SQL parser (a parser such as
// libpg_query would be a native dependency for this one question). The scanner knows
// PostgreSQL's lexical rules for what can hide a word: '...' strings (with '' and E''
// escapes), "..." identifiers, $tag$...$tag$ strings, -- and nested /* */ comments.
// https://www.postgresql.org/docs/current/sql-syntax-lexical.html
import { quoteLiteral } from '../../util/sql.js';

/** Session advisory locks (the *_xact_* ones end with their transaction and are fine). */
const SESSION_LOCKS = new Set(['PG_ADVISORY_LOCK', 'PG_ADVISORY_LOCK_SHARED', 'PG_TRY_ADVISORY_LOCK', 'PG_TRY_ADVISORY_LOCK_SHARED']);

interface Statement {
  /** Its words outside quotes and comments, upper-cased (identifiers in "..." are not words). */
  readonly words: string[];
}

/** Splits `sql` into statements' words (at top-level semicolons). */
function statements(sql: string): Statement[] {
  const out: Statement[] = [];
  let words: string[] = [];
  const n = sql.length;
  let i = 0;
  while (i < n) {
    const c = sql[i]!;
    if (c === ';') {
      if (words.length > 0) out.push({ words });
      words = [];
      i++;
    } else if (c === '-' && sql[i + 1] === '-') {
      const end = sql.indexOf('\n', i);
      i = end < 0 ? n : end + 1;
    } else if (c === '/' && sql[i + 1] === '*') {
      let depth = 1;
      i += 2;
      while (i < n && depth > 0) {
        if (sql[i] === '/' && sql[i + 1] === '*') (depth++, (i += 2));
        else if (sql[i] === '*' && sql[i + 1] === '/') (depth--, (i += 2));
        else i++;
      }
    } else if (c === "'") {
      const escapes = i > 0 && /[eE]/.test(sql[i - 1]!) && !/[A-Za-z0-9_$]/.test(sql[i - 2] ?? ' ');
      i = skipQuoted(sql, i + 1, "'", escapes);
    } else if (c === '"') {
      i = skipQuoted(sql, i + 1, '"', false);
    } else if (c === '$') {
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i, i + 64));
      if (tag) {
        const end = sql.indexOf(tag[0], i + tag[0].length);
        i = end < 0 ? n : end + tag[0].length;
      } else i++;
    } else if (/[A-Za-z_]/.test(c)) {
      let j = i + 1;
      while (j < n && /[A-Za-z0-9_$]/.test(sql[j]!)) j++;
      words.push(sql.slice(i, j).toUpperCase());
      i = j;
    } else i++;
  }
  if (words.length > 0) out.push({ words });
  return out;
}

/** The index after the closing quote (a doubled quote is part of the text). */
function skipQuoted(sql: string, from: number, quote: string, backslashEscapes: boolean): number {
  let i = from;
  while (i < sql.length) {
    const c = sql[i]!;
    if (backslashEscapes && c === '\\') i += 2;
    else if (c === quote) {
      if (sql[i + 1] === quote) i += 2;
      else return i + 1;
    } else i++;
  }
  return sql.length;
}

/** What `statement` would leave on the server session, or undefined. */
function leak({ words }: Statement): string | undefined {
  const [first, second] = words;
  if (first === 'SET' && !['LOCAL', 'TRANSACTION', 'CONSTRAINTS'].includes(second ?? '')) return 'SET (a session setting)';
  if (first === 'RESET') return 'RESET (a session setting)';
  if (first === 'LISTEN') return 'LISTEN';
  if (first === 'PREPARE' && second !== 'TRANSACTION') return 'PREPARE (an SQL prepared statement)';
  if (first === 'DEALLOCATE') return 'DEALLOCATE';
  if (first === 'DISCARD') return 'DISCARD';
  if (first === 'DECLARE') {
    const hold = words.findIndex((w, k) => w === 'HOLD' && words[k - 1] === 'WITH');
    const cursorFor = words.indexOf('FOR');
    if (hold >= 0 && (cursorFor < 0 || hold < cursorFor)) return 'a WITH HOLD cursor';
  }
  if (first === 'CREATE') {
    const temp = words.slice(1, 4).some((w) => w === 'TEMP' || w === 'TEMPORARY');
    const dropsOnCommit = words.some((w, k) => w === 'DROP' && words[k - 1] === 'COMMIT' && words[k - 2] === 'ON');
    if (temp && !dropsOnCommit) return 'a temporary object that outlives its transaction (add ON COMMIT DROP)';
  }
  const lock = words.find((w) => SESSION_LOCKS.has(w));
  if (lock) return `${lock.toLowerCase()}() (a session advisory lock; pg_advisory_xact_lock() is fine)`;
  return undefined;
}

/** Every word a refusal starts from: a text with none of them (most queries) needs no scan. */
const MAYBE = /set|listen|prepare|deallocate|discard|declare|temp|advisory/i;

/** The first thing in `sql` that would outlive its transaction on a shared server
 * session, described for an error message; undefined when there is none. */
export function sessionStateIn(sql: string): string | undefined {
  if (!MAYBE.test(sql)) return undefined;
  for (const s of statements(sql)) {
    const found = leak(s);
    if (found) return found;
  }
  return undefined;
}

/** The statement that runs instead of one that would leak session state: an error with
 * the reason, raised by PostgreSQL itself, so that the transaction's state stays true. */
export function refusal(what: string): string {
  const message = `${what} is not supported on the transaction pool port: after each transaction the server session serves other clients`;
  const hint = 'Keep the setting inside a transaction (SET LOCAL, pg_advisory_xact_lock, ON COMMIT DROP), or connect to the session port.';
  return (
    "DO $pgwarden$BEGIN RAISE EXCEPTION USING ERRCODE = 'feature_not_supported', " +
    `MESSAGE = ${quoteLiteral(message)}, HINT = ${quoteLiteral(hint)}; END$pgwarden$`
  );
}
