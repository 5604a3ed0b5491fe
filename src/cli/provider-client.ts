// How `pgwarden login` and `pgwarden account get-access-token` talk to an identity
// provider: the embedded one, found through its data directory (idp/endpoint.json, and
// tls/ca.crt to trust), or any Entra-compatible authority given by URL (Entra ID itself:
// https://login.microsoftonline.com). Requests and answers are the OAuth 2.0 ones that
// the Azure CLI sends; error answers become PgwardenErrors with the OAuth error's code.
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { readEndpoint } from '../idp/endpoint-file.js';
import { ERROR_KINDS, PgwardenError, type ErrorCode } from '../util/errors.js';
import { readOptional } from '../util/files.js';
import { httpRequestJson, oauthErrorDescription } from '../util/http-client.js';

/** Identity providers answer in well under this; device-flow polls are separate requests. */
const REQUEST_TIMEOUT_MS = 30_000;

export interface Provider {
  /** e.g. `https://login.microsoftonline.com` or `https://localhost:PORT`. */
  readonly authority: string;
  /** Tenant id, domain, or `organizations`. */
  readonly tenant: string;
  readonly ca?: string;
  /** Set when found through a data directory. */
  readonly dataDir?: string;
}

export interface LocateOptions {
  readonly dataDir: string;
  readonly authority?: string;
  readonly tenant?: string;
  readonly caFile?: string;
}

/** The provider named by --authority, else the embedded one of --data-dir. */
export async function locateProvider(o: LocateOptions): Promise<Provider> {
  const extraCa = o.caFile ? await readCa(o.caFile) : undefined;
  if (o.authority) {
    let u: URL;
    try {
      u = new URL(o.authority);
    } catch {
      throw new PgwardenError('INVALID_INPUT', `--authority ${o.authority} is not a URL`);
    }
    if (u.protocol !== 'https:') throw new PgwardenError('INVALID_INPUT', '--authority must be an https URL');
    return { authority: u.origin, tenant: o.tenant ?? 'organizations', ...(extraCa ? { ca: extraCa } : {}) };
  }
  const dataDir = resolve(o.dataDir);
  const endpoint = await readEndpoint(dataDir);
  if (!endpoint) {
    throw new PgwardenError(
      'BACKEND_UNAVAILABLE',
      `no running identity provider in ${dataDir} (no idp/endpoint.json): start 'pgwarden up', or pass --authority for another provider`,
    );
  }
  const ca = extraCa ?? (await readOptional(join(dataDir, 'tls', 'ca.crt')));
  return { authority: endpoint.authority, tenant: o.tenant ?? endpoint.tenantId, dataDir, ...(ca ? { ca } : {}) };
}

async function readCa(path: string): Promise<string> {
  const pem = await readOptional(resolve(path));
  if (!pem) throw new PgwardenError('INVALID_INPUT', `--ca-file ${path} does not exist`);
  return pem;
}

export type TokenAnswer = Record<string, string | number | undefined> & { access_token: string };

export function tokenUrl(p: Provider, version: '1.0' | '2.0'): string {
  return `${p.authority}/${encodeURIComponent(p.tenant)}/oauth2/${version === '2.0' ? 'v2.0/' : ''}token`;
}

/** The provider did not answer (refused, TLS failure, timeout): `reason` says how. */
export class ProviderUnreachable extends PgwardenError {
  constructor(
    readonly provider: Provider,
    readonly reason: string,
    cause: unknown,
  ) {
    super('BACKEND_UNAVAILABLE', `cannot reach the identity provider at ${provider.authority}: ${reason}${runningHint(provider)}`, { cause });
  }
}

/** ` (is 'pgwarden up' running on DIR?)` for an embedded provider found through its data directory. */
export function runningHint(p: Provider): string {
  return p.dataDir ? ` (is 'pgwarden up' running on ${p.dataDir}?)` : '';
}

/** POSTs a form to the provider; a 2xx JSON answer, or the provider's error as a PgwardenError. */
export async function postForm<T>(p: Provider, url: string, form: Record<string, string>): Promise<T> {
  const res = await httpRequestJson(url, { form, ca: p.ca, timeoutMs: REQUEST_TIMEOUT_MS }).catch((e: unknown) => {
    // httpRequestJson says `cannot reach ORIGIN: why`; the origin is in this message already.
    const why = e instanceof Error && e.cause instanceof Error ? e.cause.message : (e as Error).message;
    throw new ProviderUnreachable(p, why, e);
  });
  let body: Record<string, unknown>;
  try {
    body = res.json<Record<string, unknown>>();
  } catch {
    throw new PgwardenError('BACKEND_UNAVAILABLE', `the identity provider at ${p.authority} answered HTTP ${res.status} with something that is not JSON`);
  }
  if (res.status >= 200 && res.status < 300) return body as T;
  throw providerError(body, res.status);
}

/** The provider's error answer as one line: its code and Entra's description without the
 * trace, correlation and timestamp lines. */
export function providerError(body: Record<string, unknown>, status: number): PgwardenError {
  const error = typeof body.error === 'string' ? body.error : 'unknown_error';
  const code = `OAUTH_${error.toUpperCase()}`;
  const description = oauthErrorDescription(body, status);
  return new PgwardenError(code in ERROR_KINDS ? (code as ErrorCode) : 'AUTH_FAILED', `${error}: ${description}`);
}

export interface DeviceCodeAnswer {
  readonly device_code: string;
  readonly user_code: string;
  readonly message: string;
  readonly expires_in: number | string;
  readonly interval?: number | string;
}

/**
 * The device code flow (RFC 8628): asks for a code, shows the message (as the Azure CLI
 * does, on stderr), and polls until the user signed in, declined, or the code expired.
 */
export async function deviceCodeFlow(p: Provider, clientId: string, scope: string, show: (message: string) => void): Promise<TokenAnswer> {
  const dc = await postForm<DeviceCodeAnswer>(p, `${p.authority}/${encodeURIComponent(p.tenant)}/oauth2/v2.0/devicecode`, { client_id: clientId, scope });
  show(dc.message);
  let interval = Number(dc.interval ?? 5);
  const deadline = Date.now() + Number(dc.expires_in) * 1000;
  for (;;) {
    await sleep(interval * 1000);
    try {
      return await postForm<TokenAnswer>(p, tokenUrl(p, '2.0'), {
        grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
        client_id: clientId,
        device_code: dc.device_code,
        client_info: '1',
      });
    } catch (e) {
      if (!(e instanceof PgwardenError)) throw e;
      if (e.code === 'OAUTH_SLOW_DOWN')
        interval += 5; // RFC 8628 section 3.5
      else if (e.code !== 'OAUTH_AUTHORIZATION_PENDING') throw e;
      if (Date.now() > deadline) throw new PgwardenError('OAUTH_EXPIRED_TOKEN', 'the device code expired before anyone signed in with it');
    }
  }
}

/** A JWT's claims, unverified: only to show who signed in (the provider was just asked). */
export function unverifiedClaims(jwt: string | undefined): Record<string, unknown> {
  try {
    return JSON.parse(Buffer.from((jwt ?? '').split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    return {};
  }
}
