// The subset of OData's $filter that the provider's Graph API takes, as a pure parser:
//   filter := term ( 'or' term )*
//   term   := 'startswith' '(' PROPERTY ',' STRING ')'  |  PROPERTY 'eq' STRING
//   STRING := "'" ( any character but "'" | "''" )* "'"
// Keywords and function names are case-insensitive; PROPERTY is one of the names the
// caller allows (matched case-insensitively, returned as the caller spells it). Anything
// else (other functions and operators, and/not, parentheses, numbers, a malformed string)
// is refused with a message that says what and where.
// https://docs.oasis-open.org/odata/odata/v4.01/odata-v4.01-part2-url-conventions.html#sec_SystemQueryOptionfilter
// https://learn.microsoft.com/graph/filter-query-parameter
import { graphRefuse } from './errors.js';

/** Graph refuses longer filters too (its limit is on the whole URL). */
export const MAX_FILTER_LENGTH = 1000;

export interface FilterTerm {
  readonly op: 'startswith' | 'eq';
  readonly property: string;
  /** The literal, unquoted (`''` made `'`). */
  readonly value: string;
}

type Token =
  | { readonly kind: 'name'; readonly text: string; readonly at: number }
  | { readonly kind: 'string'; readonly value: string; readonly at: number }
  | { readonly kind: 'punct'; readonly text: '(' | ')' | ','; readonly at: number };

/** OData operators and functions this subset does not take, to name them in the refusal. */
const OPERATORS = ['and', 'not', 'ne', 'gt', 'ge', 'lt', 'le', 'in', 'has', 'add', 'sub', 'mul', 'div', 'mod', 'any', 'all'];

const unsupported = (what: string) =>
  graphRefuse.unsupported(`Unsupported query: ${what}. Supported: startswith(property,'text') and property eq 'text', joined by or.`);

function tokenize(filter: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < filter.length) {
    const c = filter[i]!;
    if (c === ' ' || c === '\t') {
      i++;
    } else if (c === "'") {
      const at = i;
      let value = '';
      i++;
      for (;;) {
        if (i >= filter.length)
          throw graphRefuse.unsupported(`Invalid filter clause: the string literal at position ${at} has no closing quote (write a quote inside it as '').`);
        if (filter[i] === "'") {
          if (filter[i + 1] !== "'") break;
          value += "'";
          i += 2;
        } else {
          value += filter[i];
          i++;
        }
      }
      i++;
      tokens.push({ kind: 'string', value, at });
    } else if (c === '(' || c === ')' || c === ',') {
      tokens.push({ kind: 'punct', text: c, at: i });
      i++;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_./]*/.exec(filter.slice(i))!;
      tokens.push({ kind: 'name', text: m[0], at: i });
      i += m[0].length;
    } else {
      throw graphRefuse.unsupported(`Invalid filter clause: unexpected character '${c}' at position ${i}.`);
    }
  }
  return tokens;
}

/** The terms of `filter`, any of which an object must match. */
export function parseFilter(filter: string, properties: readonly string[]): FilterTerm[] {
  if (filter.length > MAX_FILTER_LENGTH) throw graphRefuse.unsupported(`Invalid filter clause: longer than ${MAX_FILTER_LENGTH} characters.`);
  const tokens = tokenize(filter);
  if (tokens.length === 0) throw graphRefuse.unsupported('Invalid filter clause: the filter is empty.');
  let pos = 0;
  const peek = (): Token | undefined => tokens[pos];
  const next = (expected: string): Token => {
    const t = tokens[pos++];
    if (!t) throw graphRefuse.unsupported(`Invalid filter clause: it ends where ${expected} was expected.`);
    return t;
  };
  const show = (t: Token): string => (t.kind === 'string' ? `'${t.value.replace(/'/g, "''")}'` : t.text);
  const expectPunct = (text: '(' | ')' | ',', expected: string): void => {
    const t = next(expected);
    if (t.kind !== 'punct' || t.text !== text)
      throw graphRefuse.unsupported(`Invalid filter clause: expected ${expected} at position ${t.at}, found ${show(t)}.`);
  };
  const property = (): string => {
    const t = next('a property name');
    if (t.kind !== 'name') throw graphRefuse.unsupported(`Invalid filter clause: expected a property name at position ${t.at}, found ${show(t)}.`);
    const known = properties.find((p) => p.toLowerCase() === t.text.toLowerCase());
    if (!known)
      throw graphRefuse.unsupported(
        `Unsupported or invalid query filter clause specified for property '${t.text}'. Filterable here: ${properties.join(', ')}.`,
      );
    return known;
  };
  const literal = (): string => {
    const t = next('a string literal');
    if (t.kind !== 'string')
      throw graphRefuse.unsupported(`Invalid filter clause: expected a string literal in single quotes at position ${t.at}, found ${show(t)}.`);
    return t.value;
  };

  const term = (): FilterTerm => {
    const first = peek();
    if (first?.kind === 'punct' && first.text === '(') throw unsupported('parentheses');
    if (first?.kind === 'name' && OPERATORS.includes(first.text.toLowerCase())) throw unsupported(`the operator '${first.text}'`);
    const after = tokens[pos + 1];
    if (first?.kind === 'name' && after?.kind === 'punct' && after.text === '(') {
      if (first.text.toLowerCase() !== 'startswith') throw unsupported(`the function '${first.text}'`);
      pos += 2;
      const p = property();
      expectPunct(',', "','");
      const value = literal();
      expectPunct(')', "')'");
      return { op: 'startswith', property: p, value };
    }
    const p = property();
    const op = next("'eq'");
    if (op.kind !== 'name') throw graphRefuse.unsupported(`Invalid filter clause: expected 'eq' at position ${op.at}, found ${show(op)}.`);
    if (op.text.toLowerCase() !== 'eq') {
      throw OPERATORS.includes(op.text.toLowerCase())
        ? unsupported(`the operator '${op.text}'`)
        : graphRefuse.unsupported(`Invalid filter clause: expected 'eq' at position ${op.at}, found ${op.text}.`);
    }
    return { op: 'eq', property: p, value: literal() };
  };

  const terms = [term()];
  while (pos < tokens.length) {
    const t = tokens[pos++]!;
    if (t.kind === 'name' && t.text.toLowerCase() === 'or') {
      terms.push(term());
    } else if (t.kind === 'name' && OPERATORS.includes(t.text.toLowerCase())) {
      throw unsupported(`the operator '${t.text}'`);
    } else {
      throw graphRefuse.unsupported(`Invalid filter clause: expected 'or' or the end at position ${t.at}, found ${show(t)}.`);
    }
  }
  return terms;
}

/** Whether a value matches a term: case-insensitive, as Graph compares names and ids. */
export function matches(term: FilterTerm, value: string | undefined): boolean {
  if (value === undefined) return false;
  const v = value.toLowerCase();
  const lit = term.value.toLowerCase();
  return term.op === 'eq' ? v === lit : v.startsWith(lit);
}
