// pgwarden installed like a tool: `npm pack`, then `npm install -g` of that tarball into a
// fresh prefix, then the installed `pgwarden` run from another directory, as an operator
// would (docs/deploy.md). Nothing of this checkout is on the installed command's path.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir, rm } from 'node:fs/promises';
import { get } from 'node:https';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeDataDir, run, start, waitFor } from '../helpers/pgwarden.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const NPM = 'npm';

let dir: string;
let installed: string;

before(async () => {
  dir = await makeDataDir('pgwarden-install-');
  // The tarball of this checkout as built by the test run's `npm run build` (npm test builds
  // first). `--ignore-scripts`: the prepack script would build again, and rebuilding
  // dist/ under the other tests running now would pull it from under them.
  const pack = await run(NPM, ['pack', '--ignore-scripts', '--pack-destination', dir], { cwd: ROOT, timeoutMs: 120_000 });
  assert.equal(pack.code, 0, pack.stderr);
  const tarball = (await readdir(dir)).find((f) => f.endsWith('.tgz'));
  assert.ok(tarball, `npm pack made no tarball:\n${pack.stdout}\n${pack.stderr}`);
  // The dependencies come from npm's cache, filled by the `npm install` before the tests.
  const prefix = join(dir, 'prefix');
  const install = await run(NPM, ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', join(dir, tarball)], {
    cwd: dir,
    timeoutMs: 300_000,
  });
  assert.equal(install.code, 0, install.stderr);
  installed = join(prefix, 'bin', 'pgwarden');
});

after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('the installed pgwarden --version prints the package version, from any directory', async () => {
  const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const cwd = await makeDataDir();
  try {
    const r = await run(installed, ['--version'], { cwd });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), pkg.version);
  } finally {
    await rm(cwd, { recursive: true, force: true });
  }
});

test('the installed pgwarden up runs from another directory: the banner commands work as printed, the portal is served, Ctrl-C stops it', async () => {
  const cwd = await makeDataDir();
  // PATH has the installed command first: the banner's `pgwarden login` must be that one.
  const env = { PATH: `${join(dir, 'prefix', 'bin')}:${process.env.PATH}`, PGWARDEN_CONFIG_DIR: join(cwd, 'config'), PGCONNECT_TIMEOUT: '10' };
  const p = start(installed, ['up', '--port', '0', '--api-port', '0', '--idp-port', '0'], { ...env, PGWARDEN_CITUS_PASSWORD: undefined }, cwd);
  try {
    await waitFor(() => p.output().includes('Press Ctrl-C to stop.') || p.exitCode !== null, 120_000, 'pgwarden to start');
    assert.equal(p.exitCode, null, p.output());
    const banner = p.output();
    assert.doesNotMatch(banner, /npx pgwarden/, 'an installed pgwarden is not run through npx');
    const lines = banner.split('\n');
    const citus = lines.find((l) => l.trim().startsWith('PGPASSWORD=$(cat'));
    assert.ok(citus, banner);
    const asCitus = await run('bash', ['-c', `${citus.trim()} -X -At -c 'select current_user'`], { cwd, env });
    assert.equal(asCitus.stdout.trim(), 'citus', asCitus.stderr);
    const from = lines.findIndex((l) => l.startsWith('Or with a Microsoft Entra token'));
    assert.ok(from > 0, banner);
    const entra = await run('bash', ['-c', `set -e\n${lines.slice(from + 1, from + 4).join('\n')}`], { cwd, env, timeoutMs: 60_000 });
    const admin = JSON.parse(await readFile(join(cwd, '.pgwarden', 'entra-admin.json'), 'utf8')) as { username: string };
    assert.match(entra.stdout, new RegExp(`\\n ${admin.username} *\\n\\(1 row\\)`), entra.stderr);

    // The portal's page comes from the installed package, not from the working directory.
    const apiUrl = /API, portal\s+(https:\/\/\S+)/.exec(banner)?.[1];
    assert.ok(apiUrl, banner);
    const page = await httpsGet(apiUrl + '/', await readFile(join(cwd, '.pgwarden', 'tls', 'ca.crt'), 'utf8'));
    assert.equal(page.status, 200, page.body);
    assert.match(page.body, /<script[^>]+src="\/assets\//);

    p.kill('SIGINT');
    assert.equal(await exited(p), 0, p.output());
  } finally {
    if (p.exitCode === null) p.kill('SIGINT');
    await exited(p);
    await rm(cwd, { recursive: true, force: true });
  }
});

function exited(p: ReturnType<typeof start>): Promise<number | null> {
  return p.exitCode !== null ? Promise.resolve(p.exitCode) : new Promise((resolve) => p.once('exit', (code) => resolve(code)));
}

function httpsGet(url: string, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get(url, { ca }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}
