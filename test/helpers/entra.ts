// Tokens for tests: real ones from the embedded identity provider's token endpoints,
// and forged ones (signed with its own key or another) for the refusal cases.
import { generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SignJWT, type JWTPayload } from 'jose';
import { locateProvider, postForm, tokenUrl, type TokenAnswer } from '../../src/cli/provider-client.js';
import { AZURE_CLI_CLIENT_ID } from '../../src/idp/model.js';
import type { TestPgwarden } from './pgwarden.js';
import { httpRequestJson } from '../../src/util/http-client.js';
import { formOf } from '../idp/helpers.js';

export interface SavedAdmin {
  username: string;
  password: string;
  objectId: string;
  tenantId: string;
}

export async function savedAdmin(pw: TestPgwarden): Promise<SavedAdmin> {
  return JSON.parse(await readFile(join(pw.dataDir, 'entra-admin.json'), 'utf8')) as SavedAdmin;
}

/** The token endpoint of the test's embedded provider, through the CLI's own client. */
async function tokenRequest(pw: TestPgwarden, version: 1 | 2, form: Record<string, string>): Promise<string> {
  const provider = await locateProvider({ dataDir: pw.dataDir });
  return (await postForm<TokenAnswer>(provider, tokenUrl(provider, version === 1 ? '1.0' : '2.0'), form)).access_token;
}

export const AZ_CLI = AZURE_CLI_CLIENT_ID;
export const RESOURCE = 'https://token.postgres.cosmos.azure.com';

/** A user's token by the password grant (v1: resource=, v2: scope=). */
export function userToken(pw: TestPgwarden, username: string, password: string, options: { version?: 1 | 2; resource?: string } = {}): Promise<string> {
  const resource = options.resource ?? RESOURCE;
  const version = options.version ?? 1;
  return tokenRequest(pw, version, {
    grant_type: 'password',
    client_id: AZ_CLI,
    username,
    password,
    ...(version === 1 ? { resource } : { scope: `${resource}/.default` }),
  });
}

/** A service principal's own token by the client credentials grant. */
export function appToken(pw: TestPgwarden, appId: string, secret: string, options: { version?: 1 | 2; resource?: string } = {}): Promise<string> {
  const resource = options.resource ?? RESOURCE;
  const version = options.version ?? 1;
  return tokenRequest(pw, version, {
    grant_type: 'client_credentials',
    client_id: appId,
    client_secret: secret,
    ...(version === 1 ? { resource } : { scope: `${resource}/.default` }),
  });
}

/** Signs `claims` as the provider would (its active key), or with `key`/`kid`/`alg` given. */
export async function forge(
  pw: TestPgwarden,
  claims: JWTPayload,
  options: { key?: KeyObject | Uint8Array; kid?: string | null; alg?: string } = {},
): Promise<string> {
  const signer = await pw.idp!.keys.signer();
  const header: Record<string, unknown> = { typ: 'JWT', alg: options.alg ?? 'RS256' };
  const kid = options.kid === undefined ? signer.kid : options.kid;
  if (kid !== null) header.kid = kid;
  return new SignJWT(claims).setProtectedHeader(header as { alg: string }).sign(options.key ?? signer.key);
}

/** Claims of a v1 user token for `admin`, valid now; override what a case needs. */
export function userClaims(pw: TestPgwarden, admin: { username: string; objectId: string }, extra: JWTPayload = {}): JWTPayload {
  const now = Math.floor(Date.now() / 1000);
  const tid = pw.idp!.tenantId;
  return {
    aud: RESOURCE,
    iss: `${pw.idp!.authority}/${tid}/`,
    iat: now,
    nbf: now,
    exp: now + 3600,
    tid,
    oid: admin.objectId,
    sub: randomUUID(),
    upn: admin.username,
    unique_name: admin.username,
    appid: AZ_CLI,
    idtyp: 'user',
    ver: '1.0',
    ...extra,
  };
}

export function otherRsaKey(): KeyObject {
  return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
}

/** What a person does with a device code: opens the provider's device page, enters the
 * code, signs in (its HTML form, with the page's cookie and the provider's origin).
 * Resolves with the answer page's text. */
export async function approveDeviceCode(authority: string, caPem: string, code: string, username: string, password: string): Promise<string> {
  const page = await httpRequestJson(`${authority}/devicelogin`, { ca: caPem });
  const { hidden, cookie, action } = formOf(page);
  const answer = await httpRequestJson(`${authority}${action}`, {
    ca: caPem,
    form: { ...hidden, code, username, password },
    headers: { cookie, origin: authority },
  });
  return answer.text();
}
