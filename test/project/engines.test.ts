// pgwarden promises Node.js 20 and newer: no installed package may require more.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** True if an engines.node range excludes every Node 20 release. */
function excludesNode20(range: string): boolean {
  return range.split('||').every((part) => {
    const p = part.trim();
    const min = /^>=?\s*v?(\d+)/.exec(p) ?? /^\^\s*v?(\d+)/.exec(p) ?? /^v?(\d+)(?:\.|$)/.exec(p);
    if (!min) return false;
    const major = Number(min[1]);
    return /^\^|^\d/.test(p) ? major !== 20 : major > 20;
  });
}

function packages(dir: string): Array<{ name: string; version: string; node?: string }> {
  const out: Array<{ name: string; version: string; node?: string }> = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (name.startsWith('@')) {
      out.push(...packages(path));
      continue;
    }
    const manifest = join(path, 'package.json');
    if (existsSync(manifest)) {
      const j = JSON.parse(readFileSync(manifest, 'utf8')) as { name: string; version: string; engines?: { node?: string } };
      out.push({ name: j.name, version: j.version, ...(j.engines?.node ? { node: j.engines.node } : {}) });
    }
    if (existsSync(join(path, 'node_modules'))) out.push(...packages(join(path, 'node_modules')));
  }
  return out;
}

test('every installed package runs on Node.js 20', () => {
  const bad = packages('node_modules').filter((p) => p.node && excludesNode20(p.node));
  assert.deepEqual(
    bad.map((p) => `${p.name}@${p.version} needs node ${p.node}`),
    [],
  );
});

test('package.json declares node >= 20', () => {
  const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { engines: { node: string } };
  assert.equal(pkg.engines.node, '>=20');
});
