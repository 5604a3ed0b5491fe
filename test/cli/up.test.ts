// `pgwarden up` as a user runs it: the built CLI in a child process, its banner, its
// psql line, Ctrl-C, SIGKILL and a busy port.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { mkdir, readFile, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { makeDataDir, run, runCli, start, waitFor, PGWARDEN_BIN as BIN } from '../helpers/pgwarden.js';
import { alive } from '../helpers/pgwarden.js';

type Up = ReturnType<typeof start>;

function up(cwd: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): Up {
  return start(
    process.execPath,
    [BIN, 'up', '--port', '0', '--api-port', '0', '--idp-port', '0', ...args],
    { PGWARDEN_CITUS_PASSWORD: undefined, ...env },
    cwd,
  );
}

async function running(p: Up): Promise<string> {
  // A first start runs initdb for three nodes: on a machine shared with other suites that
  // took over 60 s once. A bound against a hang, not a timing.
  await waitFor(() => p.output().includes('Press Ctrl-C to stop.') || p.exitCode !== null, 180_000, 'pgwarden to start');
  assert.equal(p.exitCode, null, p.output());
  return p.output();
}

function exited(p: Up): Promise<number | null> {
  return p.exitCode !== null ? Promise.resolve(p.exitCode) : new Promise((resolve) => p.once('exit', (code) => resolve(code)));
}

async function serverPids(dataDir: string): Promise<number[]> {
  const pids: number[] = [];
  for (const node of ['coordinator', 'worker-1', 'worker-2']) {
    const text = await readFile(join(dataDir, 'nodes', node, 'postmaster.pid'), 'utf8').catch(() => '');
    if (text) pids.push(Number(text.split('\n')[0]));
  }
  return pids;
}

/** The psql line of the banner, with a query added. */
function psqlLine(banner: string): string {
  const line = banner.split('\n').find((l) => l.trim().startsWith('PGPASSWORD=$(cat'));
  assert.ok(line, `no psql line in:\n${banner}`);
  return `${line.trim()} -X -At -c 'select current_user'`;
}

test('first start: banner, password printed once, the psql line works as printed; Ctrl-C stops everything', async () => {
  const cwd = await makeDataDir();
  try {
    const p = up(cwd);
    const banner = await running(p);
    const saved = (await readFile(join(cwd, '.pgwarden', 'citus.password'), 'utf8')).trim();
    assert.match(banner, new RegExp(`citus has the password ${saved}`));
    for (const name of ['gateway', 'coordinator', 'worker-1', 'worker-2', 'TLS CA']) assert.match(banner, new RegExp(name));
    const r = await run('bash', ['-c', psqlLine(banner)], { cwd });
    assert.equal(r.stdout.trim(), 'citus', r.stderr);

    // The token lines of the banner, as printed (npx pgwarden run as this checkout's CLI).
    const lines = banner.split('\n');
    const from = lines.findIndex((l) => l.startsWith('Or with a Microsoft Entra token'));
    assert.ok(from > 0, `no token sign-in in:\n${banner}`);
    const script = lines
      .slice(from + 1, from + 4)
      .map((l) => l.trim().replace(/npx pgwarden/g, `node ${BIN}`))
      .join('\n');
    const admin = JSON.parse(await readFile(join(cwd, '.pgwarden', 'entra-admin.json'), 'utf8')) as { username: string; password: string };
    assert.match(banner, new RegExp(`with the password ${admin.password}`));
    const config = join(cwd, 'config');
    const entra = await run('bash', ['-c', `set -e\n${script}`], { cwd, env: { PGWARDEN_CONFIG_DIR: config }, timeoutMs: 60_000 });
    // login prints the accounts (as az login does), then psql prints the UPN as current_user.
    assert.match(entra.stdout, new RegExp(`"name": "${admin.username}"`), entra.stderr);
    assert.match(entra.stdout, new RegExp(`current_user *\\n-+\\n ${admin.username} *\\n\\(1 row\\)`), entra.stderr);
    const ossRdbms = await run(
      'bash',
      [
        '-c',
        `set -e\nexport PGPASSWORD=$(node ${BIN} account get-access-token --resource-type oss-rdbms --query accessToken -o tsv)\n${lines[from + 3]!.trim()}`,
      ],
      { cwd, env: { PGWARDEN_CONFIG_DIR: config }, timeoutMs: 60_000 },
    );
    assert.match(ossRdbms.stdout, new RegExp(`\\n ${admin.username} *\\n\\(1 row\\)`), ossRdbms.stderr);

    const pids = await serverPids(join(cwd, '.pgwarden'));
    assert.equal(pids.length, 3);
    p.kill('SIGINT');
    assert.equal(await exited(p), 0, p.output());
    assert.ok(
      pids.every((pid) => !alive(pid)),
      'a PostgreSQL server outlived pgwarden',
    );

    // The second start reuses everything and prints no password.
    const again = up(cwd);
    const banner2 = await running(again);
    assert.doesNotMatch(banner2, /has the password|with the password/);
    assert.doesNotMatch(banner2, new RegExp(saved));
    assert.doesNotMatch(banner2, new RegExp(admin.password));
    const r2 = await run('bash', ['-c', psqlLine(banner2)], { cwd });
    assert.equal(r2.stdout.trim(), 'citus', r2.stderr);
    again.kill('SIGTERM');
    assert.equal(await exited(again), 0);
  } finally {
    await rm(cwd, { recursive: true, force: true });
  }
});

/** The banner's command blocks: the indented lines under a line that ends in ':', up to
 * a blank line. Every other indented line belongs to the table under 'pgwarden is running.'. */
function commandBlocks(banner: string): { heading: string; lines: string[] }[] {
  const blocks: { heading: string; lines: string[] }[] = [];
  let table = false;
  let block: { heading: string; lines: string[] } | undefined;
  for (const line of banner.split('\n')) {
    if (line === '') {
      table = false;
      block = undefined;
    } else if (line === 'pgwarden is running.') {
      table = true;
    } else if (line.startsWith('  ')) {
      if (block) block.lines.push(line.trim());
      else assert.ok(table, `an indented line outside the table and any command block: ${line}`);
    } else if (line.endsWith(':')) {
      block = { heading: line, lines: [] };
      blocks.push(block);
    }
  }
  return blocks;
}

/** Runs lines of the banner exactly as printed, as one bash script in `cwd`. The citus
 * psql line has no -c: like a person at the prompt, it reads the query from stdin. */
function runAsPrinted(lines: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-c', `set -e\n${lines.join('\n')}`], { cwd, env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end('select current_user;\n');
  });
}

test('every command the banner prints runs exactly as printed, for the default data directory and another one, with one account store', async () => {
  // A project with pgwarden installed: `npx pgwarden` runs node_modules/.bin/pgwarden,
  // this checkout's CLI, without asking the registry.
  const cwd = await makeDataDir();
  await mkdir(join(cwd, 'node_modules', '.bin'), { recursive: true });
  await symlink(BIN, join(cwd, 'node_modules', '.bin', 'pgwarden'));
  const env = { PGWARDEN_CONFIG_DIR: join(cwd, 'config'), PGCONNECT_TIMEOUT: '10' };
  const first = up(cwd);
  const second = up(cwd, ['--data-dir', 'other']);
  try {
    const clusters = [
      { p: first, dataDir: join(cwd, '.pgwarden'), flag: '' },
      { p: second, dataDir: join(cwd, 'other'), flag: ' --data-dir other' },
    ];
    const entraBlocks: string[][] = [];
    for (const { p, dataDir, flag } of clusters) {
      const banner = await running(p);
      const admin = JSON.parse(await readFile(join(dataDir, 'entra-admin.json'), 'utf8')) as { username: string };
      const blocks = commandBlocks(banner);
      assert.deepEqual(
        blocks.map((b) => b.heading),
        ['Sign in through the gateway as citus:', 'Or with a Microsoft Entra token as the admin:'],
        banner,
      );
      const [citus, entra] = [blocks[0]!, blocks[1]!];
      assert.ok(
        entra.lines.every((l) => !l.includes('pgwarden ') || l.includes(`pgwarden login${flag} `) || l.includes(`pgwarden account get-access-token${flag} `)),
        banner,
      );
      const asCitus = await runAsPrinted(citus.lines, cwd, env);
      assert.match(asCitus.stdout, /\n citus *\n\(1 row\)/, `${citus.lines.join('\n')}\n${asCitus.stderr}`);
      // After the login, this cluster's admin is the default account.
      const asAdmin = await runAsPrinted(entra.lines, cwd, env);
      assert.match(asAdmin.stdout, new RegExp(`"name": "${admin.username}"`), asAdmin.stderr);
      assert.match(asAdmin.stdout, new RegExp(`\\n ${admin.username} *\\n\\(1 row\\)`), `${entra.lines.join('\n')}\n${asAdmin.stderr}`);
      entraBlocks.push(entra.lines.filter((l) => !l.includes('pgwarden login')));
    }
    // The token lines again, with the other cluster's admin as the default account: each
    // still gets its own cluster's token (the default data directory by the working directory).
    for (const [i, lines] of entraBlocks.entries()) {
      const admin = JSON.parse(await readFile(join(clusters[i]!.dataDir, 'entra-admin.json'), 'utf8')) as { username: string };
      const again = await runAsPrinted(lines, cwd, env);
      assert.match(again.stdout, new RegExp(`\\n ${admin.username} *\\n\\(1 row\\)`), `${lines.join('\n')}\n${again.stderr}`);
    }
    for (const p of [first, second]) {
      p.kill('SIGINT');
      assert.equal(await exited(p), 0, p.output());
    }
  } finally {
    // SIGINT, not SIGKILL: the PostgreSQL servers would outlive a killed pgwarden.
    for (const p of [first, second]) if (p.exitCode === null) p.kill('SIGINT');
    await Promise.all([first, second].map(exited));
    await rm(cwd, { recursive: true, force: true });
  }
});

test('after a SIGKILL of pgwarden the next start cleans up and runs', async () => {
  const cwd = await makeDataDir();
  try {
    const first = up(cwd, [], { PGWARDEN_CITUS_PASSWORD: 'Given-Passw0rd' });
    const banner = await running(first);
    assert.doesNotMatch(banner, /has the password/, 'a given password is not printed');
    const orphans = await serverPids(join(cwd, '.pgwarden'));
    first.kill('SIGKILL');
    await exited(first);
    assert.ok(orphans.every(alive), 'the servers outlive a SIGKILLed parent');

    const second = up(cwd);
    const banner2 = await running(second);
    assert.ok(
      orphans.every((pid) => !alive(pid)),
      'the orphaned servers were stopped',
    );
    const r = await run('bash', ['-c', psqlLine(banner2)], { cwd });
    assert.equal(r.stdout.trim(), 'citus', r.stderr);
    const pids = await serverPids(join(cwd, '.pgwarden'));
    second.kill('SIGINT');
    assert.equal(await exited(second), 0);
    assert.ok(pids.every((pid) => !alive(pid)));
  } finally {
    await rm(cwd, { recursive: true, force: true });
  }
});

test('a port in use is a one-line error that names --port, and nothing is left running', async () => {
  const cwd = await makeDataDir();
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const port = (blocker.address() as AddressInfo).port;
  try {
    const r = await runCli(['up', '--port', String(port), '--api-port', '0', '--idp-port', '0'], { cwd, timeoutMs: 60_000 });
    assert.equal(r.code, 5);
    const lines = r.stderr
      .trim()
      .split('\n')
      .filter((l) => !l.startsWith('{'));
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, new RegExp(`port ${port} .* in use.*--port`));
    const pids = await serverPids(join(cwd, '.pgwarden'));
    assert.ok(pids.every((pid) => !alive(pid)));
  } finally {
    blocker.close();
    await rm(cwd, { recursive: true, force: true });
  }
});

test('bad options are refused with a clear message', async () => {
  const r = await runCli(['up', '--port', 'seventy']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /--port.*whole number/);
});
