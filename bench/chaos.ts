// Faults during load (issue 18, item 2): one pgwarden with an embedded cluster that has
// workers, a load of clients (half Entra tokens, half SCRAM passwords: citus and a native
// role made for the test; reconnecting every few queries), and, one at a time, each fault
// in chaos-faults.ts, each in a load window of its own: the load runs, the fault is
// applied, the load goes on, then stops. Per fault a table: what the clients saw (every
// error explained by the fault or not), the time to recover, whether the nodes' catalogs
// agree afterwards, and the gateway's memory and descriptors against the baseline. Exits 1
// when any client saw an unexplained error, the nodes disagree, or descriptors leaked.
// Run: npm run chaos -- [--clients N] [--before S] [--after S] [--workers N] [--faults a,b]
// (or CHAOS_CLIENTS, CHAOS_BEFORE, CHAOS_AFTER, CHAOS_WORKERS, CHAOS_FAULTS; defaults 300
// clients, 5 s before each fault, 15 s after, 2 workers, every fault).
import { randomBytes } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { httpRequestJson } from '../src/util/http-client.js';
import { fds, rssAfterGcMb, rssMb, runClients, type Identity, type Outcome } from './client-loop.js';
import { APP_ROLE, FAULTS, type ChaosContext, type ChaosState, type Fault } from './chaos-faults.js';
import { stopStarted, waitForAgreement } from './chaos-nodes.js';
import { classify, faultTable, passed, summaryTable, type FaultResult } from './chaos-report.js';
import { CITUS_PASSWORD, guardStack, log, startStack, type Stack } from './stack-client.js';
import { tokenFor } from './token.js';

const { values: args } = parseArgs({
  options: {
    clients: { type: 'string' },
    before: { type: 'string' },
    after: { type: 'string' },
    workers: { type: 'string' },
    faults: { type: 'string' },
  },
});
const CLIENTS = whole('--clients', args.clients ?? process.env.CHAOS_CLIENTS ?? '300', 4);
const BEFORE_S = whole('--before', args.before ?? process.env.CHAOS_BEFORE ?? '5', 1);
const AFTER_S = whole('--after', args.after ?? process.env.CHAOS_AFTER ?? '15', 1);
const WORKERS = whole('--workers', args.workers ?? process.env.CHAOS_WORKERS ?? '2', 1);
const NAMES = (args.faults ?? process.env.CHAOS_FAULTS ?? FAULTS.map((f) => f.name).join(',')).split(',').filter(Boolean);
const QUERIES_PER_CONNECTION = 20;
const DATABASE = 'citus';

function whole(name: string, value: string, min: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) {
    process.stderr.write(`chaos: ${name} must be a whole number of at least ${min} (got ${JSON.stringify(value)})\n`);
    process.exit(2);
  }
  return n;
}

const unknown = NAMES.filter((n) => !FAULTS.some((f) => f.name === n));
if (unknown.length > 0) {
  process.stderr.write(`chaos: unknown fault(s) ${unknown.join(', ')}; known: ${FAULTS.map((f) => f.name).join(', ')}\n`);
  process.exit(2);
}

/** Who client i is: i % 4 = 0 and 2 Entra (two tokens), 1 citus, 3 the native role. */
async function identityOf(state: ChaosState, i: number): Promise<Identity> {
  if (i % 4 === 3) await state.appHold;
  switch (i % 4) {
    case 0:
    case 2: {
      const t = state.tokens[i % 4 === 0 ? 0 : 1];
      return { user: state.entraUser, password: t.token, group: 'entra', variant: t.label };
    }
    case 1:
      return { user: 'citus', password: CITUS_PASSWORD, group: 'citus' };
    default:
      if (state.stale.has(i)) return { user: APP_ROLE, password: state.oldAppPassword!, group: APP_ROLE, variant: 'old password' };
      return { user: APP_ROLE, password: state.appPassword, group: APP_ROLE, variant: state.oldAppPassword ? 'new password' : 'first password' };
  }
}

async function oneFault(ctx: ChaosContext, fault: Fault, ca: string, baseline: { rss: number; fds: number }): Promise<FaultResult> {
  const outcomes: Outcome[] = [];
  let going = true;
  const counts = { signIns: 0, queries: 0, errors: 0 };
  const load = runClients({
    gatewayPort: ctx.stack.gatewayPort,
    ca,
    database: DATABASE,
    clients: CLIENTS,
    queriesPerConnection: QUERIES_PER_CONNECTION,
    identity: (i) => identityOf(ctx.state, i),
    running: () => going,
    record: (o) => {
      outcomes.push(o);
      if (o.error) counts.errors++;
      else if (o.phase === 'sign-in') counts.signIns++;
      else counts.queries++;
      // A client that used the old password once more goes on with the new one.
      if (o.variant === 'old password' && o.phase === 'sign-in') ctx.state.stale.delete(o.client);
    },
    pauseAfterErrorMs: 250,
    hangAfterMs: 180_000,
  });
  const t0 = performance.now();
  const progress = setInterval(async () => {
    const rss = await rssMb(ctx.stack.pid).catch(() => NaN);
    const open = await fds(ctx.stack.pid).catch(() => NaN);
    log(
      `  ${fault.name}: ${((performance.now() - t0) / 1000).toFixed(0)} s: ${counts.signIns} sign-ins, ${counts.queries} queries, ` +
        `${counts.errors} errors; gateway RSS ${rss.toFixed(1)} MB, ${open} fds`,
    );
  }, 5_000);
  let applied: Awaited<ReturnType<Fault['apply']>> = { note: '' };
  let failure: string | undefined;
  await sleep(BEFORE_S * 1000);
  log(`  ${fault.name}: applying: ${fault.title}`);
  const startedAt = performance.now();
  try {
    applied = await fault.apply(ctx);
  } catch (e) {
    failure = (e as Error).message;
    log(`  ${fault.name}: the fault failed: ${failure}`);
  }
  const endedAt = performance.now();
  log(`  ${fault.name}: applied in ${((endedAt - startedAt) / 1000).toFixed(2)} s; the load goes on for ${AFTER_S} s`);
  await sleep(AFTER_S * 1000);
  going = false;
  await load;
  clearInterval(progress);
  await sleep(3000);
  const after = { rss: await rssAfterGcMb(ctx.stack.pid), fds: await fds(ctx.stack.pid) };
  const agreement = await waitForAgreement(ctx.stack, 60_000);
  const window = { startedAt, endedAt, appliedAt: applied.appliedAt ?? endedAt, from: applied.from ?? startedAt };
  return {
    fault,
    note: applied.note || 'not applied',
    applyMs: endedAt - startedAt,
    ...classify(fault, outcomes, window),
    agreement,
    rss: { before: baseline.rss, after: after.rss },
    fds: { before: baseline.fds, after: after.fds },
    ...(failure ? { failure } : {}),
  };
}

async function main(): Promise<void> {
  process.env.BENCH_WORKERS = String(WORKERS);
  process.env.BENCH_NODE_TCP = '0';
  process.env.BENCH_MAX_CONNECTIONS ??= String(Math.max(1000, CLIENTS * 2 + 300));
  process.env.BENCH_MAX_PENDING_AUTH ??= String(Math.max(1000, CLIENTS + 100));
  // As in the load test (bench/load.ts): the whole fleet may sign in at once after a fault.
  process.env.BENCH_AUTH_TIMEOUT ??= process.env.LOAD_AUTH_TIMEOUT ?? '120';
  const faults = NAMES.map((n) => FAULTS.find((f) => f.name === n)!);
  log(
    `chaos: ${CLIENTS} clients (half Entra tokens, a quarter citus, a quarter ${APP_ROLE}), ${QUERIES_PER_CONNECTION} queries per connection; ` +
      `${WORKERS} worker(s); faults ${faults.map((f) => f.name).join(', ')}, each ${BEFORE_S} s into its load, which goes on ${AFTER_S} s after it`,
  );
  const stack: Stack = await startStack();
  const guard = guardStack(stack);
  const startedByPgCtl = new Set<string>();
  const results: FaultResult[] = [];
  try {
    const tokens = await tokenFor(stack.dataDir);
    const ca = await readFile(stack.caPath, 'utf8');
    const first = await tokens.token();
    const api: ChaosContext['api'] = async (method, path, body) => {
      // The Entra admin's token: citus's Basic sign-in is refused while the method is entra.
      const r = await httpRequestJson(stack.apiUrl + path, { method, ca, headers: { authorization: `Bearer ${first}` }, ...(body ? { json: body } : {}) });
      const text = r.body.toString('utf8');
      return { status: r.status, data: text ? (JSON.parse(text) as unknown) : undefined };
    };
    const appPassword = `Chaos-App-${randomBytes(9).toString('base64url')}-1a`;
    const made = await api('POST', '/api/v1/roles', { name: APP_ROLE, password: appPassword });
    if (made.status !== 201) throw new Error(`could not add ${APP_ROLE}: HTTP ${made.status} ${JSON.stringify(made.data)}`);
    const state: ChaosState = {
      entraUser: tokens.user,
      tokens: [
        { token: first, label: 'first token' },
        { token: first, label: 'first token' },
      ],
      appPassword,
      oldAppPassword: undefined,
      stale: new Set(),
      appClients: Array.from({ length: CLIENTS }, (_, i) => i).filter((i) => i % 4 === 3),
      appHold: undefined,
    };
    const ctx: ChaosContext = { stack, state, api, freshToken: () => tokens.token(true), startedByPgCtl, log };
    await sleep(1000);
    const baseline = { rss: await rssAfterGcMb(stack.pid), fds: await fds(stack.pid) };
    log(`baseline: gateway RSS ${baseline.rss.toFixed(1)} MB, ${baseline.fds} open fds`);
    for (const fault of faults) {
      log(`fault ${results.length + 1} of ${faults.length}: ${fault.name}`);
      // A gateway that died fails the run, with that as its reason.
      const r = await oneFault(ctx, fault, ca, baseline).catch((e: unknown) => {
        throw new Error(guard.died() ?? (e as Error).message, { cause: e });
      });
      if (guard.died()) throw new Error(guard.died());
      results.push(r);
      log(
        `  ${fault.name}: ${r.signIns} sign-ins, ${r.queries} queries, ${[...r.explained.values()].reduce((a, b) => a + b, 0)} explained and ` +
          `${[...r.unexplained.values()].reduce((a, b) => a + b, 0)} unexplained errors; ${passed(r) ? 'ok' : 'FAILED'}`,
      );
    }
    log('');
    for (const r of results) for (const line of faultTable(r)) log(line);
    for (const line of summaryTable(results)) log(line);
    const failed = results.filter((r) => !passed(r));
    if (failed.length > 0) {
      log(`FAILED: ${failed.map((r) => r.fault.name).join(', ')}`);
      process.exitCode = 1;
    } else log(`ok: ${results.length} fault(s) during load; every error explained by its fault, the nodes agree, descriptors back at the baseline`);
  } finally {
    await guard.stop();
    await stopStarted(stack, startedByPgCtl);
    if (guard.died()) process.exitCode = 1;
    // CHAOS_KEEP_DATA=1 (or a gateway that died) keeps the data directory, and with it the logs (no secret is in them).
    if (process.env.CHAOS_KEEP_DATA === '1' || guard.died()) log(`kept ${stack.dataDir} (its logs are in ${stack.dataDir}/logs)`);
    else await rm(stack.dataDir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`chaos failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
