// An Entra access token for the benchmark's token sign-ins: the embedded provider's
// seeded admin, with the password grant on the v1 token endpoint (what
// `pgwarden account get-access-token` does after `pgwarden login`).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { httpRequestJson } from '../src/util/http-client.js';

export interface TokenSource {
  /** The role to sign in as (the admin's UPN). */
  user: string;
  token(): Promise<string>;
}

export async function tokenFor(dataDir: string): Promise<TokenSource> {
  const admin = JSON.parse(await readFile(join(dataDir, 'entra-admin.json'), 'utf8')) as { username: string; password: string };
  const endpoint = JSON.parse(await readFile(join(dataDir, 'idp', 'endpoint.json'), 'utf8')) as { authority: string; tenantId: string };
  const ca = await readFile(join(dataDir, 'tls', 'ca.crt'), 'utf8');
  let cached: { token: string; until: number } | undefined;
  return {
    user: admin.username,
    async token() {
      if (cached && cached.until > Date.now()) return cached.token;
      const res = await httpRequestJson(`${endpoint.authority}/${endpoint.tenantId}/oauth2/token`, {
        ca,
        form: { grant_type: 'password', client_id: '04b07795-8ddb-461a-bbee-02f9e1bf7b46', username: admin.username, password: admin.password, resource: 'https://token.postgres.cosmos.azure.com' },
      });
      const body = res.json<{ access_token?: string; expires_in?: string; error_description?: string }>();
      if (!body.access_token) throw new Error(`no token: ${body.error_description ?? res.status}`);
      cached = { token: body.access_token, until: Date.now() + (Number(body.expires_in ?? 3600) - 300) * 1000 };
      return cached.token;
    },
  };
}
