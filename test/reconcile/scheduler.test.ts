// One pass at a time; a burst during a pass becomes exactly one more pass.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassScheduler, type PassRequest } from '../../src/reconcile/scheduler.js';

test('triggers during a pass coalesce into one more pass, with every reason and target', async () => {
  const runs: PassRequest[] = [];
  let release: () => void = () => undefined;
  let running = 0;
  let maxRunning = 0;
  const scheduler = new PassScheduler<number>(async (r) => {
    runs.push({ reasons: [...r.reasons], targets: r.targets === 'all' ? 'all' : new Set(r.targets) });
    running++;
    maxRunning = Math.max(maxRunning, running);
    if (runs.length === 1) await new Promise<void>((resolve) => (release = resolve));
    running--;
    return runs.length;
  });
  const first = scheduler.request('first', ['worker-1']);
  const burst = [scheduler.request('a', ['worker-2']), scheduler.request('b', ['worker-3']), scheduler.request('a', ['worker-2'])];
  release();
  assert.equal(await first, 1);
  assert.deepEqual(await Promise.all(burst), [2, 2, 2]);
  assert.equal(runs.length, 2);
  assert.equal(maxRunning, 1);
  assert.deepEqual(runs[1], { reasons: ['a', 'b'], targets: new Set(['worker-2', 'worker-3']) });
  await scheduler.whenIdle();
  assert.equal(scheduler.busy, false);
});

test('a request without targets widens the next pass to every worker', async () => {
  const seen: Array<PassRequest['targets']> = [];
  let release: () => void = () => undefined;
  const scheduler = new PassScheduler<void>(async (r) => {
    seen.push(r.targets === 'all' ? 'all' : new Set(r.targets));
    if (seen.length === 1) await new Promise<void>((resolve) => (release = resolve));
  });
  const first = scheduler.request('first', ['worker-1']);
  const more = [scheduler.request('x', ['worker-1']), scheduler.request('y')];
  release();
  await Promise.all([first, ...more]);
  assert.deepEqual(seen, [new Set(['worker-1']), 'all']);
});

test('a failing pass rejects its requesters and the next pass still runs', async () => {
  let n = 0;
  const scheduler = new PassScheduler<number>(async () => {
    if (++n === 1) throw new Error('boom');
    return n;
  });
  await assert.rejects(scheduler.request('x'), /boom/);
  assert.equal(await scheduler.request('y'), 2);
});
