// The chaos test's tables: what the clients saw during one fault's load window, each
// failure explained by the fault or not, the time to recover, whether the nodes agree,
// and the gateway's memory and file descriptors against the baseline.
import { errorKind, percentile, type Outcome } from './client-loop.js';
import type { Fault } from './chaos-faults.js';

/** An explained error still counts as the fault's only while the fault lasts and this long after. */
export const EXPLAINED_GRACE_MS = 10_000;
/** More open descriptors than the baseline after the load: a leak. */
export const FD_SLACK = 5;

export interface FaultResult {
  fault: Fault;
  note: string;
  /** How long applying the fault took, ms. */
  applyMs: number;
  /** Sign-in latency over the window (successful ones), ms. */
  signInP50: number;
  signInP99: number;
  signIns: number;
  queries: number;
  explained: Map<string, number>;
  unexplained: Map<string, number>;
  /** ms from the fault (or its `from`) to the first success of an affected operation; undefined: none. */
  recoveryMs: number | undefined;
  /** First to last explained error, ms. */
  errorWindowMs: number | undefined;
  agreement: { agree: boolean; afterMs: number; differences: string[] };
  rss: { before: number; after: number };
  fds: { before: number; after: number };
  /** Set when the fault itself could not be applied. */
  failure?: string;
}

export interface Window {
  startedAt: number;
  appliedAt: number;
  endedAt: number;
  from: number;
}

type Classified = Pick<FaultResult, 'signIns' | 'queries' | 'explained' | 'unexplained' | 'recoveryMs' | 'errorWindowMs' | 'signInP50' | 'signInP99'>;

export function classify(fault: Fault, outcomes: readonly Outcome[], w: Window): Classified {
  const explained = new Map<string, number>();
  const unexplained = new Map<string, number>();
  let signIns = 0;
  let queries = 0;
  let recovered: number | undefined;
  let first: number | undefined;
  let last: number | undefined;
  const latencies: number[] = [];
  const bump = (m: Map<string, number>, k: string): void => void m.set(k, (m.get(k) ?? 0) + 1);
  for (const o of outcomes) {
    if (!o.error) {
      if (o.phase === 'sign-in') {
        signIns++;
        latencies.push(o.endedAt - o.startedAt);
      } else queries++;
      if (fault.affected(o) && o.startedAt >= w.appliedAt && (recovered === undefined || o.endedAt < recovered)) recovered = o.endedAt;
      continue;
    }
    const inWindow = o.endedAt >= w.startedAt && o.endedAt <= w.endedAt + EXPLAINED_GRACE_MS;
    const why = inWindow ? fault.explain({ ...o, error: o.error }) : undefined;
    const kind = `${o.phase} ${errorKind(o.error)}`;
    if (why) {
      bump(explained, `${kind} (${why})`);
      first = Math.min(first ?? o.endedAt, o.endedAt);
      last = Math.max(last ?? o.endedAt, o.endedAt);
    } else bump(unexplained, `${kind} (${o.group}${o.variant ? `, ${o.variant}` : ''})`);
  }
  const sorted = Float64Array.from(latencies).sort();
  return {
    signIns,
    signInP50: percentile(sorted, 50),
    signInP99: percentile(sorted, 99),
    queries,
    explained,
    unexplained,
    recoveryMs: recovered === undefined ? undefined : recovered - w.from,
    errorWindowMs: first === undefined ? undefined : last! - first,
  };
}

const sum = (m: Map<string, number>): number => [...m.values()].reduce((a, b) => a + b, 0);
const s = (ms: number | undefined): string => (ms === undefined ? '-' : `${(ms / 1000).toFixed(2)} s`);

export function passed(r: FaultResult): boolean {
  return !r.failure && r.unexplained.size === 0 && r.agreement.agree && r.fds.after - r.fds.before <= FD_SLACK;
}

/** One table per fault (markdown). */
export function faultTable(r: FaultResult): string[] {
  const lines = [`### ${r.fault.name}: ${r.fault.title}`, '', `${r.note}`, '', '| what | measured |', '| --- | --- |'];
  if (r.failure) lines.push(`| the fault could not be applied | ${r.failure.replace(/\|/g, '\\|')} |`);
  lines.push(`| applying the fault took | ${s(r.applyMs)} |`);
  lines.push(`| sign-ins (p50 / p99 latency) | ${r.signIns} (${s(r.signInP50)} / ${s(r.signInP99)}) |`, `| queries | ${r.queries} |`);
  lines.push(`| explained errors | ${sum(r.explained)} |`);
  for (const [k, n] of r.explained) lines.push(`| &nbsp; ${k.replace(/\|/g, '\\|')} | ${n} |`);
  lines.push(`| **unexplained errors** | **${sum(r.unexplained)}** |`);
  for (const [k, n] of r.unexplained) lines.push(`| &nbsp; ${k.replace(/\|/g, '\\|')} | ${n} |`);
  lines.push(`| explained errors from first to last | ${s(r.errorWindowMs)} |`);
  lines.push(`| time to recover (from the fault to the first success of an affected operation begun once it was applied) | ${s(r.recoveryMs)} |`);
  const agree = r.agreement.agree
    ? `yes (checked ${s(r.agreement.afterMs)} after the load)`
    : `**no**: ${r.agreement.differences.join('; ').replace(/\|/g, '\\|')}`;
  lines.push(`| nodes' catalogs agree afterwards (roles, memberships, settings, privileges) | ${agree} |`);
  lines.push(`| gateway RSS after GC, baseline -> after (MB) | ${r.rss.before.toFixed(1)} -> ${r.rss.after.toFixed(1)} |`);
  lines.push(`| gateway open fds, baseline -> after | ${r.fds.before} -> ${r.fds.after} |`);
  lines.push(`| verdict | ${passed(r) ? 'ok' : '**FAILED**'} |`, '');
  return lines;
}

/** One line per fault. */
export function summaryTable(results: readonly FaultResult[]): string[] {
  const lines = [
    '| fault | sign-ins | queries | explained errors | unexplained | recover | nodes agree | RSS MB | fds | verdict |',
    '| --- | ---: | ---: | ---: | ---: | ---: | --- | --- | --- | --- |',
  ];
  for (const r of results) {
    lines.push(
      `| ${r.fault.name} | ${r.signIns} | ${r.queries} | ${sum(r.explained)} | ${sum(r.unexplained)} | ${s(r.recoveryMs)} | ` +
        `${r.agreement.agree ? 'yes' : 'no'} | ` +
        `${r.rss.before.toFixed(1)} -> ${r.rss.after.toFixed(1)} | ${r.fds.before} -> ${r.fds.after} | ${passed(r) ? 'ok' : 'FAILED'} |`,
    );
  }
  return lines;
}
