// Reads pgwarden's configuration file (YAML, a mapping of the keys in config-keys.ts) and
// checks it whole: a syntax error, an unknown key, a secret or a bad value is refused
// with the file, the line and the key named, before anything starts.
// YAML: https://yaml.org/spec/1.2.2/ (the `yaml` package keeps every node's position).
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { isMap, isScalar, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { z } from 'zod';
import { PgwardenError } from '../util/errors.js';
import { parseConnInfo } from '../cluster/conninfo.js';
import { CONFIG_KEYS, SECRETS, attributeOf, closestKey } from './config-keys.js';

export interface ConfigFile {
  /** The file as given, for messages. */
  readonly file: string;
  /** Values by key (`max-connections`), paths resolved against the file's directory. */
  readonly values: ReadonlyMap<string, unknown>;
}

/** The file's settings, or a PgwardenError (CONFIG_INVALID) naming the file, line and key. */
export async function readConfigFile(file: string): Promise<ConfigFile> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new PgwardenError('CONFIG_INVALID', `${file}: ${code === 'ENOENT' ? 'no such file' : `cannot read it (${code ?? (e as Error).message})`}`);
  }
  return parseConfig(file, text);
}

export function parseConfig(file: string, text: string): ConfigFile {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number | undefined): string => `${file}:${offset === undefined ? 1 : lines.linePos(offset).line}`;
  const first = doc.errors[0];
  if (first) throw new PgwardenError('CONFIG_INVALID', `${at(first.pos[0])}: not valid YAML: ${first.message.split('\n')[0]}`);

  const values = new Map<string, unknown>();
  if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) return { file, values };
  if (!isMap(doc.contents)) throw new PgwardenError('CONFIG_INVALID', `${at(doc.contents.range[0])}: expected keys and values (key: value), one a line`);

  for (const pair of doc.contents.items) {
    const keyNode = pair.key as Node | null;
    const key = isScalar(keyNode) ? String(keyNode.value) : undefined;
    const where = at(keyNode?.range?.[0]);
    if (key === undefined) throw new PgwardenError('CONFIG_INVALID', `${where}: a key must be a plain name`);
    if (SECRETS[key]) {
      throw new PgwardenError('CONFIG_INVALID', `${where}: ${key}: a secret does not go in the file; set ${SECRETS[key]} in pgwarden's environment`);
    }
    const spec = CONFIG_KEYS[key];
    if (!spec) {
      const near = closestKey(key);
      throw new PgwardenError('CONFIG_INVALID', `${where}: unknown key ${JSON.stringify(key)}${near ? ` (did you mean ${near}?)` : ''}`);
    }
    const raw = (pair.value as Node | null)?.toJSON() as unknown;
    const parsed = spec.schema.safeParse(raw);
    const valueWhere = at(valueOffset(doc, key, parsed.success ? undefined : parsed.error) ?? keyNode?.range?.[0]);
    if (!parsed.success) {
      const shown = spec.conninfo || raw === null || typeof raw === 'object' ? '' : `, not ${JSON.stringify(raw)}`;
      throw new PgwardenError('CONFIG_INVALID', `${valueWhere}: ${key}: expected ${spec.expected}${shown}`);
    }
    let value = parsed.data;
    if (spec.conninfo) checkConninfo(value as string | string[], key, valueWhere);
    if (spec.path) value = resolve(dirname(resolve(file)), value as string);
    values.set(key, value);
  }
  return { file, values };
}

/** Where the bad part of a value starts (an item of a list), when zod says which. */
function valueOffset(doc: Document, key: string, error: z.ZodError | undefined): number | undefined {
  const path = error ? itemPath(error.issues) : [];
  const node = (doc.getIn([key, ...path.filter((p) => typeof p === 'number')], true) ?? doc.getIn([key], true)) as Node | undefined;
  return node?.range?.[0];
}

/** The path to the first bad item, also inside a union's alternatives (zod 4: `errors`). */
function itemPath(issues: readonly z.core.$ZodIssue[]): PropertyKey[] {
  for (const issue of issues) {
    if (issue.path.some((p) => typeof p === 'number')) return issue.path;
    for (const alternative of issue.code === 'invalid_union' ? issue.errors : []) {
      const inner = itemPath(alternative);
      if (inner.length > 0) return [...issue.path, ...inner];
    }
  }
  return [];
}

/** A connection string in the file must parse and carry no password (PGPASSWORD does). */
function checkConninfo(value: string | string[], key: string, where: string): void {
  for (const c of Array.isArray(value) ? value : [value]) {
    let password: string | undefined;
    try {
      password = parseConnInfo(c).password;
    } catch (e) {
      throw new PgwardenError('CONFIG_INVALID', `${where}: ${key}: ${(e as Error).message}`);
    }
    if (password !== undefined) {
      throw new PgwardenError('CONFIG_INVALID', `${where}: ${key}: a password does not go in the file; set PGPASSWORD in pgwarden's environment`);
    }
  }
}

/** The file's values as commander's option values (`maxConnections`). */
export function asOptionValues(config: ConfigFile): Map<string, unknown> {
  return new Map([...config.values].map(([k, v]) => [attributeOf(k), v]));
}
