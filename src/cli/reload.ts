// Reload without restart. The running `pgwarden up` reads its configuration file again on
// SIGHUP and applies what can change while it runs (the keys marked `reload` in
// config-keys.ts; the certificate files are read again even when their names stay); a bad
// file changes nothing. Each outcome goes to the log, to stderr and to
// <data-dir>/reload.json, where `pgwarden reload` (which sends the SIGHUP) reads it.
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { RunningPgwarden } from '../pgwarden.js';
import type { ReloadSettings } from '../reload.js';
import { DEFAULT_AUDIENCES } from '../identity/config.js';
import { PgwardenError } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { processAlive } from '../util/process.js';
import { writeSecretFile } from '../util/files.js';
import { DEFAULTS } from '../util/defaults.js';
import { dataDirPaths } from '../util/data-dir-paths.js';
import { CONFIG_KEYS, attributeOf } from './config-keys.js';
import { checkUpOptions, type UpOptions, type UpSettings } from './up-settings.js';

/** What <data-dir>/reload.json holds: the last reload of the pgwarden with this pid. */
interface ReloadStatus {
  pid: number;
  /** Reloads done by this pgwarden. */
  count: number;
  at: string;
  ok: boolean;
  message: string;
}

/** Reloads on SIGHUP from now on; one that comes before `started` waits for it. */
export function reloadOnSignal(first: UpSettings, dataDir: string, log: Logger): { started(running: RunningPgwarden): void } {
  let current = first;
  let running: RunningPgwarden | undefined;
  let asked = false;
  let count = 0;
  let queue = Promise.resolve();
  const once = async (target: RunningPgwarden): Promise<void> => {
    let status: Omit<ReloadStatus, 'pid' | 'count' | 'at'>;
    try {
      const next = await current.reread();
      checkUpOptions(next.options);
      const outcome = await target.reload(reloadSettings(next.options));
      const changed = changedKeys(current.options, next.options);
      const later = changed.filter((k) => !CONFIG_KEYS[k]!.reload);
      const now = changed.filter((k) => CONFIG_KEYS[k]!.reload);
      current = next;
      const parts = [
        outcome.certificateChanged ? 'a new certificate is served to new connections' : 'the certificate is unchanged',
        now.length ? `changed: ${now.join(', ')}` : 'no other change',
        ...(later.length ? [`only at the next start: ${later.join(', ')}`] : []),
      ];
      status = { ok: true, message: `reloaded ${current.file ?? 'the certificate files'}: ${parts.join('; ')}` };
      log.info({ event: 'reload', changed: now, later, certificateChanged: outcome.certificateChanged }, status.message);
    } catch (e) {
      status = { ok: false, message: `reload refused, the running settings stay: ${(e as Error).message}` };
      log.warn({ event: 'reload-refused', error: (e as Error).message }, status.message);
    }
    process.stderr.write(`pgwarden: ${status.message}\n`);
    count += 1;
    const record: ReloadStatus = { pid: process.pid, count, at: new Date().toISOString(), ...status };
    // Whole or not at all (a new file renamed over the old): `pgwarden reload` reads it meanwhile.
    await writeSecretFile(dataDirPaths(dataDir).reload, JSON.stringify(record, null, 2) + '\n').catch((e: unknown) =>
      log.warn({ error: (e as Error).message }, 'cannot write reload.json'),
    );
  };
  const ask = (): void => {
    if (!running) {
      asked = true;
      return;
    }
    const target = running;
    queue = queue.then(() => once(target));
  };
  process.on('SIGHUP', ask);
  return {
    started(r) {
      running = r;
      if (asked) ask();
    },
  };
}

/** What a reload applies, from the settings read again. */
function reloadSettings(o: UpOptions): ReloadSettings {
  return {
    ...(o.tlsCert && o.tlsKey ? { tls: { cert: o.tlsCert, key: o.tlsKey } } : {}),
    logLevel: o.logLevel,
    authTimeoutMs: o.authTimeout * 1000,
    maxPendingAuth: o.maxPendingAuth,
    maxConnections: o.maxConnections,
    throttle: { roleFreeFailures: o.throttleRoleFailures, addressFreeFailures: o.throttleAddressFailures },
    // The embedded provider's tokens are accepted as at start; a real tenant's as configured.
    ...(o.entraTenant ? { entra: { audiences: o.entraAudience ?? DEFAULT_AUDIENCES, clockSkewSeconds: o.clockSkew, authority: o.entraAuthority } } : {}),
  };
}

function changedKeys(before: UpOptions, after: UpOptions): string[] {
  const b = before as unknown as Record<string, unknown>;
  const a = after as unknown as Record<string, unknown>;
  return Object.keys(CONFIG_KEYS).filter((k) => JSON.stringify(b[attributeOf(k)]) !== JSON.stringify(a[attributeOf(k)]));
}

export function registerReloadCommand(program: Command): void {
  program
    .command('reload')
    .description('make the running pgwarden read its configuration file and certificate files again (as SIGHUP does), and say how it went')
    .option('--data-dir <dir>', 'the data directory of the running pgwarden', DEFAULTS.dataDir)
    .action(async (opts: { dataDir: string }) => {
      const paths = dataDirPaths(opts.dataDir);
      const pid = Number((await readFile(paths.pid, 'utf8').catch(() => '')).trim());
      if (!processAlive(pid, /node|pgwarden/)) throw new PgwardenError('BACKEND_UNAVAILABLE', `no pgwarden runs on ${opts.dataDir}`);
      const read = async (): Promise<ReloadStatus | undefined> => {
        try {
          return JSON.parse(await readFile(paths.reload, 'utf8')) as ReloadStatus;
        } catch {
          return undefined;
        }
      };
      const before = await read();
      const done = (s: ReloadStatus | undefined): s is ReloadStatus => s !== undefined && s.pid === pid && s.count > (before?.pid === pid ? before.count : 0);
      process.kill(pid, 'SIGHUP');
      const deadline = Date.now() + 60_000;
      let status = await read();
      while (!done(status)) {
        if (Date.now() > deadline) throw new PgwardenError('BACKEND_UNAVAILABLE', `pgwarden (pid ${pid}) did not report the reload within 60 s; see its log`);
        await new Promise((r) => setTimeout(r, 100));
        status = await read();
      }
      if (!status.ok) throw new PgwardenError('CONFIG_INVALID', status.message);
      process.stdout.write(`pgwarden: ${status.message}\n`);
    });
}
