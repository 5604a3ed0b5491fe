// The three directory collections the Graph API serves, and how a request's query
// options ($filter, $select, $top) pick and shape their objects. Pure: a directory
// snapshot and the query in, the `value` array out.
// https://learn.microsoft.com/graph/query-parameters
import type { DirectoryData } from '../model.js';
import { graphRefuse } from './errors.js';
import { matches, parseFilter, type FilterTerm } from './odata-filter.js';

export type CollectionName = 'users' | 'servicePrincipals' | 'groups';

/** One object as Graph names its properties: every property is a string here. */
type GraphObject = Readonly<Record<string, string>>;

export interface Collection {
  readonly name: CollectionName;
  /** Graph's type name, for error messages (`microsoft.graph.user`). */
  readonly type: string;
  /** The properties served, in the order objects list them; all are selectable and filterable. */
  readonly properties: readonly string[];
  objects(data: DirectoryData): GraphObject[];
}

export const COLLECTIONS: readonly Collection[] = [
  {
    name: 'users',
    type: 'microsoft.graph.user',
    properties: ['id', 'displayName', 'userPrincipalName'],
    objects: (data) => data.users.map((u) => ({ id: u.objectId, displayName: u.displayName, userPrincipalName: u.userPrincipalName })),
  },
  {
    name: 'servicePrincipals',
    type: 'microsoft.graph.servicePrincipal',
    properties: ['id', 'appId', 'displayName'],
    objects: (data) => data.servicePrincipals.map((s) => ({ id: s.objectId, appId: s.appId, displayName: s.displayName })),
  },
  {
    name: 'groups',
    type: 'microsoft.graph.group',
    properties: ['id', 'displayName'],
    objects: (data) => data.groups.map((g) => ({ id: g.objectId, displayName: g.displayName })),
  },
];

/** Graph's default page size for directory objects, and its maximum. */
export const DEFAULT_TOP = 100;
export const MAX_TOP = 999;

/** The query options this subset takes; others starting with `$` are refused (silently
 * ignoring `$orderby` or `$skip` would give a client the wrong answer). Options are
 * matched case-insensitively, as Graph does. */
const OPTIONS = ['$filter', '$select', '$top'] as const;

export interface CollectionQuery {
  readonly filter?: readonly FilterTerm[];
  /** The properties to return, in the collection's order. */
  readonly select: readonly string[];
  readonly top: number;
}

/** The query options of a request (fastify's decoded query object), checked. */
export function parseQuery(collection: Collection, query: unknown): CollectionQuery {
  const given: Partial<Record<(typeof OPTIONS)[number], string>> = {};
  for (const [rawName, value] of Object.entries((query ?? {}) as Record<string, unknown>)) {
    if (!rawName.startsWith('$')) continue; // Graph ignores parameters that are not OData options
    const name = rawName.toLowerCase();
    const option = OPTIONS.find((o) => o === name);
    if (!option) throw graphRefuse.unsupported(`The query option '${rawName.slice(0, 40)}' is not supported here; use ${OPTIONS.join(', ')}.`);
    if (typeof value !== 'string' || given[option] !== undefined) throw graphRefuse.badRequest(`The query option '${option}' was given more than once.`);
    given[option] = value;
  }
  return {
    ...(given.$filter !== undefined ? { filter: parseFilter(given.$filter, collection.properties) } : {}),
    select: given.$select !== undefined ? parseSelect(collection, given.$select) : collection.properties,
    top: given.$top !== undefined ? parseTop(given.$top) : DEFAULT_TOP,
  };
}

function parseSelect(collection: Collection, select: string): string[] {
  const wanted = select.split(',').map((s) => s.trim());
  const out = new Set<string>();
  for (const w of wanted) {
    const known = collection.properties.find((p) => p.toLowerCase() === w.toLowerCase());
    if (!known) {
      const what = w === '' ? 'an empty property name' : `a property named '${w.slice(0, 100)}'`;
      throw graphRefuse.badRequest(
        `Parsing OData Select and Expand failed: Could not find ${what} on type '${collection.type}'. Selectable here: ${collection.properties.join(', ')}.`,
      );
    }
    out.add(known);
  }
  return collection.properties.filter((p) => out.has(p));
}

function parseTop(top: string): number {
  const n = /^\d{1,4}$/.test(top.trim()) ? Number(top.trim()) : NaN;
  if (!(n >= 1 && n <= MAX_TOP))
    throw graphRefuse.badRequest(`Invalid page size specified: '${top.slice(0, 20)}'. Must be between 1 and ${MAX_TOP} inclusive.`);
  return n;
}

/** The objects a query asks for: those matching any filter term, ordered by display name
 * then id, at most `top`, with the selected properties only. */
export function runQuery(collection: Collection, data: DirectoryData, query: CollectionQuery): GraphObject[] {
  const terms = query.filter;
  return collection
    .objects(data)
    .filter((o) => !terms || terms.some((t) => matches(t, o[t.property])))
    .sort((a, b) => a.displayName!.localeCompare(b.displayName!) || a.id!.localeCompare(b.id!))
    .slice(0, query.top)
    .map((o) => Object.fromEntries(query.select.map((p) => [p, o[p]!])));
}
