// The opening queue's turns, without servers: a refused turn is tried again after its
// back-off by the queue's own timer, also when nothing else happens meanwhile (no session
// ends, no other sign-in comes).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OpeningQueue } from '../../src/gateway/opening-queue.js';

test('a refused turn is tried again after its back-off, also when the wall clock runs a little ahead of the timers', async () => {
  const queue = new OpeningQueue(2);
  const turn = queue.enter(['cluster'], Date.now() + 60_000);
  const alive = new AbortController();
  await queue.wait(turn, alive.signal, 60_000);
  // The refusal is stamped 5 ms later than the timer that retries it counts from: the timer
  // fires while the wall clock says the back-off has 5 ms to go (as when the two clocks
  // disagree). Failed before: the turn then waited until its deadline.
  const realNow = Date.now;
  Date.now = () => realNow() + 5;
  try {
    queue.refused(turn, 'cluster', '57P03', 'the database system is starting up');
  } finally {
    Date.now = realNow;
  }
  const granted = queue.wait(turn, alive.signal, 60_000).then(() => 'granted');
  let timer: NodeJS.Timeout | undefined;
  const stuck = new Promise<string>((resolve) => (timer = setTimeout(() => resolve('still waiting after 10 s'), 10_000)));
  assert.equal(await Promise.race([granted, stuck]), 'granted');
  clearTimeout(timer);
  queue.succeeded(turn);
  assert.equal(queue.waiting, 0);
});
