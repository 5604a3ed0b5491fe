// The faults the chaos test applies during the load, one at a time, each with the errors
// it explains (anything else a client sees is unexplained) and the operations whose first
// success after the fault measures the recovery. Each is applied as an operator would:
// pg_ctl on a data directory, the CLI, the REST API.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { Outcome } from './client-loop.js';
import { nodeNamed, pgCtl } from './chaos-nodes.js';
import type { Stack } from './stack-client.js';

/** The native role the chaos test creates, whose password it resets. */
export const APP_ROLE = 'chaos_app';
/** Clients of APP_ROLE that still try the old password once after the reset (fewer than
 * the throttle's free failures per role and address: a real client stops after one). */
export const STALE_CLIENTS = 2;

/** What the load's clients sign in with now; the faults change it. */
export interface ChaosState {
  entraUser: string;
  /** Entra clients alternate between two tokens: [0] stays the first token, [1] is renewed at the key rotation. */
  tokens: [{ token: string; label: string }, { token: string; label: string }];
  appPassword: string;
  oldAppPassword: string | undefined;
  /** Clients of APP_ROLE that still use the old password for one more sign-in. */
  stale: Set<number>;
  /** Ids of the clients that sign in as APP_ROLE. */
  appClients: number[];
  /** While set, APP_ROLE's clients wait before they sign in again (the new password is being rolled out). */
  appHold: Promise<void> | undefined;
}

export interface ChaosContext {
  stack: Stack;
  state: ChaosState;
  api(method: 'GET' | 'PUT' | 'POST', path: string, body?: unknown): Promise<{ status: number; data: unknown }>;
  /** A token fetched now from the provider (never a cached one). */
  freshToken(): Promise<string>;
  /** Nodes that pg_ctl started (the test stops them at the end). */
  startedByPgCtl: Set<string>;
  log(line: string): void;
}

export interface Applied {
  /** What was done. */
  note: string;
  /** Recovery counts from here (default: the fault's start) to the first success of an
   * affected operation that started after `appliedAt` (default: when apply() returned). */
  from?: number;
  appliedAt?: number;
}

export interface Fault {
  name: string;
  title: string;
  apply(ctx: ChaosContext): Promise<Applied>;
  /** Why the fault explains this failed outcome, or undefined. */
  explain(o: Outcome & { error: NonNullable<Outcome['error']> }): string | undefined;
  /** The operations whose first success measures recovery. */
  affected(o: Outcome): boolean;
}

const signIn = (o: Outcome) => o.phase === 'sign-in';
const native = (o: Outcome) => o.group === 'citus' || o.group === APP_ROLE;

export const FAULTS: readonly Fault[] = [
  {
    name: 'coordinator-restart',
    title: 'pg_ctl restart -m fast on the coordinator',
    async apply(ctx) {
      await pgCtl(ctx.stack, nodeNamed(ctx.stack, 'coordinator'), 'restart');
      ctx.startedByPgCtl.add('coordinator');
      return { note: 'pg_ctl restart -m fast -w returned (the coordinator accepts sessions again)' };
    },
    explain(o) {
      if (o.error.code === '57P01') return 'a session on the restarted coordinator ended (PostgreSQL fast shutdown)';
      if (o.error.code === '57P03') return 'a sign-in while the coordinator stopped or started';
      if (signIn(o) && o.error.code === '08006' && /database server is not reachable/.test(o.error.message)) return 'a sign-in while the coordinator was down';
      if (signIn(o) && o.error.code === '08006' && /closed the connection during sign-in/.test(o.error.message)) return 'a sign-in as the coordinator stopped';
      // The session's server went as the client wrote to it, and its 57P01 went with it (pump.ts).
      if (!signIn(o) && o.error.code === '08006' && /closed the connection unexpectedly/.test(o.error.message))
        return 'a session on the stopping coordinator, its FATAL lost';
      return undefined;
    },
    affected: signIn,
  },
  {
    name: 'worker-restart',
    title: 'pg_ctl stop -m fast on worker-1, 3 s, then start it again',
    async apply(ctx) {
      const worker = nodeNamed(ctx.stack, 'worker-1');
      await pgCtl(ctx.stack, worker, 'stop');
      await sleep(3000);
      await pgCtl(ctx.stack, worker, 'restart');
      ctx.startedByPgCtl.add('worker-1');
      return { note: 'worker-1 stopped for 3 s and started again' };
    },
    explain: () => undefined,
    affected: signIn,
  },
  {
    name: 'key-rotation',
    title: "rotate the identity provider's signing keys (pgwarden idp rotate-keys)",
    async apply(ctx) {
      const out = await cli(['idp', 'rotate-keys', '--data-dir', ctx.stack.dataDir, '-o', 'json']);
      const rotated = JSON.parse(out) as { active: string; retired: string };
      const token = await ctx.freshToken();
      const kid = keyIdOf(token);
      if (kid !== rotated.active) throw new Error(`the new token is signed by ${kid}, not by the new active key ${rotated.active}`);
      const applied = performance.now();
      ctx.state.tokens[1] = { token, label: `token signed by the new key` };
      return {
        note: `active key ${rotated.retired.slice(0, 8)}… -> ${rotated.active.slice(0, 8)}…; half the Entra clients take a new token`,
        appliedAt: applied,
      };
    },
    explain: () => undefined,
    affected: (o) => signIn(o) && o.variant === 'token signed by the new key',
  },
  {
    name: 'auth-method',
    title: 'authentication method entra (PUT /api/v1/authentication), 5 s, then both again',
    async apply(ctx) {
      await expectOk(ctx.api('PUT', '/api/v1/authentication', { methods: 'entra' }), 'set entra');
      await sleep(5000);
      const from = performance.now();
      await expectOk(ctx.api('PUT', '/api/v1/authentication', { methods: 'both' }), 'set both');
      return { note: 'entra for 5 s, then both; recovery counts from the switch back', from };
    },
    explain(o) {
      if (!signIn(o) || !native(o)) return undefined;
      if (o.error.code === '28000' && /PostgreSQL authentication is disabled for this cluster/.test(o.error.message))
        return 'a native role while the method is entra';
      if (o.group === 'citus' && o.error.code === '28000' && /not permitted to log in/.test(o.error.message))
        return 'citus is NOLOGIN while the method is entra';
      return undefined;
    },
    affected: (o) => signIn(o) && native(o),
  },
  {
    name: 'password-reset',
    title: `reset ${APP_ROLE}'s password (POST /api/v1/roles/${APP_ROLE}/reset-password)`,
    async apply(ctx) {
      const password = `Chaos-App-${randomBytes(9).toString('base64url')}-9a`;
      const s = ctx.state;
      // As a rollout does it: the role's clients start no new sign-in while the password
      // is reset (their sessions go on), then all but STALE_CLIENTS get the new one. Every
      // old password tried after the reset counts as a wrong guess from this address, and
      // more than the throttle's free failures would refuse the role here, new password
      // included (docs/security.md).
      let release = (): void => undefined;
      s.appHold = new Promise((r) => (release = r));
      try {
        await expectOk(ctx.api('POST', `/api/v1/roles/${APP_ROLE}/reset-password`, { password }), 'reset the password');
        s.oldAppPassword = s.appPassword;
        s.appPassword = password;
        s.stale = new Set(s.appClients.slice(0, STALE_CLIENTS));
      } finally {
        s.appHold = undefined;
        release();
      }
      const note =
        `no new ${APP_ROLE} sign-in during the reset; then the new password for every ${APP_ROLE} client ` +
        `but ${STALE_CLIENTS}, which try the old one once more`;
      return { note, appliedAt: performance.now() };
    },
    explain(o) {
      if (!signIn(o) || o.group !== APP_ROLE || o.error.code !== '28P01') return undefined;
      // 'first password': a client that began signing in before it was given the new one.
      return o.variant !== 'new password' ? 'the old password after the reset' : undefined;
    },
    affected: (o) => signIn(o) && o.group === APP_ROLE && o.variant === 'new password',
  },
];

async function expectOk(answer: Promise<{ status: number; data: unknown }>, what: string): Promise<void> {
  const r = await answer;
  if (r.status !== 200) throw new Error(`could not ${what}: HTTP ${r.status} ${JSON.stringify(r.data)}`);
}

/** The key id in a JWT's header. */
export function keyIdOf(token: string): string {
  return (JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()) as { kid: string }).kid;
}

/** Runs the built CLI, as a user would. */
function cli(args: string[]): Promise<string> {
  const bin = fileURLToPath(new URL('../bin/pgwarden.js', import.meta.url));
  return new Promise((resolve, reject) =>
    execFile(process.execPath, [bin, ...args], { timeout: 60_000 }, (e, stdout, stderr) =>
      e ? reject(new Error(`pgwarden ${args.join(' ')}: ${stderr || e.message}`)) : resolve(stdout),
    ),
  );
}
