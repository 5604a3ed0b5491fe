// Starts bench/stack.mjs (pgwarden in its own process) and tells where everything is.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TokenSource } from './token.js';

export const CITUS_PASSWORD = 'Bench-Citus-Passw0rd';

export interface Stack {
  pid: number;
  gatewayPort: number;
  /** The gateway's transaction pool (--pool-port). */
  poolPort: number;
  directPort: number;
  socketDir: string;
  socketPort: number;
  /** The coordinator's postmaster (its children are the backends the bench counts). */
  postmasterPid: number;
  caPath: string;
  superuserPassword: string;
  /** The API's base URL (https). */
  apiUrl: string;
  pgCtl: string;
  /** The OS user the servers run as (pgwarden run as root), else null. */
  runAs: { uid: number; gid: number; name: string } | null;
  /** The coordinator first, then the workers. */
  nodes: Array<{ name: string; dataDir: string; socketDir: string; port: number; logFile: string }>;
  dataDir: string;
  child: ChildProcess;
  token?: TokenSource | undefined;
}

export function log(line: string): void {
  process.stdout.write(line + '\n');
}

export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export function run(file: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024, timeout: (Number(process.env.BENCH_SECONDS ?? 10) + 120) * 1000 },
      (e, stdout, stderr) => resolve({ code: e ? (typeof e.code === 'number' ? e.code : 1) : 0, stdout: String(stdout), stderr: String(stderr) }),
    );
  });
}

export async function startStack(): Promise<Stack> {
  const dataDir = await mkdtemp(join(tmpdir(), 'pgwarden-bench-'));
  await chmod(dataDir, 0o711);
  const gatewayPort = await freePort();
  const basePort = await freePort();
  const child = spawn(process.execPath, ['--expose-gc', new URL('./stack.mjs', import.meta.url).pathname, dataDir, String(gatewayPort), String(basePort)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  // A bench that dies (its output piped into `head`, an uncaught error) stops the stack too.
  process.once('exit', () => child.kill('SIGTERM'));
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve(out.slice(0, nl));
    });
    child.once('exit', (code) => reject(new Error(`the pgwarden stack exited (${code})`)));
  }).catch(async (e: unknown) => {
    // It never started: nobody else will remove its data directory.
    await rm(dataDir, { recursive: true, force: true });
    throw e;
  });
  return { ...(JSON.parse(line) as Omit<Stack, 'dataDir' | 'child'>), dataDir, child };
}

/** Watches a stack for an exit nobody asked for (pgwarden crashed): `died` says so, and the
 * bench fails with it; `stop()` ends the stack if it runs and, if it died, stops the
 * servers it left running (pgwarden could not). */
export function guardStack(stack: Stack): { died: () => string | undefined; stop: () => Promise<void> } {
  let stopping = false;
  let died: string | undefined;
  const exited = new Promise<void>((resolve) =>
    stack.child.once('exit', (code, signal) => {
      if (!stopping) {
        died = `the pgwarden stack (pid ${stack.pid}) exited during the run (${signal ?? `exit code ${code}`}); its output is above`;
        log(`FAILED: ${died}`);
      }
      resolve();
    }),
  );
  return {
    died: () => died,
    stop: async () => {
      stopping = true;
      stack.child.kill('SIGTERM');
      await exited;
      if (died) for (const node of stack.nodes) await stopLeftServer(node.dataDir);
    },
  };
}

/** Fast shutdown (SIGINT) of the server running in `dataDir`, if one is, and waits for it. */
async function stopLeftServer(dataDir: string): Promise<void> {
  const pid = Number((await readFile(join(dataDir, 'postmaster.pid'), 'utf8').catch(() => '')).split('\n')[0]);
  if (!pid) return;
  const alive = (): boolean => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (!alive()) return;
  process.kill(pid, 'SIGINT');
  for (let i = 0; i < 300 && alive(); i++) await sleep(100);
}
