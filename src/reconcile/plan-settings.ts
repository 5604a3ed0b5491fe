// ALTER ROLE ... [IN DATABASE ...] SET: per-role settings, everywhere or in one database.
//
// pg_db_role_setting keeps each value as one flattened string. Writing it back takes
// care: for the few settings whose elements PostgreSQL quotes as identifiers
// (GUC_LIST_QUOTE: search_path and friends), a single string literal would become one
// element, so such a value is split into its elements and each is given as its own
// literal, exactly as pg_dump does (dumputils.c, makeAlterConfigCommand).
// https://www.postgresql.org/docs/current/sql-alterrole.html
import { quoteIdent, quoteLiteral } from '../util/sql.js';
import { PHASE, type Change } from './changes.js';
import { objectKey, type RoleSettingRow, type SharedCatalog } from './model.js';
import type { RoleUniverse } from './universe.js';

/** Settings flagged GUC_LIST_QUOTE in PostgreSQL (pg_dump's variable_is_guc_list_quote). */
const LIST_QUOTE_SETTINGS: ReadonlySet<string> = new Set([
  'local_preload_libraries',
  'search_path',
  'session_preload_libraries',
  'shared_preload_libraries',
  'temp_tablespaces',
  'unix_socket_directories',
]);

/**
 * Splits a GUC_LIST_QUOTE value into its elements, as PostgreSQL's SplitGUCList does:
 * comma-separated, surrounding whitespace dropped, "double-quoted" elements keep
 * everything inside with "" for a quote; unquoted elements are taken as they are.
 * Returns undefined for a value it cannot split (then the value goes as one literal).
 */
export function splitGucList(value: string): string[] | undefined {
  const out: string[] = [];
  let i = 0;
  const space = (ch: string | undefined): boolean => ch !== undefined && /\s/.test(ch);
  while (space(value[i])) i++;
  if (i === value.length) return out;
  for (;;) {
    let element = '';
    if (value[i] === '"') {
      i++;
      for (;;) {
        if (i >= value.length) return undefined;
        if (value[i] === '"') {
          if (value[i + 1] === '"') {
            element += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        element += value[i++];
      }
    } else {
      while (i < value.length && value[i] !== ',' && !space(value[i])) element += value[i++];
      if (element.length === 0) return undefined;
    }
    out.push(element);
    while (space(value[i])) i++;
    if (i === value.length) return out;
    if (value[i] !== ',') return undefined;
    i++;
    while (space(value[i])) i++;
  }
}

/** The right-hand side of SET name = ... for a stored value. */
export function settingValueSql(name: string, value: string): string {
  if (LIST_QUOTE_SETTINGS.has(name.toLowerCase())) {
    const elements = splitGucList(value);
    if (elements !== undefined) return elements.length === 0 ? "''" : elements.map(quoteLiteral).join(', ');
  }
  return quoteLiteral(value);
}

export function planSettings(coordinator: SharedCatalog, worker: SharedCatalog, universe: RoleUniverse): Change[] {
  const onBoth = (db: string): boolean =>
    db === '' || (coordinator.databases.has(objectKey('database', [db])) && worker.databases.has(objectKey('database', [db])));
  const index = (rows: readonly RoleSettingRow[]): Map<string, RoleSettingRow> =>
    new Map(rows.filter((r) => universe.managed.has(r.role) && onBoth(r.database)).map((r) => [JSON.stringify([r.role, r.database]), r]));
  const want = index(coordinator.settings);
  const have = index(worker.settings);
  const changes: Change[] = [];
  for (const k of new Set([...want.keys(), ...have.keys()])) {
    const w = want.get(k);
    const h = have.get(k);
    const { role, database } = (w ?? h)!;
    const target = `ALTER ROLE ${quoteIdent(role)}${database ? ` IN DATABASE ${quoteIdent(database)}` : ''}`;
    const where = database ? ` in database "${database}"` : '';
    const wanted = w?.settings ?? new Map<string, string>();
    const held = h?.settings ?? new Map<string, string>();
    for (const [name, value] of wanted) {
      if (held.get(name) === value) continue;
      changes.push({
        category: 'setting',
        phase: PHASE.setting,
        sql: `${target} SET ${quoteIdent(name)} = ${settingValueSql(name, value)}`,
        describe: `role "${role}"${where}: set ${name}`,
      });
    }
    for (const name of held.keys()) {
      if (wanted.has(name)) continue;
      changes.push({
        category: 'setting',
        phase: PHASE.setting,
        sql: `${target} RESET ${quoteIdent(name)}`,
        describe: `role "${role}"${where}: reset ${name}`,
      });
    }
  }
  return changes;
}
