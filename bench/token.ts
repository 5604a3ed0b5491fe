// An Entra access token for the benchmark's token sign-ins: the embedded provider's
// seeded admin, with the password grant on the v1 token endpoint (what
// `pgwarden account get-access-token` does after `pgwarden login`).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { locateProvider, postForm, tokenUrl, type TokenAnswer } from '../src/cli/provider-client.js';
import { AZURE_CLI_CLIENT_ID } from '../src/idp/model.js';

export interface TokenSource {
  /** The role to sign in as (the admin's UPN). */
  user: string;
  /** A token, cached until 5 minutes before it expires; `fresh`: a new one from the provider. */
  token(fresh?: boolean): Promise<string>;
}

export async function tokenFor(dataDir: string): Promise<TokenSource> {
  const admin = JSON.parse(await readFile(join(dataDir, 'entra-admin.json'), 'utf8')) as { username: string; password: string };
  const provider = await locateProvider({ dataDir });
  let cached: { token: string; until: number } | undefined;
  return {
    user: admin.username,
    async token(fresh = false) {
      if (!fresh && cached && cached.until > Date.now()) return cached.token;
      const body = await postForm<TokenAnswer>(provider, tokenUrl(provider, '1.0'), {
        grant_type: 'password',
        client_id: AZURE_CLI_CLIENT_ID,
        username: admin.username,
        password: admin.password,
        resource: 'https://token.postgres.cosmos.azure.com',
      });
      cached = { token: body.access_token, until: Date.now() + (Number(body.expires_in ?? 3600) - 300) * 1000 };
      return cached.token;
    },
  };
}
