// Runs a worker's changes, in phase order, each on its own: a failing statement is
// recorded and the next one still runs (one bad grant must not hold up the rest).
import type pg from 'pg';
import type { Change } from './changes.js';

export type ErrorLog = Map<string, string>;

/** Applies `changes` on `c`; returns how many succeeded. Errors go to `errors` (describe -> message). */
export async function applyChanges(c: pg.Client, changes: readonly Change[], errors: ErrorLog): Promise<number> {
  let applied = 0;
  const ordered = [...changes].sort((a, b) => a.phase - b.phase);
  for (const change of ordered) {
    try {
      await c.query(change.sql);
      applied++;
      errors.delete(change.describe);
    } catch (e) {
      errors.set(change.describe, failure(change, e));
    }
  }
  return applied;
}

/** A secret-free account of a failure. For a statement that carries a verifier, only the
 * SQLSTATE: nothing of the statement may come back, not even in an error message. */
export function failure(change: Change, e: unknown): string {
  const err = e as { code?: string; message?: string };
  if (change.secret) return `failed (SQLSTATE ${err.code ?? 'unknown'})`;
  return err.code ? `${err.message ?? 'failed'} (SQLSTATE ${err.code})` : (err.message ?? String(e));
}
