// /proc counters for the bench, read the same way for every process it compares: CPU
// time (utime + stime from /proc/PID/stat, in clock ticks) and voluntary and involuntary
// context switches (summed over every thread in /proc/PID/task/*/status), for one process
// (the gateway's Node process, PgBouncer, pgbench) or for a PostgreSQL server (its
// postmaster and all the postmaster's children: backends and auxiliary processes).
//
// A server's children come and go (pgbench -C against PostgreSQL forks a backend per
// connection). Children alive at both snapshots count by their difference, children born
// in between by their whole counters; the CPU of children that exited in between reaches
// the postmaster's cumulative children times (cutime/cstime, once it has reaped them), so
// their CPU is counted exactly: Δ(cutime, cstime) minus what the ones seen at the first
// snapshot had already used then. Their context switches leave no trace in /proc: a
// server difference says so (`exited`) and its switches are then a lower bound.
import { readFileSync, readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

export const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK']).stdout?.toString().trim() || 100);

/** Counters of one process (all its threads), in clock ticks and switches. */
export interface ProcCounters {
  user: number;
  sys: number;
  voluntary: number;
  involuntary: number;
}

interface Stat {
  ppid: number;
  utime: number;
  stime: number;
  cutime: number;
  cstime: number;
  starttime: number;
}

function readStat(pid: number): Stat | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after "(comm) ": f[0] is field 3 (state), so field n is f[n - 3].
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(f[1]), utime: Number(f[11]), stime: Number(f[12]), cutime: Number(f[13]), cstime: Number(f[14]), starttime: Number(f[19]) };
  } catch {
    return undefined;
  }
}

function contextSwitches(pid: number): { voluntary: number; involuntary: number } {
  let voluntary = 0;
  let involuntary = 0;
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return { voluntary: NaN, involuntary: NaN };
  }
  for (const tid of tasks) {
    try {
      const s = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
      voluntary += Number(/\nvoluntary_ctxt_switches:\s+(\d+)/.exec(s)?.[1] ?? 0);
      involuntary += Number(/\nnonvoluntary_ctxt_switches:\s+(\d+)/.exec(s)?.[1] ?? 0);
    } catch {
      // The thread ended between readdir and read: its switches are gone with it.
    }
  }
  return { voluntary, involuntary };
}

/** One process's counters now, or undefined when it is gone. */
export function processCounters(pid: number): ProcCounters | undefined {
  const st = readStat(pid);
  if (!st) return undefined;
  const cs = contextSwitches(pid);
  return { user: st.utime, sys: st.stime, ...cs };
}

export interface ServerSnapshot {
  postmaster: ProcCounters;
  /** The postmaster's cumulative times of reaped children (cutime, cstime). */
  reapedUser: number;
  reapedSys: number;
  /** Children by "pid:starttime" (a pid reused in between is another process). */
  children: Map<string, ProcCounters>;
}

/** The postmaster's children with their stat, from a scan of /proc: a process alive
 * through the scan is always seen (/proc/PID/task/PID/children can skip one when a
 * sibling exits during the read). */
function childrenOf(ppid: number): Array<[number, Stat]> {
  const out: Array<[number, Stat]> = [];
  for (const d of readdirSync('/proc')) {
    const c = d.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const pid = Number(d);
    const st = readStat(pid);
    if (st?.ppid === ppid) out.push([pid, st]);
  }
  return out;
}

/** The postmaster's counters and its children's, consistent: a child reaped between
 * reading the postmaster's cumulative children times and scanning its children would be
 * counted in neither (or in both), so the scan is repeated until those times have not
 * moved during it (at most 20 times: under pgbench -C against PostgreSQL backends exit
 * all the time). */
export function serverSnapshot(postmasterPid: number): ServerSnapshot {
  for (let attempt = 0; ; attempt++) {
    const pm = readStat(postmasterPid);
    if (!pm) throw new Error(`the postmaster (pid ${postmasterPid}) is gone`);
    const children = new Map<string, ProcCounters>();
    for (const [pid, st] of childrenOf(postmasterPid)) {
      const cs = contextSwitches(pid);
      if (!Number.isFinite(cs.voluntary)) continue; // gone since: see the check below
      children.set(`${pid}:${st.starttime}`, { user: st.utime, sys: st.stime, ...cs });
    }
    const pmAfter = readStat(postmasterPid);
    if (!pmAfter) throw new Error(`the postmaster (pid ${postmasterPid}) is gone`);
    if ((pmAfter.cutime === pm.cutime && pmAfter.cstime === pm.cstime) || attempt >= 19) {
      return {
        postmaster: { user: pmAfter.utime, sys: pmAfter.stime, ...contextSwitches(postmasterPid) },
        reapedUser: pm.cutime,
        reapedSys: pm.cstime,
        children,
      };
    }
  }
}

export interface Usage extends ProcCounters {
  /** Server only: CPU ticks of children that exited in between (autovacuum workers;
   * every backend under pgbench -C against PostgreSQL), whose context switches /proc no
   * longer shows. */
  exited: number;
}

export function processUsage(a: ProcCounters, b: ProcCounters): Usage {
  return { user: b.user - a.user, sys: b.sys - a.sys, voluntary: b.voluntary - a.voluntary, involuntary: b.involuntary - a.involuntary, exited: 0 };
}

export function serverUsage(a: ServerSnapshot, b: ServerSnapshot): Usage {
  const u = processUsage(a.postmaster, b.postmaster);
  for (const [key, after] of b.children) {
    const before = a.children.get(key);
    u.user += after.user - (before?.user ?? 0);
    u.sys += after.sys - (before?.sys ?? 0);
    u.voluntary += after.voluntary - (before?.voluntary ?? 0);
    u.involuntary += after.involuntary - (before?.involuntary ?? 0);
  }
  // Children gone since the first snapshot: their whole CPU is in the postmaster's
  // cumulative times now; what they had used before the first snapshot is not ours.
  let goneUser = 0;
  let goneSys = 0;
  for (const [key, before] of a.children) {
    if (b.children.has(key)) continue;
    goneUser += before.user;
    goneSys += before.sys;
  }
  const exitedUser = b.reapedUser - a.reapedUser - goneUser;
  const exitedSys = b.reapedSys - a.reapedSys - goneSys;
  u.user += exitedUser;
  u.sys += exitedSys;
  u.exited = exitedUser + exitedSys;
  return u;
}

/** Ticks to microseconds. */
export const ticksUs = (ticks: number): number => (ticks / CLK_TCK) * 1e6;
