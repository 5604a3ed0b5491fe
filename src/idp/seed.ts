// The first start of a provider on a data directory: signing keys, the tenant and its
// first user, `admin@<domain>` with a random password. Used by EmbeddedIdp.seedIfEmpty
// and by `pgwarden idp init` (which needs no server).
import { mkdir } from 'node:fs/promises';
import { randomPassword } from '../util/files.js';
import { Directory } from './directory.js';
import { idpPaths } from './paths.js';
import { SigningKeys } from './signing-keys.js';

/** The first user's name before the tenant's domain. */
export const ADMIN_LOCAL_PART = 'admin';
export const ADMIN_DISPLAY_NAME = 'pgwarden administrator';

export interface SeededAdmin {
  /** The user principal name, `admin@<tenant domain>`. */
  readonly username: string;
  readonly password: string;
  readonly objectId: string;
  readonly tenantId: string;
  readonly tenantDomain: string;
}

/** Creates what is missing; returns the first user when this call created the tenant. */
export async function seedIfEmpty(directory: Directory, keys: SigningKeys): Promise<SeededAdmin | undefined> {
  await keys.ensure();
  const password = randomPassword();
  const created = await directory.createTenant({ localPart: ADMIN_LOCAL_PART, displayName: ADMIN_DISPLAY_NAME, password });
  if (!created?.user) return undefined;
  return {
    username: created.user.userPrincipalName,
    password,
    objectId: created.user.objectId,
    tenantId: created.tenant.id,
    tenantDomain: created.tenant.domain,
  };
}

/** The directory and keys of a data directory, for CLI commands. */
export async function openIdpFiles(dataDir: string): Promise<{ directory: Directory; keys: SigningKeys }> {
  const paths = idpPaths(dataDir);
  await mkdir(paths.dir, { recursive: true, mode: 0o700 });
  return { directory: new Directory(paths.directory), keys: new SigningKeys(paths.keys) };
}
