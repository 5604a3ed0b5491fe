#!/usr/bin/env node
// `npm test` runs this before anything else: the tests drive real clients from the
// system (psql, pgbench, Debian's chromium), and a fresh machine has none of them.
// One line says what is missing and how to get it, instead of a run that fails later.
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';

const onPath = (cmd) => (process.env.PATH ?? '').split(delimiter).some((dir) => dir && existsSync(join(dir, cmd)));
const missing = [];
if (!onPath('psql') || !onPath('pgbench')) missing.push('postgresql-client');
// The portal tests launch this exact path (never a downloaded browser).
if (!existsSync('/usr/bin/chromium')) missing.push('chromium');
if (missing.length > 0) {
  console.error(`npm test needs system packages first: sudo apt-get install -y ${missing.join(' ')}   (Debian/Ubuntu; psql, pgbench and /usr/bin/chromium)`);
  process.exit(1);
}
