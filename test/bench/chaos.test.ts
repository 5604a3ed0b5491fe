// `npm run chaos` in small: 40 clients, one worker, every fault with a short load around
// it. It passes only when every error a client saw is explained by its fault, the nodes'
// catalogs agree after each fault, and the gateway's descriptors are back at the baseline
// (bench/chaos.ts says why when it fails). Needs `npm run build` (the stack runs dist/).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { FAULTS } from '../../bench/chaos-faults.js';
import { run } from '../helpers/pgwarden.js';

const CHAOS = fileURLToPath(new URL('../../bench/chaos.ts', import.meta.url));

test('faults during load: every error explained, the nodes agree, nothing leaked', async () => {
  const r = await run(process.execPath, ['--import', 'tsx', CHAOS, '--clients', '40', '--before', '2', '--after', '4', '--workers', '1'], {
    timeoutMs: 300_000,
    cwd: fileURLToPath(new URL('../..', import.meta.url)),
  });
  const out = r.stdout + r.stderr;
  assert.equal(r.code, 0, out);
  for (const f of FAULTS)
    assert.match(out, new RegExp(`^\\| ${f.name} \\| \\d+ \\| \\d+ \\| \\d+ \\| 0 \\| .* \\| yes \\| .* \\| ok \\|$`, 'm'), `the summary of ${f.name}`);
  assert.match(out, /^ok: 5 fault\(s\) during load/m);
});
