import { readFileSync } from 'node:fs';

/**
 * True if `pid` is alive and its command line matches `command` (so that a pid file left
 * behind does not name a recycled pid). Without /proc (macOS), a live pid is trusted.
 */
export function processAlive(pid: number, command: RegExp): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    return command.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
  } catch {
    return true;
  }
}
