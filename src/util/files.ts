import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile, chmod } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/** Writes a file that only its owner may read (0600), atomically: a reader never sees
 * half a secret, and a crash never leaves a world-readable copy behind. */
export async function writeSecretFile(path: string, contents: string | Buffer): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${randomBytes(6).toString('hex')}.tmp`);
  await writeFile(tmp, contents, { mode: 0o600, flag: 'wx' });
  await chmod(tmp, 0o600);
  await rename(tmp, path);
}

/** Reads a file, or returns undefined if it does not exist. */
export async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** A random password of `bytes` bytes of entropy, in characters that survive every shell,
 * connection string and URL without quoting, and that pass the managed service's
 * complexity rule (upper, lower, digits). */
export function randomPassword(bytes = 24): string {
  const body = randomBytes(bytes).toString('base64url').replace(/[-_]/g, '');
  return `Pw${body}7`;
}
