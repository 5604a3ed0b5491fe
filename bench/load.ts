// Load: LOAD_CLIENTS (default 1,000) concurrent clients sign in through the gateway,
// half with Entra tokens and half with passwords (SCRAM), and run queries for
// LOAD_SECONDS (default 60), reconnecting every few queries. Afterwards: no client saw
// an error, and the gateway's resident memory and open file descriptors are back near
// their baseline. Run: npm run build && node --import tsx bench/load.ts
import { readFile, readdir, rm } from 'node:fs/promises';
import pg from 'pg';
import { tokenFor } from './token.js';
import { CITUS_PASSWORD, log, startStack, type Stack } from './stack-client.js';

const CLIENTS = Number(process.env.LOAD_CLIENTS ?? 1000);
const SECONDS = Number(process.env.LOAD_SECONDS ?? 60);
const QUERIES_PER_CONNECTION = 20;

async function rssMb(pid: number): Promise<number> {
  return Number(/VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024;
}

/** Resident memory of the gateway process right after a full garbage collection. */
async function rssAfterGcMb(pid: number): Promise<number> {
  process.kill(pid, 'SIGUSR2');
  await new Promise((r) => setTimeout(r, 500));
  return rssMb(pid);
}

async function fds(pid: number): Promise<number> {
  return (await readdir(`/proc/${pid}/fd`)).length;
}

async function main(): Promise<void> {
  log(`load: ${CLIENTS} clients for ${SECONDS} s (half Entra tokens, half SCRAM passwords), ${QUERIES_PER_CONNECTION} queries per connection`);
  const stack: Stack = await startStack();
  try {
    const tokens = await tokenFor(stack.dataDir);
    const ca = await readFile(stack.caPath, 'utf8');
    // Warm up once, then take the baseline.
    const warm = new pg.Client({ host: 'localhost', port: stack.gatewayPort, user: 'citus', password: CITUS_PASSWORD, database: 'postgres', ssl: { ca } });
    await warm.connect();
    await warm.end();
    await new Promise((r) => setTimeout(r, 1000));
    const baseline = { rss: await rssAfterGcMb(stack.pid), fds: await fds(stack.pid) };
    log(`baseline: gateway RSS ${baseline.rss.toFixed(1)} MB, ${baseline.fds} open fds`);

    const deadline = Date.now() + SECONDS * 1000;
    const counts = { connections: 0, queries: 0, errors: 0 };
    const errors = new Map<string, number>();
    const token = await tokens.token();
    const client = async (i: number): Promise<void> => {
      const entra = i % 2 === 0;
      while (Date.now() < deadline) {
        const c = new pg.Client({
          host: 'localhost',
          port: stack.gatewayPort,
          database: 'postgres',
          ssl: { ca },
          user: entra ? tokens.user : 'citus',
          password: entra ? token : CITUS_PASSWORD,
        });
        try {
          await c.connect();
          counts.connections++;
          for (let q = 0; q < QUERIES_PER_CONNECTION && Date.now() < deadline; q++) {
            const r = await c.query('select $1::int + 1 as n', [q]);
            if (r.rows[0].n !== q + 1) throw new Error('wrong answer');
            counts.queries++;
          }
        } catch (e) {
          counts.errors++;
          const m = (e as Error).message;
          errors.set(m, (errors.get(m) ?? 0) + 1);
        } finally {
          await c.end().catch(() => undefined);
        }
      }
    };
    const progress = setInterval(async () => {
      log(
        `  ${Math.max(0, Math.round((deadline - Date.now()) / 1000))} s left: ` +
          `${counts.connections} sign-ins, ${counts.queries} queries, ${counts.errors} errors; ` +
          `gateway RSS ${(await rssMb(stack.pid)).toFixed(1)} MB, ${await fds(stack.pid)} fds`,
      );
    }, 10_000);
    // Start clients gradually (50 at a time), as a real fleet would.
    const running: Array<Promise<void>> = [];
    for (let i = 0; i < CLIENTS; i++) {
      running.push(client(i));
      if (i % 50 === 49) await new Promise((r) => setTimeout(r, 100));
    }
    await Promise.all(running);
    clearInterval(progress);
    await new Promise((r) => setTimeout(r, 5000));
    const after = { rss: await rssAfterGcMb(stack.pid), fds: await fds(stack.pid) };
    log('');
    log(`| clients | seconds | sign-ins | queries | errors | RSS before -> after (MB) | open fds before -> after |`);
    log(`| ---: | ---: | ---: | ---: | ---: | --- | --- |`);
    log(
      `| ${CLIENTS} | ${SECONDS} | ${counts.connections} | ${counts.queries} | ${counts.errors} | ` +
        `${baseline.rss.toFixed(1)} -> ${after.rss.toFixed(1)} | ${baseline.fds} -> ${after.fds} |`,
    );
    for (const [m, n] of errors) log(`  error x${n}: ${m}`);
    const leaked = after.fds - baseline.fds > 5;
    if (counts.errors > 0 || leaked) {
      log(counts.errors > 0 ? 'FAILED: clients saw errors' : 'FAILED: file descriptors leaked');
      process.exitCode = 1;
    } else log('ok: no errors, file descriptors back to the baseline');
  } finally {
    stack.child.kill('SIGTERM');
    await new Promise((r) => stack.child.once('exit', r));
    await rm(stack.dataDir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`load failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
