// Words of the command lines pgwarden prints for people to paste into a POSIX shell (the
// start banner, the hints in errors): as they are when the shell reads them unchanged,
// else in single quotes.
import { realpathSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** `word`, quoted for sh/bash when it needs to be. */
export function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * How a person runs this pgwarden from a shell: `pgwarden` when that name on PATH is this
 * very command (installed with `npm install -g`), else `npx pgwarden` (a checkout, or a
 * project that depends on pgwarden).
 */
export function commandName(): string {
  const self = realpathOrUndefined(fileURLToPath(new URL('../../bin/pgwarden.js', import.meta.url)));
  const onPath = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  return self !== undefined && onPath.some((dir) => realpathOrUndefined(join(dir, 'pgwarden')) === self) ? 'pgwarden' : 'npx pgwarden';
}

function realpathOrUndefined(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}
