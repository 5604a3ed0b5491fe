// Sign-in with tokens of OpenID Connect providers other than Microsoft Entra: two real
// providers (panva's oidc-provider, test/helpers/oidc-provider.ts) over HTTPS, psql with
// their tokens as the password. A token of provider A never signs in a principal of
// provider B, even with the same subject and name; wrong audience, expiry and algorithm
// are refused with messages for the token's holder.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { makeCa, makeServerCert } from '../../src/tls/certificates.js';
import { apiClient, basic, type ApiClient } from '../helpers/api.js';
import { CITUS_PASSWORD, psql, runCli, start, startTestPgwarden, waitFor, type TestPgwarden } from '../helpers/pgwarden.js';
import { DEVICE_CLIENT, startOidcProvider, type TestOidcProvider } from '../helpers/oidc-provider.js';
import { savedAdmin, userToken } from '../helpers/entra.js';
import { checkOidcIssuer } from '../../src/identity/oidc-config.js';

const AUD_A = 'https://pg.a.example';
const AUD_B = 'api://pgwarden-b';
let pw: TestPgwarden;
let api: ApiClient;
let a: TestOidcProvider;
let b: TestOidcProvider;
let caFile: string;
const PSQL18 = join(process.env.PGWARDEN_CITUS_BIN ?? '/opt/postgresql-18/bin', 'psql');
const used: string[] = [];

before(async () => {
  const ca = await makeCa('CN=oidc test CA');
  const cert = await makeServerCert(ca.certPem, ca.keyPem, ['localhost']);
  const tls = { ...cert, caPem: ca.certPem };
  // The same client ids (subjects) and names at both providers: only the issuer tells them apart.
  const clients = [
    { id: 'alice-svc', claims: { preferred_username: 'alice', groups: ['readers'] } },
    { id: 'carol-svc', claims: { preferred_username: 'Carol' } },
  ];
  a = await startOidcProvider({
    tls,
    clients,
    // Two users named frank: the second one stands for a user deleted and created again.
    accounts: { 'u-frank': { preferred_username: 'frank', groups: ['readers'] }, 'u-frank-2': { preferred_username: 'frank' } },
    resources: {
      [AUD_A]: { audience: AUD_A, alg: 'RS256' },
      'https://elsewhere.example': { audience: 'https://elsewhere.example', alg: 'RS256' },
      'https://pg.a.example/es256': { audience: AUD_A, alg: 'ES256' },
      'https://pg.a.example/short': { audience: AUD_A, alg: 'RS256', ttl: 1 },
    },
  });
  caFile = join(tmpdir(), `oidc-test-ca-${process.pid}.pem`);
  await writeFile(caFile, ca.certPem);
  b = await startOidcProvider({ tls, clients, resources: { [AUD_B]: { audience: AUD_B, alg: 'ES256' } } });
  pw = await startTestPgwarden({
    throttle: { roleFreeFailures: 1_000, addressFreeFailures: 1_000 },
    oauth: { port: 0 },
    oidc: {
      clockSkewSeconds: 0,
      issuers: [
        { ...checkOidcIssuer({ issuer: a.issuer, audiences: [AUD_A], scope: 'openid pg' }), ca: ca.certPem },
        { ...checkOidcIssuer({ issuer: b.issuer, audiences: [AUD_B], algorithms: ['ES256'], nameClaim: 'preferred_username' }), ca: ca.certPem },
      ],
    },
  });
  api = apiClient(`${pw.apiUrl}/api/v1`, pw.caPath, basic('citus', CITUS_PASSWORD));
});
after(async () => {
  await pw?.destroy();
  await a?.close();
  await b?.close();
  if (caFile) await rm(caFile, { force: true });
});

async function asRole(role: string, token: string): Promise<{ out: string; err: string }> {
  used.push(token);
  const r = await psql(pw.conn(role), 'select current_user', token);
  return { out: r.stdout.trim(), err: r.stderr };
}

async function add(body: Record<string, unknown>): Promise<void> {
  const r = await api.call('POST', '/entra-principals', body);
  assert.equal(r.status, 201, JSON.stringify(r.data));
}

describe('principals of other OpenID Connect issuers', () => {
  before(async () => {
    await add({ name: 'alice', type: 'user', issuer: a.issuer, subject: 'alice-svc' });
    await add({ name: 'Carol', type: 'user', issuer: b.issuer, subject: 'carol-svc' });
    await add({ name: 'readers', type: 'group', issuer: a.issuer });
  });

  test('the API lists each principal with its issuer, and refuses an issuer that is not configured', async () => {
    const list = await api.call('GET', '/entra-principals');
    const alice = list.data.items.find((p: { name: string }) => p.name === 'alice');
    assert.deepEqual(alice, { name: 'alice', type: 'user', objectId: 'alice-svc', issuer: a.issuer, isAdmin: false });
    const admin = list.data.items.find((p: { issuer?: string; tenantId?: string }) => p.tenantId !== undefined);
    assert.equal(admin.issuer, undefined, 'an Entra principal names its tenant, not an issuer');
    const r = await api.call('POST', '/entra-principals', { name: 'mallory', type: 'user', issuer: 'https://evil.example', subject: 'm' });
    assert.equal(r.status, 400);
    assert.match(r.data.detail, /https:\/\/evil\.example is not an OpenID Connect issuer of this gateway/);
    const noSubject = await api.call('POST', '/entra-principals', { name: 'dave', type: 'user', issuer: a.issuer });
    assert.equal(noSubject.status, 400);
    assert.match(noSubject.data.detail, /subject is required/);
  });

  test("psql signs in with provider A's token (RS256) and provider B's (ES256); a group member as the group's role", async () => {
    const tokenA = await a.token('alice-svc', AUD_A);
    assert.equal(decodeProtectedHeader(tokenA).alg, 'RS256');
    assert.deepEqual((await asRole('alice', tokenA)).out, 'alice');
    assert.equal((await asRole('readers', tokenA)).out, 'readers');
    const tokenB = await b.token('carol-svc', AUD_B);
    assert.equal(decodeProtectedHeader(tokenB).alg, 'ES256');
    assert.equal((await asRole('Carol', tokenB)).out, 'Carol');
  });

  test("a user signs in through the provider's own sign-in and consent pages (authorization code with PKCE), bound to its subject", async () => {
    await add({ name: 'frank', type: 'user', issuer: a.issuer, subject: 'u-frank' });
    const token = await a.userToken('u-frank', AUD_A);
    assert.equal(decodeJwt(token).sub, 'u-frank');
    assert.equal((await asRole('frank', token)).out, 'frank');
    assert.equal((await asRole('readers', token)).out, 'readers');
    const again = await asRole('frank', await a.userToken('u-frank-2', AUD_A));
    assert.match(again.err, new RegExp(`DETAIL:  The access token belongs to a different subject of ${a.issuer} than role "frank" was created for`));
  });

  test("a token of provider A never signs in provider B's principal, with the same subject and name", async () => {
    const tokenA = await a.token('carol-svc', AUD_A);
    assert.equal(decodeJwt(tokenA).sub, 'carol-svc');
    const r = await asRole('Carol', tokenA);
    assert.equal(r.out, '');
    assert.match(r.err, /password authentication failed for user "Carol"/);
    assert.match(r.err, new RegExp(`DETAIL:  The access token was not issued by ${b.issuer}\\. Please acquire a token from it\\.`));
    // Nor B's token A's principal, nor an A token an Entra principal, nor an Entra token A's.
    assert.match((await asRole('alice', await b.token('alice-svc', AUD_B))).err, new RegExp(`not issued by ${a.issuer}`));
    const admin = await savedAdmin(pw);
    assert.match((await asRole(admin.username, tokenA)).err, /was not issued by Microsoft Entra tenant/);
    assert.match((await asRole('alice', await userToken(pw, admin.username, admin.password))).err, new RegExp(`not issued by ${a.issuer}`));
    // B's member of a group called "readers" is not a member of A's group.
    assert.match((await asRole('readers', await b.token('alice-svc', AUD_B))).err, new RegExp(`not issued by ${a.issuer}`));
  });

  test('another user of the same issuer, a wrong audience, a refused algorithm and an expired token are refused, each saying why', async () => {
    const carolA = await asRole('alice', await a.token('carol-svc', AUD_A));
    assert.match(carolA.err, /DETAIL:  The access token was issued to another user than "alice"\./);
    const wrongAudience = await asRole('alice', await a.token('alice-svc', 'https://elsewhere.example'));
    assert.match(
      wrongAudience.err,
      /DETAIL:  The access token does not have a valid audience claim\. Please acquire a new token for "https:\/\/pg\.a\.example"\./,
    );
    const es256 = await a.token('alice-svc', 'https://pg.a.example/es256');
    assert.equal(decodeProtectedHeader(es256).alg, 'ES256');
    assert.match((await asRole('alice', es256)).err, /DETAIL:  The access token is not signed with an accepted algorithm \(RS256\)\./);
    const short = await a.token('alice-svc', 'https://pg.a.example/short');
    const exp = decodeJwt(short).exp!;
    await waitFor(() => Date.now() > (exp + 1) * 1000, 5_000, 'the token to expire');
    assert.match((await asRole('alice', short)).err, /DETAIL:  The access token has expired\. Please acquire a new token\./);
    // --clock-skew, changed by a reload, reaches every issuer: the same token is now within it.
    await pw.reload({ entra: { clockSkewSeconds: 300 } });
    assert.equal((await asRole('alice', short)).out, 'alice');
    await pw.reload({ entra: { clockSkewSeconds: 0 } });
  });

  test('the CLI adds a principal of an issuer and lists each with its issuer', async () => {
    const cli = (args: string[]) => runCli([...args, '--data-dir', pw.dataDir]);
    const added = await cli(['principal', 'add', 'dave', '--issuer', b.issuer, '--subject', 'dave-svc']);
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, new RegExp(`^added user "dave" \\(issuer ${b.issuer}, subject dave-svc\\)\n`));
    const list = await cli(['principal', 'list']);
    assert.match(list.stdout, /^NAME\s+TYPE\s+OBJECTID\s+APPID\s+ISSUER\s+ISADMIN\n/);
    assert.match(list.stdout, new RegExp(`\\ndave\\s+user\\s+dave-svc\\s+${b.issuer}\\s+false\\n`));
    const refused = await cli(['principal', 'add', 'erin', '--issuer', 'https://unknown.example', '--subject', 'e']);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /https:\/\/unknown\.example is not an OpenID Connect issuer of this gateway/);
  });

  test('no token reaches the log', async () => {
    const log = await readFile(pw.logFile, 'utf8');
    assert.ok(used.length > 5);
    for (const t of used) assert.ok(!log.includes(t.split('.')[2]!), 'a token signature is in the log');
  });
});

describe("PostgreSQL 18's OAuth sign-in with another issuer", { skip: existsSync(PSQL18) ? false : `no ${PSQL18}` }, () => {
  test("psql 18 is told the principal's own issuer, runs the device flow there, and signs in", async () => {
    const conn =
      `host=127.0.0.1 port=${pw.oauth!.address.port} user=frank dbname=postgres sslmode=require ` + `oauth_issuer=${a.issuer} oauth_client_id=${DEVICE_CLIENT}`;
    const child = start(PSQL18, ['-X', '-A', '-t', conn, '-c', 'select current_user'], {
      PGOAUTHDEBUG: 'UNSAFE',
      PGOAUTHCAFILE: caFile,
      PGPASSWORD: '',
      PGCONNECT_TIMEOUT: '20',
    });
    const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
    let prompt: RegExpExecArray | null = null;
    await waitFor(() => (prompt = /Visit (\S+) and enter the code: (\S+)/.exec(child.output())) !== null || child.exitCode !== null, 20_000, 'the device code');
    assert.ok(prompt, `psql 18 printed no device code: ${child.output().slice(-2000)}`);
    const [, url, code] = prompt as RegExpExecArray;
    assert.ok(url!.startsWith(a.issuer), url);
    assert.match(await a.approveDevice(code!, 'u-frank'), /Sign-in Success/);
    // libcurl's trace (PGOAUTHDEBUG=UNSAFE) is left out: it carries tokens.
    const shown = () =>
      child
        .output()
        .split('\n')
        .filter((l) => !l.startsWith('[libcurl]'))
        .join('\n');
    assert.equal(await exited, 0, shown());
    assert.ok(shown().split('\n').includes('frank'), shown());
  });
});
