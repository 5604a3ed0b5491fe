// The tree stays as Prettier writes it (npm run format), and no line of code is longer than
// the 160 columns Prettier aims for: Prettier leaves long strings, templates and regexes
// alone, so the line length is checked on its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = new URL('../../', import.meta.url).pathname;
const MAX_LINE = 160;

/** The globs of package.json's format:check script ("bin/*.js" and the like). */
function formatCheckGlobs(): string[] {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  const script = pkg.scripts['format:check']!;
  assert.match(script, /^prettier --check /);
  const globs = [...script.matchAll(/"([^"]+)"/g)].map((m) => m[1]!);
  assert.ok(globs.length > 0, `no globs in ${script}`);
  return globs;
}

test('the tree is formatted with Prettier (npm run format:check)', () => {
  // The cache (by content, kept in node_modules/.cache) skips the files found formatted before:
  // a second run takes about a second instead of several.
  const cache = ['--cache', '--cache-strategy', 'content', '--cache-location', 'node_modules/.cache/prettier/format-test'];
  const r = spawnSync(join(ROOT, 'node_modules/.bin/prettier'), ['--check', ...cache, ...formatCheckGlobs()], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, `prettier --check failed (run npm run format):\n${r.stdout}${r.stderr}${r.error ?? ''}`);
});

test(`no line of code is longer than ${MAX_LINE} characters`, () => {
  const files = execFileSync('git', ['ls-files', '-z', '--', '*.ts', '*.tsx', '*.mjs', '*.js'], { cwd: ROOT, encoding: 'utf8' })
    .split('\0')
    .filter((f) => f !== '');
  assert.ok(files.length > 0);
  const long: string[] = [];
  for (const file of files) {
    readFileSync(join(ROOT, file), 'utf8')
      .split('\n')
      .forEach((line, i) => {
        const length = [...line].length;
        if (length > MAX_LINE) long.push(`${file}:${i + 1}: ${length}`);
      });
  }
  assert.deepEqual(long, [], `lines longer than ${MAX_LINE} characters (split the string, template or regex):\n${long.join('\n')}`);
});
