// Output the way the Azure CLI prints it, so that scripts written for `az` work with
// pgwarden unchanged: `--query` is JMESPath (the real library), `-o json` is indented
// JSON with sorted keys, `-o tsv` prints values without keys, tab-separated, one row per
// list item, object values in key order (knack's _TsvOutput).
// https://learn.microsoft.com/cli/azure/format-output-azure-cli
// https://learn.microsoft.com/cli/azure/query-azure-cli
import jmespath from 'jmespath';
import { PgwardenError } from '../util/errors.js';

export type AzOutput = 'json' | 'tsv' | 'none';
export const AZ_OUTPUTS: readonly AzOutput[] = ['json', 'tsv', 'none'];

export function applyQuery(value: unknown, query: string | undefined): unknown {
  if (query === undefined) return value;
  try {
    return jmespath.search(value, query);
  } catch (e) {
    throw new PgwardenError('INVALID_INPUT', `argument --query: invalid jmespath_type value: '${query}' (${(e as Error).message})`);
  }
}

/** The text to print; nothing for `none` or for a query that selected nothing (as az). */
export function formatAz(value: unknown, output: AzOutput): string {
  if (output === 'none' || value === null || value === undefined) return '';
  if (output === 'json') return `${JSON.stringify(sortKeys(value), null, 2)}\n`;
  const rows = Array.isArray(value) ? value : [value];
  return rows.map((row) => `${tsvRow(row)}\n`).join('');
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort(pythonOrder)
        .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

/** Python sorts strings by code point; so does this (JavaScript's default sorts UTF-16 units). */
function pythonOrder(a: string, b: string): number {
  const x = [...a].map((c) => c.codePointAt(0)!);
  const y = [...b].map((c) => c.codePointAt(0)!);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}

function tsvRow(row: unknown): string {
  if (Array.isArray(row)) return row.map(tsvCell).join('\t');
  if (row && typeof row === 'object') {
    return Object.keys(row)
      .sort(pythonOrder)
      .map((k) => tsvCell((row as Record<string, unknown>)[k]))
      .join('\t');
  }
  if (typeof row === 'boolean') return String(row);
  return tsvCell(row);
}

/** A nested list prints its length, a nested object nothing, null nothing, booleans as Python's. */
function tsvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (Array.isArray(v)) return String(v.length);
  if (typeof v === 'object') return '';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  return String(v);
}
