// PostgreSQL 18's own OAuth sign-in (SASL OAUTHBEARER) on the gateway's OAuth port: the
// real psql 18 (libpq 18 with its OAuth module) asks the gateway where to get a token,
// runs the device flow against the embedded provider, whose device page the test fills
// in as a person would, and signs in; wrong tokens are refused with the words of the
// password path; psql 15 keeps signing in with a token as password on the gateway port.
// Without libpq 18's OAuth client in /opt/postgresql-18 (PGWARDEN_CITUS_BIN's directory)
// the psql 18 tests skip with one line, unless PGWARDEN_NO_SKIP is set, where they fail.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { authenticationSASL, parseErrorFields, saslInitialResponse, saslResponse } from '../../src/protocol/messages.js';
import { httpRequestJson } from '../../src/util/http-client.js';
import { AZURE_CLI_CLIENT_ID } from '../../src/idp/model.js';
import { CITUS_PASSWORD, psql, run, start, startTestPgwarden, waitFor, type TestPgwarden } from '../helpers/pgwarden.js';
import { approveDeviceCode, forge, otherRsaKey, savedAdmin, userClaims, userToken, type SavedAdmin } from '../helpers/entra.js';
import { Conversation, startupPacket } from '../helpers/raw-client.js';

const PG18_BIN = process.env.PGWARDEN_CITUS_BIN ?? '/opt/postgresql-18/bin';
const PSQL18 = join(PG18_BIN, 'psql');
const withOAuthClient = existsSync(PSQL18) && existsSync(join(PG18_BIN, '..', 'lib', 'libpq-oauth-18.so'));
const unavailable = withOAuthClient
  ? false
  : `no psql 18 with libpq's OAuth client in ${PG18_BIN}: install ../shared/citus (docs/citus.md) to run the OAuth device-flow tests`;
if (unavailable && process.env.PGWARDEN_NO_SKIP) throw new Error(`PGWARDEN_NO_SKIP is set, and there is ${unavailable}`);

let pw: TestPgwarden;
let admin: SavedAdmin;
let oauthPort: number;

before(async () => {
  pw = await startTestPgwarden({
    oauth: { port: 0 },
    // Refusals in a row for one role are what this file tests, not the throttle; the
    // device flow polls every second instead of Entra's five.
    throttle: { roleFreeFailures: 1_000, addressFreeFailures: 1_000 },
    identity: { kind: 'embedded', port: 0, deviceCodeIntervalSeconds: 1 },
  });
  admin = await savedAdmin(pw);
  oauthPort = pw.oauth!.address.port;
});
after(async () => {
  await pw?.destroy();
});

const issuer = (): string => `${pw.idp!.authority}/${pw.idp!.tenantId}/v2.0`;

/** What psql 18 prints, without libcurl's trace (PGOAUTHDEBUG=UNSAFE prints tokens there). */
const withoutTrace = (s: string): string =>
  s
    .split('\n')
    .filter((l) => !l.startsWith('[libcurl]') && !l.startsWith('[libpq]'))
    .join('\n');

/** The FATAL and DETAIL lines of a psql error output. */
function fatal(stderr: string): string {
  const m = /FATAL: {2}.*(\nDETAIL: {2}.*)?/.exec(stderr);
  assert.ok(m, `no FATAL in: ${withoutTrace(stderr)}`);
  return m[0];
}

/** psql 18 with OAuth on the OAuth port; the device code is approved on the provider's
 * page as `username` (the test's "browser": its HTTP form, cookie and origin). */
async function deviceFlowPsql(username: string, password: string, extra = ''): Promise<{ code: number | null; output: string }> {
  const conn =
    `host=127.0.0.1 port=${oauthPort} user='${username}' dbname=postgres sslmode=require ` +
    `oauth_issuer=${issuer()} oauth_client_id=${AZURE_CLI_CLIENT_ID} ${extra}`;
  // libpq reaches the issuer over HTTPS with the system's CAs, or, in its debug mode
  // (tests only), with PGOAUTHCAFILE: the provider's certificate is from the local CA.
  const child = start(PSQL18, ['-X', '-A', '-t', conn, '-c', 'select current_user'], {
    PGOAUTHDEBUG: 'UNSAFE',
    PGOAUTHCAFILE: pw.caPath,
    PGPASSWORD: '',
    PGCONNECT_TIMEOUT: '20',
  });
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  let prompt: RegExpExecArray | null = null;
  await waitFor(() => (prompt = /Visit (\S+) and enter the code: (\S+)/.exec(child.output())) !== null || child.exitCode !== null, 20_000, 'the device code');
  assert.ok(prompt, `psql 18 printed no device code: ${withoutTrace(child.output())}`);
  const [, url, code] = prompt as RegExpExecArray;
  assert.equal(url, `${pw.idp!.authority}/devicelogin`);
  assert.match(await approveDeviceCode(pw.idp!.authority, await readFile(pw.caPath, 'utf8'), code!, username, password), /You have signed in/);
  return { code: await exited, output: child.output() };
}

describe('psql 18 by the device flow', { skip: unavailable }, () => {
  test('signs in through the OAuth port: discovery, the device page, then the token', async () => {
    const r = await deviceFlowPsql(admin.username, admin.password);
    assert.equal(r.code, 0, withoutTrace(r.output));
    assert.ok(r.output.split('\n').includes(admin.username), withoutTrace(r.output));
    const values = (await pw.metrics.signIns.get()).values;
    assert.ok(values.some((v) => v.labels.method === 'oauthbearer' && v.labels.result === 'ok' && v.value >= 1));
    const log = await readFile(pw.logFile, 'utf8');
    assert.doesNotMatch(log, /eyJ[A-Za-z0-9_-]{10,}\./, 'a token in the log');
  });

  test('a token for another resource is refused with the words of the password path', async () => {
    // The client's own oauth_scope wins over the server's: the provider issues a token
    // for Azure management, which the gateway does not accept.
    const r = await deviceFlowPsql(admin.username, admin.password, 'oauth_scope=https://management.azure.com/.default');
    assert.notEqual(r.code, 0);
    const asPassword = await psql(
      pw.conn(admin.username),
      'select 1',
      await userToken(pw, admin.username, admin.password, { resource: 'https://management.azure.com/' }),
    );
    assert.equal(fatal(r.output), fatal(asPassword.stderr));
    assert.match(fatal(r.output), /does not have a valid audience claim/);
  });
});

/** The answer to a token in the password field on the gateway port (ErrorResponse fields). */
async function passwordPathAnswer(token: string): Promise<Map<string, string>> {
  const c = await Conversation.open(pw.port, pw.caPath);
  try {
    c.send(startupPacket({ user: admin.username, database: 'postgres' }));
    assert.equal((await c.next())!.body.readInt32BE(0), 3, 'a cleartext password request');
    const body = Buffer.from(`${token}\0`);
    const msg = Buffer.alloc(5 + body.length);
    msg.write('p', 0);
    msg.writeInt32BE(4 + body.length, 1);
    body.copy(msg, 5);
    c.send(msg);
    const e = await c.next();
    assert.equal(e?.type, 'E');
    return parseErrorFields(e.body);
  } finally {
    c.close();
  }
}

/** OAUTHBEARER on the OAuth port with `initial` as the client's first message: the
 * server's challenge (JSON), then its ErrorResponse after the client's kvsep. */
async function bearerPathAnswer(initial: string, role = admin.username): Promise<{ challenge: Record<string, string>; error: Map<string, string> }> {
  const c = await Conversation.open(oauthPort, pw.caPath);
  try {
    c.send(startupPacket({ user: role, database: 'postgres' }));
    const offer = await c.next();
    assert.deepEqual(offer?.body, authenticationSASL(['OAUTHBEARER']).subarray(5), 'OAUTHBEARER alone is offered');
    c.send(saslInitialResponse('OAUTHBEARER', initial));
    const cont = await c.next();
    assert.equal(cont?.type, 'R');
    assert.equal(cont.body.readInt32BE(0), 11, 'SASLContinue');
    const challenge = JSON.parse(cont.body.subarray(4).toString('utf8')) as Record<string, string>;
    c.send(saslResponse('\x01'));
    const e = await c.next();
    assert.equal(e?.type, 'E');
    return { challenge, error: parseErrorFields(e.body) };
  } finally {
    c.close();
  }
}

const bearer = (token: string): string => `n,,\x01auth=Bearer ${token}\x01\x01`;

describe('OAUTHBEARER on the wire', () => {
  test('discovery: the issuer discovery document and the scope; not a failed sign-in', async () => {
    const failedBefore = (await pw.metrics.signIns.get()).values.filter((v) => v.labels.result === 'failed').reduce((n, v) => n + v.value, 0);
    const { challenge, error } = await bearerPathAnswer('n,,\x01auth=\x01\x01');
    assert.deepEqual(challenge, {
      status: 'invalid_token',
      'openid-configuration': `${issuer()}/.well-known/openid-configuration`,
      scope: 'https://token.postgres.cosmos.azure.com/.default',
    });
    const doc = await httpRequestJson(challenge['openid-configuration']!, { ca: await readFile(pw.caPath, 'utf8') });
    assert.equal(doc.json<{ issuer: string }>().issuer, issuer());
    assert.equal(
      doc.json<{ device_authorization_endpoint: string }>().device_authorization_endpoint,
      `${pw.idp!.authority}/${pw.idp!.tenantId}/oauth2/v2.0/devicecode`,
    );
    assert.equal(error.get('C'), '28000');
    assert.equal(error.get('M'), `OAuth bearer authentication failed for user "${admin.username}"`);
    const failedAfter = (await pw.metrics.signIns.get()).values.filter((v) => v.labels.result === 'failed').reduce((n, v) => n + v.value, 0);
    assert.equal(failedAfter, failedBefore);
  });

  test('a token in the bearer path signs in as in the password field', async () => {
    const token = await userToken(pw, admin.username, admin.password, { version: 2 });
    const c = await Conversation.open(oauthPort, pw.caPath);
    c.send(startupPacket({ user: admin.username, database: 'postgres' }));
    await c.next();
    c.send(saslInitialResponse('OAUTHBEARER', bearer(token)));
    const ok = await c.next();
    c.close();
    assert.equal(ok?.type, 'R');
    assert.equal(ok.body.readInt32BE(0), 0, 'AuthenticationOk, with no SASLFinal before it');
  });

  test('expired, forged and shapeless tokens: the same answer as in the password field', async () => {
    const now = Math.floor(Date.now() / 1000);
    const tokens = {
      expired: await forge(pw, userClaims(pw, admin, { exp: now - 3600, nbf: now - 7200 })),
      'signed by an unknown key': await forge(pw, userClaims(pw, admin), { key: otherRsaKey() }),
      'not a token': 'not-a-token',
    };
    for (const [what, token] of Object.entries(tokens)) {
      const viaPassword = await passwordPathAnswer(token);
      const { challenge, error } = await bearerPathAnswer(bearer(token));
      assert.equal(challenge.status, 'invalid_token', what);
      assert.deepEqual([...error], [...viaPassword], what);
      assert.equal(error.get('C'), '28P01', what);
    }
    assert.match((await passwordPathAnswer(tokens.expired)).get('D') ?? '', /The access token has expired\. Please acquire a new token\./);
    assert.equal((await passwordPathAnswer('not-a-token')).get('D'), undefined, 'no DETAIL for what is not a token');
  });

  test('malformed messages get a clear error, never a crash or a hang', async () => {
    const cases: Array<[string, string, RegExp]> = [
      ['channel binding', 'p=tls-server-end-point,,\x01auth=Bearer x\x01\x01', /malformed OAUTHBEARER message/],
      ['no auth', 'n,,\x01host=example\x01\x01', /malformed OAUTHBEARER message/],
      ['no final separator', 'n,,\x01auth=Bearer x\x01', /malformed OAUTHBEARER message/],
      ['an authorization identity', 'n,a=someone,\x01auth=Bearer x\x01\x01', /authorization identity/],
      ['two auth values', 'n,,\x01auth=Bearer x\x01auth=Bearer y\x01\x01', /malformed OAUTHBEARER message/],
    ];
    for (const [what, initial, message] of cases) {
      const c = await Conversation.open(oauthPort, pw.caPath);
      c.send(startupPacket({ user: admin.username, database: 'postgres' }));
      await c.next();
      c.send(saslInitialResponse('OAUTHBEARER', initial));
      const e = await c.next();
      c.close();
      assert.equal(e?.type, 'E', what);
      assert.match(parseErrorFields(e.body).get('M') ?? '', message, what);
    }
    // Another mechanism than the one offered; and something other than a kvsep after the challenge.
    const c = await Conversation.open(oauthPort, pw.caPath);
    c.send(startupPacket({ user: admin.username, database: 'postgres' }));
    await c.next();
    c.send(saslInitialResponse('SCRAM-SHA-256', 'n,,n=,r=abc'));
    assert.match(parseErrorFields((await c.next())!.body).get('M') ?? '', /invalid SASL authentication mechanism/);
    c.close();
    const d = await Conversation.open(oauthPort, pw.caPath);
    d.send(startupPacket({ user: admin.username, database: 'postgres' }));
    await d.next();
    d.send(saslInitialResponse('OAUTHBEARER', 'n,,\x01auth=\x01\x01'));
    await d.next();
    d.send(saslResponse('auth=Bearer x'));
    assert.match(parseErrorFields((await d.next())!.body).get('D') ?? '', /kvsep/);
    d.close();
    // Still serving.
    const token = await userToken(pw, admin.username, admin.password);
    assert.equal((await psql(pw.conn(admin.username), 'select current_user', token)).stdout.trim(), admin.username);
  });
});

describe('every other client', () => {
  test('psql 15 keeps signing in with a token as password on the gateway port; on the OAuth port it cannot', async () => {
    const token = await userToken(pw, admin.username, admin.password);
    const r = await psql(pw.conn(admin.username), 'select current_user', token);
    assert.equal(r.stdout.trim(), admin.username, r.stderr);
    const onOAuthPort = await psql(pw.conn(admin.username).replace(`port=${pw.port}`, `port=${oauthPort}`), 'select 1', token);
    assert.match(onOAuthPort.stderr, /none of the server's SASL authentication mechanisms are supported/);
  });

  test('native roles sign in with SCRAM on the OAuth port too (psql 15, and psql 18 when here)', async () => {
    const conn = pw.conn('citus').replace(`port=${pw.port}`, `port=${oauthPort}`);
    assert.equal((await psql(conn, 'select current_user', CITUS_PASSWORD)).stdout.trim(), 'citus');
    if (!unavailable) {
      const r = await run(PSQL18, ['-X', '-A', '-t', conn, '-c', 'select current_user'], { env: { PGPASSWORD: CITUS_PASSWORD } });
      assert.equal(r.stdout.trim(), 'citus', r.stderr);
    }
  });
});
