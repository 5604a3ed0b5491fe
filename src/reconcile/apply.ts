// Runs a worker's changes in phase order. Statements go in batches (one round trip and
// one transaction per batch: a worker catching up on thousands of grants would
// otherwise pay a round trip each); a batch that fails is run again one statement at a
// time, so that one bad grant is recorded and the rest still apply.
import type pg from 'pg';
import type { Change } from './changes.js';

/** Statements per round trip. */
const BATCH_SIZE = 100;

export type ErrorLog = Map<string, string>;

/** Applies `changes` on `c`; returns how many succeeded. Errors go to `errors` (describe -> message). */
export async function applyChanges(c: pg.Client, changes: readonly Change[], errors: ErrorLog): Promise<number> {
  let applied = 0;
  const ordered = [...changes].sort((a, b) => a.phase - b.phase);
  for (let i = 0; i < ordered.length;) {
    // A batch never spans two phases: a later phase may need an earlier one committed.
    let end = i + 1;
    while (end < ordered.length && end - i < BATCH_SIZE && ordered[end]!.phase === ordered[i]!.phase) end++;
    const batch = ordered.slice(i, end);
    i = end;
    try {
      await c.query(batch.map((x) => x.sql).join(';\n'));
      applied += batch.length;
      for (const x of batch) errors.delete(x.describe);
      continue;
    } catch {
      // Find the culprit(s) below; the batch's own error names none of them reliably.
    }
    for (const change of batch) {
      try {
        await c.query(change.sql);
        applied++;
        errors.delete(change.describe);
      } catch (e) {
        errors.set(change.describe, failure(change, e));
      }
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
