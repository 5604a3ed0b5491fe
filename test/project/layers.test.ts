// The source tree's arrows point down: no import cycle between files, and no folder of
// src/ importing a folder above it. The layers, from the bottom:
//
//   util                                  errors, SQL quoting, files, logs
//   protocol scram tls observability     pure codecs and primitives; metrics
//   catalog idp                           pgwarden's schema, role names, what gateways read; the embedded provider
//   identity cluster                      token verification; the cluster and its admin connections
//   reconcile gateway                     workers brought along; the PostgreSQL front door
//   control                               the control plane's operations
//   api                                   REST API
//   portal                                the portal (an API plugin)
//   (src/pgwarden.ts)                     the composition root
//   cli                                   the command line
//
// Imports are read from the source text (static `import ... from '...'`, `export ...
// from '...'` and `import('...')` of relative paths); src/portal/web is the browser's
// own program and is left out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';

const SRC = new URL('../../src/', import.meta.url).pathname;

const RANK: Record<string, number> = {
  util: 0,
  protocol: 1,
  scram: 1,
  tls: 1,
  observability: 1,
  catalog: 2,
  idp: 2,
  identity: 3,
  cluster: 3,
  reconcile: 4,
  gateway: 4,
  control: 5,
  api: 6,
  portal: 7,
  '(root)': 8,
  cli: 9,
};

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return p === join(SRC, 'portal', 'web') ? [] : sources(p);
    return p.endsWith('.ts') ? [p] : [];
  });
}

/** Each file's relative imports, as files under src/ (".js" in the specifier is the ".ts" file). */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sources(SRC)) {
    const text = readFileSync(file, 'utf8');
    const targets = [...text.matchAll(/(?:from|import\()\s*'(\.{1,2}\/[^']+)'/g)].map((m) =>
      relative(SRC, normalize(join(dirname(file), m[1]!.replace(/\.js$/, '.ts')))),
    );
    graph.set(relative(SRC, file), [...new Set(targets)]);
  }
  return graph;
}

const folderOf = (file: string): string => (file.includes('/') ? file.split('/')[0]! : '(root)');

test('no import cycle between files of src/', () => {
  const graph = importGraph();
  const state = new Map<string, 'open' | 'done'>();
  const cycles: string[] = [];
  const visit = (file: string, path: string[]): void => {
    if (state.get(file) === 'done') return;
    if (state.get(file) === 'open') {
      cycles.push([...path.slice(path.indexOf(file)), file].join(' -> '));
      return;
    }
    state.set(file, 'open');
    for (const next of graph.get(file) ?? []) if (graph.has(next)) visit(next, [...path, file]);
    state.set(file, 'done');
  };
  for (const file of graph.keys()) visit(file, []);
  assert.deepEqual(cycles, []);
});

test('no folder of src/ imports a folder above it', () => {
  const graph = importGraph();
  const upward: string[] = [];
  for (const [file, targets] of graph) {
    const from = folderOf(file);
    assert.ok(from in RANK, `${from}/ has no layer in this test: give it one`);
    for (const target of targets) {
      const to = folderOf(target);
      if (to !== from && (RANK[to] ?? Infinity) >= RANK[from]!) upward.push(`${file} -> ${target}`);
    }
  }
  assert.deepEqual(upward, []);
});
