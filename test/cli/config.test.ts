// The configuration file: `pgwarden config check`, `pgwarden config show`, and
// `pgwarden up --config FILE` (the built CLI in a child process, as an operator runs it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildProgram } from '../../src/cli/main.js';
import { CONFIG_KEYS, attributeOf } from '../../src/cli/config-keys.js';
import { makeDataDir, run, runCli, start, waitFor, PGWARDEN_BIN } from '../helpers/pgwarden.js';

async function withDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await makeDataDir('pgwarden-config-');
  try {
    await body(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('every option of up is a key of the file, and docs/cli.md documents each key with its default', async () => {
  const up = buildProgram().commands.find((c) => c.name() === 'up')!;
  const options = up.options.map((o) => o.attributeName()).filter((a) => a !== 'config' && a !== 'citusPassword');
  assert.deepEqual(options.sort(), Object.keys(CONFIG_KEYS).map(attributeOf).sort());
  const doc = await readFile(new URL('../../docs/cli.md', import.meta.url), 'utf8');
  for (const key of Object.keys(CONFIG_KEYS)) {
    const row = doc.split('\n').find((l) => l.startsWith(`| \`${key}\` | \`--${key}`));
    assert.ok(row, `docs/cli.md has no row for the key ${key}`);
    assert.ok(row.split('|')[3]!.trim().length > 0, `docs/cli.md gives no default for ${key}`);
  }
  const reload = doc.slice(doc.indexOf('### Reload without restart'), doc.indexOf('## Managing the cluster'));
  for (const [key, spec] of Object.entries(CONFIG_KEYS)) {
    if (spec.reload) assert.match(reload, new RegExp(`\`${key}\``), `docs/cli.md's reload section does not name ${key}`);
  }
});

test('config check: a good file passes; unknown keys, bad values, secrets and bad YAML are refused naming file, line and key', async () => {
  await withDir(async (dir) => {
    const check = async (text: string): Promise<{ code: number | null; out: string }> => {
      const file = join(dir, 'pgwarden.yaml');
      await writeFile(file, text);
      const r = await runCli(['config', 'check', file], { cwd: dir });
      return { code: r.code, out: (r.stdout + r.stderr).trim().replace(file, 'FILE') };
    };
    const good = await check('# a comment\nport: 6432\nmax-connections: 500\nentra-audience: [https://a.example, https://b.example]\nlog-level: debug\n');
    assert.deepEqual(good, { code: 0, out: 'FILE: valid (4 settings)' });
    assert.deepEqual(await check(''), { code: 0, out: 'FILE: valid (0 settings)' });
    assert.deepEqual(await check('coordinator: "host=a,b port=5432,5433 target_session_attrs=read-write"\n'), { code: 0, out: 'FILE: valid (1 setting)' });

    const refused: Array<[string, RegExp]> = [
      ['port: 6432\nmax-conections: 500\n', /^pgwarden: FILE:2: unknown key "max-conections" \(did you mean max-connections\?\)$/],
      ['port: 6432\n\nmax-connections: ten\n', /^pgwarden: FILE:3: max-connections: expected a whole number, not "ten"$/],
      ['port: 70000\n', /^pgwarden: FILE:1: port: expected a port, a whole number from 0 to 65535, not 70000$/],
      ['log-level: loud\n', /^pgwarden: FILE:1: log-level: expected trace, debug, info, warn, error, not "loud"$/],
      ['coordinator: host=c\nworker:\n  - host=w1\n  - 12\n', /^pgwarden: FILE:4: worker: expected a libpq connection string, or a list of them$/],
      ['port: 1\nport: 2\n', /^pgwarden: FILE:2: not valid YAML: Map keys must be unique/],
      ['port: [1\n', /^pgwarden: FILE:\d: not valid YAML/],
      ['- port\n', /^pgwarden: FILE:1: expected keys and values/],
      ['citus-password: Secret-1\n', /^pgwarden: FILE:1: citus-password: a secret does not go in the file; set PGWARDEN_CITUS_PASSWORD/],
      ['worker: host=w1\n', /^pgwarden: --worker goes with --coordinator/],
      [
        'coordinator: "host=a,b target_session_attrs=standby"\n',
        /^pgwarden: FILE:1: coordinator: invalid connection string \(target_session_attrs "standby": pgwarden writes to every node, so it takes any/,
      ],
      ['coordinator: "host=a,b,c port=1,2"\n', /^pgwarden: FILE:1: coordinator: invalid connection string \(3 hosts and 2 ports\)/],
    ];
    for (const [text, expected] of refused) {
      const r = await check(text);
      assert.equal(r.code, 2, `${text}\n${r.out}`);
      assert.match(r.out, expected, text);
    }
    // A password in a connection string is refused, and never shown.
    const r = await check('coordinator: "host=c password=Hush-Hush-42"\n');
    assert.equal(r.code, 2);
    assert.match(r.out, /^pgwarden: FILE:1: coordinator: a password does not go in the file; set PGPASSWORD/);
    assert.doesNotMatch(r.out, /Hush-Hush-42/);
    const missing = await runCli(['config', 'check', join(dir, 'nope.yaml')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /nope\.yaml: no such file/);
  });
});

test('config show: defaults, the file, the environment and the command line, in that order, secrets masked', async () => {
  await withDir(async (dir) => {
    await writeFile(join(dir, 'p.yaml'), 'data-dir: state\nport: 6000\nmax-connections: 500\n');
    const r = await runCli(['config', 'show', '--config', join(dir, 'p.yaml'), '--port', '7000', '--worker', 'host=w1', '--coordinator', 'host=c'], {
      env: { PGWARDEN_CITUS_PASSWORD: 'Citus-Hush-43', PGPASSWORD: 'Pg-Hush-44' },
    });
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n');
    const line = (key: string): string => lines.find((l) => l.startsWith(`${key}:`) || l.startsWith(`# ${key}:`)) ?? '';
    assert.equal(line('data-dir'), `data-dir: ${join(dir, 'state')}  # ${join(dir, 'p.yaml')}`);
    assert.equal(line('port'), 'port: 7000  # command line');
    assert.equal(line('max-connections'), `max-connections: 500  # ${join(dir, 'p.yaml')}`);
    assert.equal(line('auth-timeout'), 'auth-timeout: 30  # default');
    assert.equal(line('worker'), 'worker: [host=w1]  # command line');
    assert.equal(line('pool-port'), '# pool-port: (not set)');
    assert.match(line('citus-password'), /^# citus-password: \*{8} /);
    assert.match(line('PGPASSWORD'), /^# PGPASSWORD: \*{8} /);
    assert.doesNotMatch(r.stdout + r.stderr, /Hush/);
  });
});

test('no secret on the command line: --citus-password and a password in --coordinator or --worker are refused, naming the variable', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['--citus-password', 'Visible-In-Ps-1'], /--citus-password on the command line .* set PGWARDEN_CITUS_PASSWORD/],
    [['--coordinator', 'host=c password=Visible-In-Ps-1'], /--coordinator: a password on the command line .* set PGPASSWORD/],
    [['--coordinator', 'host=c', '--worker', 'host=w1', 'postgresql://u:Visible-In-Ps-1@w2/db'], /--worker: a password on the command line .* set PGPASSWORD/],
  ];
  for (const command of ['up', 'config show']) {
    for (const [args, expected] of cases) {
      const r = await runCli([...command.split(' '), ...args]);
      assert.equal(r.code, 2, `${command} ${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, expected);
      assert.doesNotMatch(r.stderr, /Visible-In-Ps-1/);
    }
  }
});

test('up --config: a bad file stops it before anything starts; a good one is used, options override it, paths are relative to it', async () => {
  await withDir(async (dir) => {
    const cwd = await makeDataDir();
    try {
      await writeFile(join(dir, 'bad.yaml'), 'data-dir: state\nworkers: many\n');
      const bad = await runCli(['up', '--config', join(dir, 'bad.yaml')], { cwd });
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /bad\.yaml:2: workers: expected a whole number/);
      assert.ok(!existsSync(join(dir, 'state')), 'nothing was created');

      // port 1 in the file would fail (in use or not allowed); the command line's 0 wins.
      await writeFile(join(dir, 'pgwarden.yaml'), 'data-dir: state\nworkers: 1\nport: 1\napi-port: 0\nidp-port: 0\nlog-level: debug\n');
      const p = start(
        process.execPath,
        [PGWARDEN_BIN, 'up', '--config', join(dir, 'pgwarden.yaml'), '--port', '0'],
        { PGWARDEN_CITUS_PASSWORD: undefined },
        cwd,
      );
      try {
        await waitFor(() => p.output().includes('Press Ctrl-C to stop.') || p.exitCode !== null, 120_000, 'pgwarden to start');
        assert.equal(p.exitCode, null, p.output());
        const banner = p.output();
        assert.match(banner, new RegExp(`data +${join(dir, 'state')}\\n`));
        assert.match(banner, /worker-1/);
        assert.doesNotMatch(banner, /worker-2/);
        const psqlLine = banner.split('\n').find((l) => l.trim().startsWith('PGPASSWORD=$(cat'))!;
        const r = await run('bash', ['-c', `${psqlLine.trim()} -X -At -c 'select current_user'`], { cwd });
        assert.equal(r.stdout.trim(), 'citus', r.stderr);
        const log = await readFile(join(dir, 'state', 'logs', 'pgwarden.log'), 'utf8');
        assert.match(log, /"level":20/, 'log-level debug from the file');
      } finally {
        if (p.exitCode === null) p.kill('SIGINT');
        await new Promise((resolve) => (p.exitCode !== null ? resolve(null) : p.once('exit', resolve)));
      }
      assert.equal(p.exitCode, 0, p.output());
    } finally {
      await rm(cwd, { recursive: true, force: true });
    }
  });
});
