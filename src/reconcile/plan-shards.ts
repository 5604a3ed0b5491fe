// Citus: a shard placement has the privileges of its table. Citus grants and revokes on
// every shard with the table, but a shard changed by hand on a worker (or a GRANT that
// reached the table and not a shard) is drift like any other. This turns the
// coordinator's catalog into what a worker should have, shards included: for each shard
// on the worker whose table the coordinator has, the table's privileges (and its
// columns'), under the shard's name. Shards that the coordinator also holds itself (the
// placements of reference tables) get the same treatment, so no shard is compared with
// another shard's name by accident.
import { objectKey, type AclObject, type DatabaseCatalog } from './model.js';

export function withShards(want: DatabaseCatalog, worker: DatabaseCatalog): DatabaseCatalog {
  if (worker.shards.size === 0) return want;
  const objects = new Map(want.objects);
  const columns = new Map(want.columns);
  for (const [shardKey, [schema, table]] of worker.shards) {
    const tableKey = objectKey('table', [schema, table]);
    const t = want.objects.get(tableKey);
    if (!t) continue;
    const shardParts = (JSON.parse(shardKey) as string[]).slice(1);
    objects.set(shardKey, { ...t, parts: shardParts });
    const cols = want.columns.get(tableKey);
    if (cols) columns.set(shardKey, cols);
    for (const column of cols ?? []) {
      const c: AclObject | undefined = want.objects.get(objectKey('column', [schema, table, column]));
      if (c) objects.set(objectKey('column', [...shardParts, column]), { ...c, parts: [...shardParts, column] });
    }
  }
  return { ...want, objects, columns };
}
