// How CLI commands reach the control plane's API: its URL and CA from the data
// directory that `pgwarden up` wrote (or flags), and credentials: an Entra admin's token
// (--token, PGWARDEN_TOKEN) or citus's password (PGWARDEN_CITUS_PASSWORD, else the data
// directory's citus.password).
import type { Command } from 'commander';
import { join, resolve } from 'node:path';
import { ERROR_KINDS, PgwardenError, type ErrorCode } from '../util/errors.js';
import { readOptional } from '../util/files.js';
import { httpRequestJson } from '../util/http-client.js';
import { dataDirPaths } from '../util/data-dir-paths.js';
import { DEFAULTS } from '../util/defaults.js';

export interface ApiOptions {
  dataDir: string;
  apiUrl?: string;
  token?: string;
  output: 'table' | 'json';
}

/** Adds the options every API command shares. */
export function withApiOptions(cmd: Command): Command {
  return cmd
    .option('--data-dir <dir>', 'the data directory of a local pgwarden (for the API URL, CA and citus password)', DEFAULTS.dataDir)
    .addOption(cmd.createOption('--api-url <url>', 'the control plane, e.g. https://127.0.0.1:8080 (default: from the data directory)').env('PGWARDEN_API_URL'))
    .addOption(cmd.createOption('--token <token>', "a Microsoft Entra admin's access token (default: sign in as citus)").env('PGWARDEN_TOKEN'))
    .addOption(cmd.createOption('-o, --output <format>', 'table or json').choices(['table', 'json']).default('table'));
}

export class ApiSession {
  private constructor(
    private readonly baseUrl: string,
    private readonly ca: string | undefined,
    private readonly authorization: string,
  ) {}

  static async open(o: ApiOptions): Promise<ApiSession> {
    const dataDir = resolve(o.dataDir);
    let url = o.apiUrl;
    if (!url) {
      const saved = await readOptional(dataDirPaths(dataDir).api);
      url = saved ? (JSON.parse(saved) as { url: string }).url : `https://${DEFAULTS.apiHost}:${DEFAULTS.apiPort}`;
    }
    const ca = await readOptional(join(dataDir, 'tls', 'ca.crt'));
    let authorization: string;
    if (o.token) authorization = `Bearer ${o.token}`;
    else {
      const password = process.env.PGWARDEN_CITUS_PASSWORD || (await readOptional(dataDirPaths(dataDir).citusPassword))?.trim();
      if (!password) {
        throw new PgwardenError(
          'UNAUTHORIZED',
          "no credentials: give an Entra admin's token with --token, " +
            `or citus's password in PGWARDEN_CITUS_PASSWORD (none in ${dataDirPaths(dataDir).citusPassword})`,
        );
      }
      authorization = 'Basic ' + Buffer.from(`citus:${password}`).toString('base64');
    }
    return new ApiSession(url.replace(/\/+$/, ''), ca, authorization);
  }

  /** Calls the API; a problem answer becomes a PgwardenError with the problem's code. */
  async call<T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<T> {
    const res = await httpRequestJson(`${this.baseUrl}/api/v1${path}`, {
      method,
      ca: this.ca,
      headers: { authorization: this.authorization },
      ...(body !== undefined ? { json: body } : {}),
      timeoutMs: 60_000,
    }).catch((e: unknown) => {
      throw new PgwardenError('BACKEND_UNAVAILABLE', `cannot reach the pgwarden API at ${this.baseUrl}: ${(e as Error).message} (is pgwarden up running?)`);
    });
    const data = res.body.length ? (res.json() as T & { code?: string; detail?: string }) : ({} as T & { code?: string; detail?: string });
    if (res.status >= 400) {
      const code = (data.code && data.code in ERROR_KINDS ? data.code : 'INTERNAL') as ErrorCode;
      throw new PgwardenError(code, data.detail ?? `the API answered ${res.status}`);
    }
    return data;
  }
}

/** Prints rows as an aligned table, or everything as JSON. */
export function print(output: 'table' | 'json', value: unknown, rows?: Array<Record<string, unknown>>, columns?: string[]): void {
  if (output === 'json' || !rows || !columns) {
    process.stdout.write(JSON.stringify(value, null, 2) + '\n');
    return;
  }
  const cells = rows.map((r) => columns.map((c) => formatCell(r[c])));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i]!.length)));
  const line = (values: string[]): string =>
    values
      .map((v, i) => v.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  process.stdout.write([line(columns.map((c) => c.toUpperCase())), ...cells.map(line)].join('\n') + '\n');
}

function formatCell(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (Array.isArray(v)) return v.join(',');
  return String(v);
}

/** Per-node outcomes of a change, as one line each (failed workers are caught up later). */
export function printNodes(nodes: Array<{ node: string; ok: boolean; error?: string }> | undefined): void {
  for (const n of nodes ?? []) {
    process.stdout.write(`  ${n.node}: ${n.ok ? 'done' : `not applied (${n.error ?? 'error'})`}\n`);
  }
}

/** Reads a secret from standard input (one line), for --password-stdin. */
export async function readStdinSecret(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
  if (!text) throw new PgwardenError('INVALID_INPUT', 'no password on standard input');
  return text;
}

/** Asks for a password on the terminal without echo; needs a terminal. */
export async function promptSecret(question: string): Promise<string> {
  if (!process.stdin.isTTY) throw new PgwardenError('INVALID_INPUT', 'no terminal to ask for the password: use --password-stdin');
  process.stdout.write(question);
  const stdin = process.stdin;
  stdin.setRawMode(true);
  stdin.resume();
  return new Promise((resolvePw, reject) => {
    let value = '';
    const onData = (b: Buffer): void => {
      for (const ch of b.toString('utf8')) {
        if (ch === '\r' || ch === '\n') {
          done();
          resolvePw(value);
          return;
        }
        if (ch === '\u0003') {
          done();
          reject(new PgwardenError('INVALID_INPUT', 'cancelled'));
          return;
        }
        if (ch === '\u007f') value = value.slice(0, -1);
        else value += ch;
      }
    };
    const done = (): void => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stdout.write('\n');
    };
    stdin.on('data', onData);
  });
}
