// The chaos test's hands on the cluster's servers, as an operator's: pg_ctl on a node's
// data directory (as the servers' OS user), and whether every node's roles, memberships,
// settings and privileges agree with the coordinator's (test/reconcile/catalog-snapshot.ts,
// plain SQL written apart from the reconciler).
import { spawn } from 'node:child_process';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { catalogSnapshot, snapshotDiff } from '../test/reconcile/catalog-snapshot.js';
import type { Stack } from './stack-client.js';

type StackNode = Stack['nodes'][number];

export function nodeNamed(stack: Stack, name: string): StackNode {
  const node = stack.nodes.find((n) => n.name === name);
  if (!node) throw new Error(`the stack has no node ${name} (it has ${stack.nodes.map((n) => n.name).join(', ')})`);
  return node;
}

/**
 * Runs `pg_ctl <action> -D <node's data directory> -m fast -w`. A server that pg_ctl
 * starts (restart) runs outside pgwarden, so the caller stops it at the end (stopStarted).
 * Its output goes to pg_ctl.log in the data directory (the node's own log is pgwarden's).
 */
export function pgCtl(stack: Stack, node: StackNode, action: 'restart' | 'stop'): Promise<void> {
  const args = [action, '-D', node.dataDir, '-m', 'fast', '-w', '-t', '120', ...(action === 'restart' ? ['-l', join(node.dataDir, 'pg_ctl.log')] : [])];
  return new Promise((resolve, reject) => {
    const child = spawn(stack.pgCtl, args, {
      cwd: node.dataDir,
      env: { ...process.env, LC_ALL: 'C' },
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(stack.runAs ? { uid: stack.runAs.uid, gid: stack.runAs.gid } : {}),
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`pg_ctl ${action} ${node.name} exited ${code}: ${out.trim()}`))));
  });
}

/** Stops, with pg_ctl, the servers pg_ctl started (after pgwarden has stopped: it does not know them). */
export async function stopStarted(stack: Stack, names: Iterable<string>): Promise<void> {
  for (const name of names) {
    const node = nodeNamed(stack, name);
    const running = await access(join(node.dataDir, 'postmaster.pid')).then(
      () => true,
      () => false,
    );
    if (running) await pgCtl(stack, node, 'stop').catch((e: Error) => process.stderr.write(`chaos: ${e.message}\n`));
  }
}

async function snapshotOf(stack: Stack, node: StackNode, database: string) {
  const c = new pg.Client({ host: node.socketDir, port: node.port, user: 'postgres', password: stack.superuserPassword, database });
  await c.connect();
  try {
    return await catalogSnapshot(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** What differs between the coordinator and each worker, in both databases ([] when they agree). */
export async function catalogDifferences(stack: Stack): Promise<string[]> {
  const [coordinator, ...workers] = stack.nodes;
  const out: string[] = [];
  for (const database of ['postgres', 'citus']) {
    const want = await snapshotOf(stack, coordinator!, database);
    for (const w of workers) {
      try {
        for (const d of snapshotDiff(want, await snapshotOf(stack, w, database))) out.push(`${w.name}/${database}: ${d}`);
      } catch (e) {
        out.push(`${w.name}/${database}: ${(e as Error).message}`);
      }
    }
  }
  return out;
}

/** Waits up to `timeoutMs` for the nodes to agree (the reconciler converges them); says how long it took, or what differs. */
export async function waitForAgreement(stack: Stack, timeoutMs: number): Promise<{ agree: boolean; afterMs: number; differences: string[] }> {
  const started = Date.now();
  let differences: string[] = [];
  do {
    differences = await catalogDifferences(stack).catch((e: Error) => [`could not read the catalogs: ${e.message}`]);
    if (differences.length === 0) return { agree: true, afterMs: Date.now() - started, differences };
    await new Promise((r) => setTimeout(r, 500));
  } while (Date.now() - started < timeoutMs);
  return { agree: false, afterMs: Date.now() - started, differences };
}
