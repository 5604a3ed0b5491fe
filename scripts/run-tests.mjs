#!/usr/bin/env node
// Runs the test files under test/ (or those given) with node's test runner and tsx.
// Node 20's runner has no glob for .ts files, so this script finds them.
// Usage: node scripts/run-tests.mjs [path-or-substring ...]
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.test.ts') ? [p] : [];
  });
}

const filters = process.argv.slice(2);
const files = walk('test')
  .map((f) => relative('.', f))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error('no test files match');
  process.exit(1);
}
const args = ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-reporter=spec', ...files];
// Every process the tests start inherits this marker, so that the leftover check below
// finds this run's servers and never another run's.
const RUN_ID = `${process.pid}-${Date.now()}`;
const child = spawn(process.execPath, args, { stdio: 'inherit', env: { ...process.env, PGWARDEN_TEST_RUN: RUN_ID } });
child.on('exit', (code, signal) => {
  // The suite must leave no PostgreSQL server running: every test stops what it starts.
  const leftovers = postgresLeftovers();
  if (leftovers.length > 0) {
    console.error(`\n✖ PostgreSQL servers left running by the tests:\n${leftovers.join('\n')}`);
    for (const line of leftovers) {
      try {
        process.kill(Number(line.split(' ')[0]), 'SIGQUIT');
      } catch {
        /* gone */
      }
    }
    process.exit(1);
  }
  console.log('✔ no PostgreSQL server left running');
  process.exit(code ?? (signal ? 1 : 0));
});

/** postgres processes started by this run (they carry its marker in their environment). */
function postgresLeftovers() {
  const out = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
      if (!/\bpostgres\b/.test(cmd)) continue;
      if (readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`PGWARDEN_TEST_RUN=${RUN_ID}`)) out.push(`${pid} ${cmd.trim()}`);
    } catch {
      /* exited meanwhile, or not ours to read */
    }
  }
  return out;
}
