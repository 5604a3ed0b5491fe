// One account store for every cluster on the machine, as az keeps one: two running
// pgwardens, each with its own embedded provider and tenant, signed in to from the same
// configuration directory. `--data-dir` (or the working directory of a cluster) chooses
// the cluster's tenant; `-t` still chooses by tenant; an account whose provider does not
// run is named in the error, with its tenant and how to choose another.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { claimsOf } from '../idp/helpers.js';
import { makeDataDir, psql, runCli, startTestPgwarden, type TestPgwarden } from '../helpers/pgwarden.js';

let root: string;
let a: TestPgwarden;
let b: TestPgwarden;
let aRunning = false;
let bRunning = false;

before(async () => {
  root = await makeDataDir();
  await mkdir(join(root, 'a'), { mode: 0o711 });
  await mkdir(join(root, 'b'), { mode: 0o711 });
  // Each cluster in its own project directory, in the default data directory `.pgwarden`.
  a = await startTestPgwarden({}, join(root, 'a', '.pgwarden'));
  aRunning = true;
  b = await startTestPgwarden({}, join(root, 'b', '.pgwarden'));
  bRunning = true;
});
after(async () => {
  if (aRunning) await a.stop();
  if (bRunning) await b.stop();
  await rm(root, { recursive: true, force: true });
});

function admin(pw: TestPgwarden): { username: string; password: string } {
  assert.ok(pw.seededAdmin, 'a new data directory seeds its first user');
  return pw.seededAdmin;
}

let n = 0;
function profile(): NodeJS.ProcessEnv {
  return { PGWARDEN_CONFIG_DIR: join(root, `config-${++n}`) };
}

const cli = (env: NodeJS.ProcessEnv, cwd: string, ...args: string[]) => runCli(args, { env, cwd });

async function login(env: NodeJS.ProcessEnv, pw: TestPgwarden): Promise<void> {
  const { username, password } = admin(pw);
  const r = await cli(env, root, 'login', '-u', username, '-p', password, '--data-dir', pw.dataDir);
  assert.equal(r.code, 0, r.stderr);
}

/** `get-access-token` run in `cwd`: the token, or the failed run. */
async function token(env: NodeJS.ProcessEnv, cwd: string, ...args: string[]): Promise<string> {
  const r = await cli(env, cwd, 'account', 'get-access-token', '--query', 'accessToken', '-o', 'tsv', ...args);
  assert.equal(r.code, 0, `get-access-token ${args.join(' ')} in ${cwd}: ${r.stderr}`);
  assert.match(r.stdout, /^eyJ[\w-]+\.[\w-]+\.[\w-]+\n$/);
  return r.stdout.trim();
}

async function signsIn(pw: TestPgwarden, accessToken: string): Promise<boolean> {
  const r = await psql(pw.conn(admin(pw).username), 'select current_user', accessToken);
  return r.code === 0 && r.stdout.trim() === admin(pw).username;
}

test("a data directory left in the working directory draws no other account's credentials to its server", async () => {
  const env = profile();
  await login(env, a);
  // A crafted ./.pgwarden naming A's tenant and a server of its own (here: a listener that
  // records what reaches it). A's account was signed in through A's data directory only.
  const cwd = join(root, 'crafted');
  await mkdir(join(cwd, '.pgwarden', 'idp'), { recursive: true });
  const seen: string[] = [];
  const trap = createServer((s) => {
    seen.push('connection');
    s.destroy();
  });
  await new Promise<void>((r) => trap.listen(0, '127.0.0.1', r));
  try {
    const port = (trap.address() as AddressInfo).port;
    await writeFile(
      join(cwd, '.pgwarden', 'idp', 'endpoint.json'),
      JSON.stringify({ authority: `https://localhost:${port}`, tenantId: a.idp!.tenantId, tenantDomain: 'crafted' }),
    );
    // Without --data-dir: the default account, A's, from A's own provider.
    assert.equal(claimsOf(await token(env, cwd)).tid, a.idp!.tenantId);
    // With --data-dir of the crafted directory: no account was signed in through it.
    const r = await cli(env, cwd, 'account', 'get-access-token', '--data-dir', join(cwd, '.pgwarden'));
    assert.equal(r.code, 3, r.stdout + r.stderr);
    assert.match(r.stderr, /No account is signed in to tenant/);
    assert.deepEqual(seen, [], 'nothing reached the crafted server');
  } finally {
    trap.close();
  }
});

test("--data-dir, or the working directory of a running cluster, chooses that cluster's tenant; -t still chooses by tenant", async () => {
  const env = profile();
  await login(env, a);
  await login(env, b); // the default account now: B's admin

  const viaDataDir = await token(env, root, '--data-dir', a.dataDir);
  assert.equal(claimsOf(viaDataDir).tid, a.idp!.tenantId);
  assert.ok(await signsIn(a, viaDataDir), "A's gateway accepts the token of --data-dir A");
  assert.equal(claimsOf(await token(env, root, '--data-dir', join('a', '.pgwarden'))).tid, a.idp!.tenantId, 'a relative --data-dir');
  assert.equal(claimsOf(await token(env, root, '--data-dir', b.dataDir)).tid, b.idp!.tenantId);

  const inA = await token(env, join(root, 'a'));
  assert.equal(claimsOf(inA).tid, a.idp!.tenantId, "in the directory of A (its ./.pgwarden runs), A's tenant");
  assert.ok(await signsIn(a, inA), "A's gateway accepts the token got in A's directory");
  assert.equal(claimsOf(await token(env, join(root, 'b'))).tid, b.idp!.tenantId);
  assert.equal(claimsOf(await token(env, root)).tid, b.idp!.tenantId, 'elsewhere, the default account (the last signed in)');
  assert.equal(claimsOf(await token(env, join(root, 'b'), '-t', a.idp!.tenantId)).tid, a.idp!.tenantId, '-t chooses the tenant wherever it runs');

  const both = await cli(env, root, 'account', 'get-access-token', '-t', a.idp!.tenantId, '--data-dir', a.dataDir);
  assert.equal(both.code, 2);
  assert.equal(both.stderr, 'pgwarden: --tenant and --data-dir cannot be used together\n');
  const show = await cli(env, join(root, 'a'), 'account', 'show', '--query', 'user.name', '-o', 'tsv');
  assert.equal(show.stdout, `${admin(b).username}\n`, 'getting a token does not change the default account');
});

test(
  'a cluster without a signed-in account: --data-dir says to sign in to it; ' + 'its working directory falls back to the default account, with a warning',
  async () => {
    const env = profile();
    await login(env, a);
    const none = await cli(env, root, 'account', 'get-access-token', '--data-dir', b.dataDir);
    assert.equal(none.code, 3);
    assert.equal(
      none.stderr,
      `pgwarden: No account is signed in to tenant ${b.idp!.tenantId} (the identity provider of ${b.dataDir}). ` +
        `Please run 'pgwarden login --data-dir ${b.dataDir}' to setup account.\n`,
    );
    const inB = await cli(env, join(root, 'b'), 'account', 'get-access-token', '--query', 'accessToken', '-o', 'tsv');
    assert.equal(inB.code, 0, inB.stderr);
    assert.equal(claimsOf(inB.stdout.trim()).tid, a.idp!.tenantId, 'the default account');
    assert.equal(
      inB.stderr,
      `pgwarden: warning: no account is signed in to tenant ${b.idp!.tenantId} of ./.pgwarden; ` +
        `using the default account ${admin(a).username} (tenant ${a.idp!.tenantId}). Sign in to it with 'pgwarden login'.\n`,
    );
    const noDir = await cli(env, root, 'account', 'get-access-token', '--data-dir', join(root, 'nowhere'));
    assert.equal(noDir.code, 2);
    assert.match(noDir.stderr, /^pgwarden: .*nowhere has no embedded identity provider \(no idp\/directory\.json\)/);
  },
);

test("the default account's provider is not running: the error names the account, its tenant, and how to choose another", async () => {
  const env = profile();
  await login(env, b);
  await login(env, a); // the default account: A's admin
  await a.stop();
  aRunning = false;
  const a1 = admin(a).username;
  const tenantA = a.idp!.tenantId;
  const tenantB = b.idp!.tenantId;

  const r = await cli(env, root, 'account', 'get-access-token');
  assert.equal(r.code, 4, r.stderr);
  assert.equal(
    r.stderr,
    `pgwarden: cannot get a token for account ${a1} (tenant ${tenantA}, the default account): its identity provider is not running ` +
      `(no 'pgwarden up' on ${a.dataDir}). Start it, or choose another account with -t TENANT or --data-dir DIR ` +
      `(also signed in: ${admin(b).username} in tenant ${tenantB}; pgwarden account list shows all).\n`,
  );
  const viaDir = await cli(env, root, 'account', 'get-access-token', '--data-dir', join('a', '.pgwarden'));
  assert.equal(viaDir.code, 4);
  assert.match(
    viaDir.stderr,
    new RegExp(
      `^pgwarden: cannot get a token for account ${a1.replace(/\./g, '\\.')} ` +
        `\\(tenant ${tenantA}, the account of --data-dir\\): its identity provider is not running`,
    ),
  );

  // The others still work, by tenant or by cluster.
  assert.equal(claimsOf(await token(env, root, '-t', tenantB)).tid, tenantB);
  assert.equal(claimsOf(await token(env, root, '--data-dir', b.dataDir)).tid, tenantB);
  assert.equal(claimsOf(await token(env, join(root, 'b'))).tid, tenantB);

  // A provider killed without cleaning up: its endpoint file names a port nobody listens on.
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as AddressInfo).port;
  await new Promise((resolve) => closed.close(resolve));
  await writeFile(
    join(a.dataDir, 'idp', 'endpoint.json'),
    JSON.stringify({ authority: `https://localhost:${port}`, tenantId: tenantA, tenantDomain: 'x.onmicrosoft.com' }),
  );
  const stale = await cli(env, root, 'account', 'get-access-token', '-t', tenantA);
  assert.equal(stale.code, 4);
  assert.match(
    stale.stderr,
    new RegExp(
      `^pgwarden: cannot get a token for account ${a1.replace(/\./g, '\\.')} \\(tenant ${tenantA}, chosen by -t\\): ` +
        `cannot reach its identity provider at https://localhost:${port}: .*ECONNREFUSED.* ` +
        `\\(is 'pgwarden up' running on ${a.dataDir}\\?\\)\\. Start it, or choose another account with -t TENANT or --data-dir DIR`,
    ),
  );
  assert.equal(stale.stderr.split('\n').length, 2, 'one line');
  for (const e of [r, viaDir, stale]) assert.ok(!e.stderr.includes('eyJ'), 'no token in an error');
});
