// A JSON file that another process may replace at any time (by atomic rename), read
// again only when it changed. One stat per use: the identity (inode) changes on every
// rename and the mtime on every write, so a change is never missed, whatever the file
// system's timestamp resolution.
import { readFile, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';

export class WatchedJsonFile<T> {
  private cached: { ino: number; mtimeMs: number; size: number; value: T } | undefined;

  constructor(
    readonly path: string,
    private readonly parse: (raw: unknown) => T,
  ) {}

  /** The file's current content, or undefined if it does not exist. */
  async read(): Promise<T | undefined> {
    let s: Stats;
    try {
      s = await stat(this.path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        this.cached = undefined;
        return undefined;
      }
      throw e;
    }
    const c = this.cached;
    if (c && c.ino === s.ino && c.mtimeMs === s.mtimeMs && c.size === s.size) return c.value;
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
    const value = this.parse(JSON.parse(text));
    this.cached = { ino: s.ino, mtimeMs: s.mtimeMs, size: s.size, value };
    return value;
  }

  /** Forget the cached content (after this process wrote the file). */
  invalidate(): void {
    this.cached = undefined;
  }
}
