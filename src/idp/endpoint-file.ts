// `<data-dir>/idp/endpoint.json`: where the running provider listens, written on listen
// and removed on close, so that CLI commands in other processes (`pgwarden login`) find
// it from the data directory alone.
import { readOptional, writeSecretFile } from '../util/files.js';
import { rm } from 'node:fs/promises';
import { PgwardenError } from '../util/errors.js';
import { idpPaths } from './paths.js';

export interface IdpEndpoint {
  /** `https://localhost:PORT` (the local CA's certificate names localhost). */
  readonly authority: string;
  readonly tenantId: string;
  readonly tenantDomain: string;
}

export async function writeEndpoint(dataDir: string, endpoint: IdpEndpoint): Promise<void> {
  await writeSecretFile(idpPaths(dataDir).endpoint, `${JSON.stringify(endpoint, null, 2)}\n`);
}

/** The endpoint file, or undefined when no provider has announced itself. */
export async function readEndpoint(dataDir: string): Promise<IdpEndpoint | undefined> {
  const text = await readOptional(idpPaths(dataDir).endpoint);
  if (text === undefined) return undefined;
  try {
    const e = JSON.parse(text) as Partial<IdpEndpoint>;
    if (typeof e.authority === 'string' && typeof e.tenantId === 'string' && typeof e.tenantDomain === 'string') {
      return { authority: e.authority, tenantId: e.tenantId, tenantDomain: e.tenantDomain };
    }
  } catch {
    // fall through
  }
  throw new PgwardenError('CONFIG_INVALID', `${idpPaths(dataDir).endpoint} is damaged; it is rewritten when the provider starts`);
}

/** Removes the file if it still describes `authority` (a newer provider may have replaced it). */
export async function removeEndpoint(dataDir: string, authority: string): Promise<void> {
  const current = await readEndpoint(dataDir).catch(() => undefined);
  if (current?.authority === authority) await rm(idpPaths(dataDir).endpoint, { force: true });
}
