// A lock file around read-modify-write of the provider's JSON files. CLI commands in
// other processes and the running provider may change the same file at the same moment;
// without the lock, the second writer would silently undo the first one's change.
// O_EXCL creation is atomic on local file systems; a lock whose holder died is taken
// over once it is older than any update can take.
import { mkdir, open, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PgwardenError } from '../util/errors.js';

/** An update holds the lock for milliseconds; a lock this old belongs to a dead process. */
const STALE_LOCK_MS = 10_000;
const RETRY_EVERY_MS = 15;
const GIVE_UP_AFTER_MS = 15_000;

export async function withFileLock<T>(file: string, fn: () => Promise<T>): Promise<T> {
  const lock = `${file}.lock`;
  const deadline = Date.now() + GIVE_UP_AFTER_MS;
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  for (;;) {
    try {
      const handle = await open(lock, 'wx', 0o600);
      await handle.writeFile(String(process.pid));
      await handle.close();
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const age = await stat(lock).then(
        (s) => Date.now() - s.mtimeMs,
        () => 0,
      );
      if (age > STALE_LOCK_MS) {
        await rm(lock, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new PgwardenError('INTERNAL', `${lock} has been held for too long; remove it if no pgwarden command is running`);
      await sleep(RETRY_EVERY_MS);
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lock, { force: true });
  }
}
