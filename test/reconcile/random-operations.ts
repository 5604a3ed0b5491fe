// Random role and privilege operations on a coordinator, for the randomized tests of the
// reconciler (plain PostgreSQL here, Citus in test/citus): the objects they act on, and
// the operations themselves (roles, attributes, passwords, memberships, object, column,
// schema-wide and default privileges, role settings, grants by grantees).
import type pg from 'pg';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { EmbeddedCluster } from '../../src/cluster/embedded.js';
import type { Reconciler } from '../../src/reconcile/index.js';
import type { CatalogSnapshot } from './catalog-snapshot.js';
import { differences, snapshot } from './helpers.js';
import { quoteIdent, quoteLiteral } from '../../src/util/sql.js';

/** The objects the operations act on; created by the test, owned by citus. */
export const SETUP_SQL = `
    CREATE SCHEMA app;
    CREATE SCHEMA "Odd Schema";
    CREATE TABLE app.t1 (a int, b text);
    CREATE TABLE app.t2 (x int);
    CREATE TABLE "Odd Schema"."T 3" ("v v" int, w text);
    CREATE TABLE public.p1 (a int);
    CREATE SEQUENCE app.s1;
    CREATE VIEW app.v1 AS SELECT a FROM app.t1;
    CREATE FUNCTION app.f1(int) RETURNS int LANGUAGE sql AS 'SELECT 1';
    CREATE FUNCTION "Odd Schema".f2(text, n int) RETURNS int LANGUAGE sql AS 'SELECT 2';
    CREATE PROCEDURE app.pr1(int) LANGUAGE sql AS 'SELECT 1'`;

/** mulberry32: small, seedable, good enough to pick operations. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Target {
  readonly on: string;
  readonly privileges: readonly string[];
}

const TABLE = ['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER', 'MAINTAIN'];
const OBJECTS: readonly Target[] = [
  { on: 'TABLE app.t1', privileges: TABLE },
  { on: 'TABLE app.t2', privileges: TABLE },
  { on: 'TABLE "Odd Schema"."T 3"', privileges: TABLE },
  { on: 'TABLE public.p1', privileges: TABLE },
  { on: 'TABLE public.sys1', privileges: TABLE },
  { on: 'TABLE app.v1', privileges: ['SELECT', 'INSERT', 'UPDATE', 'DELETE'] },
  { on: 'SEQUENCE app.s1', privileges: ['USAGE', 'SELECT', 'UPDATE'] },
  { on: 'FUNCTION app.f1(int)', privileges: ['EXECUTE'] },
  { on: 'FUNCTION "Odd Schema".f2(text, int)', privileges: ['EXECUTE'] },
  { on: 'PROCEDURE app.pr1(int)', privileges: ['EXECUTE'] },
  { on: 'SCHEMA app', privileges: ['USAGE', 'CREATE'] },
  { on: 'SCHEMA "Odd Schema"', privileges: ['USAGE', 'CREATE'] },
  { on: 'DATABASE postgres', privileges: ['CONNECT', 'TEMPORARY', 'CREATE'] },
];
const COLUMNS: ReadonlyArray<[string, string]> = [
  ['app.t1', 'a'],
  ['app.t1', 'b'],
  ['"Odd Schema"."T 3"', 'v v'],
];
const DEFAULT_KINDS: ReadonlyArray<[string, readonly string[]]> = [
  ['TABLES', TABLE],
  ['SEQUENCES', ['USAGE', 'SELECT']],
  ['FUNCTIONS', ['EXECUTE']],
  ['TYPES', ['USAGE']],
  ['SCHEMAS', ['USAGE', 'CREATE']],
];
const NAMES = ['reader', 'writer', 'user@tenant.onmicrosoft.com', 'Mixed Case', 'quo"te', 'sp ace', 'app-svc'];

export class Operations {
  private readonly roles: string[] = [];
  private created = 0;
  failed = 0;
  /** The role the current operation creates. */
  private creating: string | undefined;
  /** Why statements failed (names and numbers blanked), and how often. */
  readonly failures = new Map<string, number>();

  constructor(
    private readonly c: pg.Client,
    private readonly rand: () => number,
  ) {}

  private pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.rand() * xs.length)]!;
  }
  private some<T>(xs: readonly T[]): T[] {
    const out = xs.filter(() => this.rand() < 0.4);
    return out.length ? out : [this.pick(xs)];
  }
  private chance(p: number): boolean {
    return this.rand() < p;
  }
  private role(): string | undefined {
    return this.roles.length ? this.pick(this.roles) : undefined;
  }
  private grantee(): string | undefined {
    if (this.chance(0.15)) return 'PUBLIC';
    const r = this.role();
    return r === undefined ? undefined : quoteIdent(r);
  }

  async one(): Promise<void> {
    const kinds = [
      () => this.createRole(),
      () => this.createRole(),
      () => this.dropRole(),
      () => this.alterRole(),
      () => this.password(),
      () => this.membership(),
      () => this.membership(),
      () => this.revokeMembership(),
      () => this.membershipByGrantee(),
      () => this.objectPrivilege(),
      () => this.objectPrivilege(),
      () => this.objectPrivilege(),
      () => this.columnPrivilege(),
      () => this.allInSchema(),
      () => this.privilegeByGrantee(),
      () => this.defaultPrivilege(),
      () => this.defaultPrivilege(),
      () => this.setting(),
    ];
    this.creating = undefined;
    const sqls = await this.pick(kinds)();
    for (const s of sqls) {
      try {
        await this.c.query(s);
      } catch (e) {
        this.failed++; // e.g. a circular membership, a revoke of what was never granted by this role: fine
        // A role that could not be created (Citus, with a worker down) is not one to use.
        if (this.creating !== undefined) this.roles.splice(this.roles.indexOf(this.creating), 1);
        // OPS_FULL_ERRORS=1 keeps each message whole, with the statement.
        const message = (e as Error).message ?? '';
        const why = process.env.OPS_FULL_ERRORS ? `${message} <- ${s}` : message.replace(/"[^"]*"|\d+/g, '_').slice(0, 80);
        this.failures.set(why, (this.failures.get(why) ?? 0) + 1);
        await this.c.query('RESET ROLE').catch(() => undefined);
      }
    }
  }

  private async createRole(): Promise<string[]> {
    const name = `${this.pick(NAMES)}${this.created++ % 3 === 0 ? '' : `-${this.created}`}`;
    if (this.roles.includes(name)) return [];
    this.roles.push(name);
    this.creating = name;
    const attrs = [
      this.chance(0.6) ? 'LOGIN' : 'NOLOGIN',
      this.chance(0.8) ? 'INHERIT' : 'NOINHERIT',
      this.chance(0.2) ? 'CREATEDB' : '',
      this.chance(0.1) ? 'BYPASSRLS' : '',
      this.chance(0.3) ? `CONNECTION LIMIT ${Math.floor(this.rand() * 20)}` : '',
      this.chance(0.3) ? `VALID UNTIL ${quoteLiteral(`20${30 + Math.floor(this.rand() * 9)}-0${1 + Math.floor(this.rand() * 9)}-15 12:00:00+00`)}` : '',
      this.chance(0.5) ? `PASSWORD ${quoteLiteral(`Pw-${Math.floor(this.rand() * 1e9)}`)}` : '',
    ];
    return [`CREATE ROLE ${quoteIdent(name)} ${attrs.join(' ')}`];
  }

  private async dropRole(): Promise<string[]> {
    const name = this.role();
    if (name === undefined || this.roles.length < 4) return [];
    this.roles.splice(this.roles.indexOf(name), 1);
    const granted = await this.c.query<{ role: string; member: string }>(
      `SELECT r.rolname AS role, m.rolname AS member FROM pg_auth_members a JOIN pg_roles r ON r.oid = a.roleid JOIN pg_roles m ON m.oid = a.member
        WHERE a.grantor = (SELECT oid FROM pg_roles WHERE rolname = $1)`,
      [name],
    );
    return [
      ...granted.rows.map((g) => `REVOKE ${quoteIdent(g.role)} FROM ${quoteIdent(g.member)} GRANTED BY ${quoteIdent(name)} CASCADE`),
      `DROP OWNED BY ${quoteIdent(name)} CASCADE`,
      `DROP ROLE ${quoteIdent(name)}`,
    ];
  }

  private async alterRole(): Promise<string[]> {
    const name = this.role();
    if (name === undefined) return [];
    const clause = this.pick([
      'LOGIN',
      'NOLOGIN',
      'INHERIT',
      'NOINHERIT',
      'CREATEDB',
      'NOCREATEDB',
      'CREATEROLE',
      'NOCREATEROLE',
      'REPLICATION',
      'NOREPLICATION',
      `CONNECTION LIMIT ${Math.floor(this.rand() * 50) - 1}`,
      "VALID UNTIL 'infinity'",
      "VALID UNTIL '2033-03-03 03:03:03.5+00'",
    ]);
    return [`ALTER ROLE ${quoteIdent(name)} ${clause}`];
  }

  private async password(): Promise<string[]> {
    const name = this.role();
    if (name === undefined) return [];
    return [`ALTER ROLE ${quoteIdent(name)} PASSWORD ${this.chance(0.1) ? 'NULL' : quoteLiteral(`New-${Math.floor(this.rand() * 1e9)}`)}`];
  }

  private async membership(): Promise<string[]> {
    const [a, b] = [this.role(), this.role()];
    if (a === undefined || b === undefined || a === b) return [];
    const opt = (): string => (this.chance(0.5) ? 'TRUE' : 'FALSE');
    return [`GRANT ${quoteIdent(a)} TO ${quoteIdent(b)} WITH ADMIN ${opt()}, INHERIT ${opt()}, SET ${opt()}`];
  }

  private async revokeMembership(): Promise<string[]> {
    const [a, b] = [this.role(), this.role()];
    if (a === undefined || b === undefined) return [];
    return [`REVOKE ${quoteIdent(a)} FROM ${quoteIdent(b)} CASCADE`];
  }

  /** A member holding ADMIN grants the role on: PostgreSQL records that member as grantor. */
  private async membershipByGrantee(): Promise<string[]> {
    const admins = await this.c.query<{ role: string; member: string }>(
      `SELECT r.rolname AS role, m.rolname AS member FROM pg_auth_members a JOIN pg_roles r ON r.oid = a.roleid JOIN pg_roles m ON m.oid = a.member
        WHERE a.admin_option AND NOT m.rolsuper AND m.rolname = ANY($1::text[])`,
      [this.roles],
    );
    const target = this.role();
    if (admins.rowCount === 0 || target === undefined) return [];
    const a = this.pick(admins.rows);
    return [`SET ROLE ${quoteIdent(a.member)}`, `GRANT ${quoteIdent(a.role)} TO ${quoteIdent(target)}`, 'RESET ROLE'];
  }

  private async objectPrivilege(): Promise<string[]> {
    const who = this.grantee();
    if (who === undefined) return [];
    const t = this.pick(OBJECTS);
    const privs = this.some(t.privileges).join(', ');
    if (this.chance(0.35)) return [`REVOKE ${this.chance(0.3) ? 'GRANT OPTION FOR ' : ''}${privs} ON ${t.on} FROM ${who} CASCADE`];
    return [`GRANT ${privs} ON ${t.on} TO ${who}${who !== 'PUBLIC' && this.chance(0.3) ? ' WITH GRANT OPTION' : ''}`];
  }

  private async columnPrivilege(): Promise<string[]> {
    const who = this.grantee();
    if (who === undefined) return [];
    const [table, column] = this.pick(COLUMNS);
    const privs = this.some(['SELECT', 'INSERT', 'UPDATE', 'REFERENCES'])
      .map((p) => `${p} (${quoteIdent(column)})`)
      .join(', ');
    return [this.chance(0.35) ? `REVOKE ${privs} ON ${table} FROM ${who}` : `GRANT ${privs} ON ${table} TO ${who}`];
  }

  private async allInSchema(): Promise<string[]> {
    const who = this.grantee();
    if (who === undefined) return [];
    const schema = this.pick(['app', 'public', '"Odd Schema"']);
    return [this.chance(0.4) ? `REVOKE ALL ON ALL TABLES IN SCHEMA ${schema} FROM ${who}` : `GRANT SELECT ON ALL TABLES IN SCHEMA ${schema} TO ${who}`];
  }

  /** A grantee holding the grant option grants on: PostgreSQL records it as grantor. */
  private async privilegeByGrantee(): Promise<string[]> {
    const holders = await this.c.query<{ grantee: string; target: string; privilege: string }>(
      `SELECT g.rolname AS grantee, n.nspname || '.' || c.relname AS target, x.privilege_type AS privilege
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(c.relacl) x JOIN pg_roles g ON g.oid = x.grantee
        WHERE x.is_grantable AND x.grantee <> c.relowner AND n.nspname IN ('app', 'public') AND c.relkind = 'r'`,
    );
    const to = this.grantee();
    if (holders.rowCount === 0 || to === undefined) return [];
    const h = this.pick(holders.rows);
    const [schema, table] = h.target.split('.') as [string, string];
    return [`SET ROLE ${quoteIdent(h.grantee)}`, `GRANT ${h.privilege} ON ${quoteIdent(schema)}.${quoteIdent(table)} TO ${to}`, 'RESET ROLE'];
  }

  private async defaultPrivilege(): Promise<string[]> {
    const who = this.grantee();
    const forRole = this.chance(0.5) ? 'citus' : this.role();
    if (who === undefined || forRole === undefined) return [];
    const [kind, privileges] = this.pick(DEFAULT_KINDS);
    const inSchema = kind !== 'SCHEMAS' && this.chance(0.4) ? ` IN SCHEMA ${this.pick(['app', '"Odd Schema"'])}` : '';
    const privs = this.some(privileges).join(', ');
    const action = this.chance(0.4) ? `REVOKE ${privs} ON ${kind} FROM ${who}` : `GRANT ${privs} ON ${kind} TO ${who}`;
    return [`ALTER DEFAULT PRIVILEGES FOR ROLE ${quoteIdent(forRole)}${inSchema} ${action}`];
  }

  private async setting(): Promise<string[]> {
    const name = this.role();
    if (name === undefined) return [];
    const where = this.chance(0.3) ? ' IN DATABASE postgres' : '';
    const set = this.pick([
      "SET work_mem = '16MB'",
      "SET work_mem = '32MB'",
      'SET search_path = "$user", app, "Odd Schema"',
      "SET search_path = ''",
      "SET statement_timeout = '5s'",
      "SET DateStyle = 'SQL, DMY'",
      'RESET work_mem',
      'RESET search_path',
      'RESET ALL',
    ]);
    return [`ALTER ROLE ${quoteIdent(name)}${where} ${set}`];
  }
}

/** The seed: fixed in CI (RECONCILE_SEED unset), RECONCILE_SEED=random explores, RECONCILE_SEED=<n> replays. */
export function chooseSeed(t: TestContext, fixed: number): number {
  const given = process.env.RECONCILE_SEED ?? String(fixed);
  const seed = given === 'random' ? Math.floor(Math.random() * 2 ** 31) : Number(given);
  t.diagnostic(`seed ${seed} (RECONCILE_SEED=${seed} replays it)`);
  return seed;
}

/** `count` operations on the coordinator, worker-1 stopped from operation `stopAt` to
 * `startAt`; tells how many statements failed, and why. */
export async function runOperations(t: TestContext, cluster: EmbeddedCluster, seed: number, count: number, stopAt: number, startAt: number): Promise<void> {
  const w1 = cluster.workers[0]!;
  await cluster.withSuperuser(cluster.coordinator, async (c) => {
    const ops = new Operations(c, prng(seed));
    for (let i = 0; i < count; i++) {
      if (i === stopAt) await w1.stop();
      if (i === startAt) await w1.start();
      await ops.one();
    }
    t.diagnostic(`${ops.failed} of the generated statements failed on the coordinator`);
    for (const [why, n] of [...ops.failures].sort((a, b) => b[1] - a[1])) t.diagnostic(`  ${n} × ${why}`);
  });
}

/** One more pass; then every worker equals the coordinator and the pass had no error.
 * Returns the coordinator's catalogs, for the test to say what they held. */
export async function assertConverged(t: TestContext, reconciler: Reconciler, cluster: EmbeddedCluster, seed: number): Promise<CatalogSnapshot> {
  const report = await reconciler.runPass('test: the end');
  const end = await snapshot(cluster, cluster.coordinator);
  t.diagnostic(
    `the coordinator ends with ${Object.entries(end)
      .map(([k, v]) => `${v.length} ${k}`)
      .join(', ')}`,
  );
  const left = await differences(cluster);
  assert.deepEqual(
    left,
    [],
    `seed ${seed}: the workers differ from the coordinator; ` +
      `pass report: ${JSON.stringify(report.nodes.map((n) => ({ node: n.node, errors: n.errors, remaining: n.remaining })))}`,
  );
  for (const n of report.nodes) assert.deepEqual(n.errors, [], `seed ${seed}: ${n.node}`);
  return end;
}
