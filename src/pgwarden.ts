// The composition root: the embedded cluster, the TLS material and the gateway, started
// in order and stopped in reverse. The CLI's `up` and the tests both start pgwarden here.
import type pg from 'pg';
import type { AddressInfo } from 'node:net';
import { RoleCatalog } from './catalog/role-catalog.js';
import { EmbeddedCluster } from './cluster/embedded.js';
import { Gateway } from './gateway/server.js';
import { ensureLocalTls, loadOperatorTls, type TlsMaterial } from './tls/certificates.js';
import { PgwardenError } from './util/errors.js';
import type { Logger } from './util/log.js';

export interface PgwardenOptions {
  dataDir: string;
  workers?: number;
  host: string;
  port: number;
  citusPassword?: string;
  tlsCert?: string;
  tlsKey?: string;
  allowPlainLoopback?: boolean;
  authTimeoutMs?: number;
  log: Logger;
}

export interface RunningPgwarden {
  readonly cluster: EmbeddedCluster;
  readonly gateway: Gateway;
  readonly tls: TlsMaterial;
  readonly address: AddressInfo;
  /** The citus password, when this start generated it (to be printed once). */
  readonly generatedCitusPassword: string | undefined;
  stop(): Promise<void>;
}

export async function startPgwarden(options: PgwardenOptions): Promise<RunningPgwarden> {
  const { log } = options;
  if ((options.tlsCert === undefined) !== (options.tlsKey === undefined)) {
    throw new PgwardenError('CONFIG_INVALID', '--tls-cert and --tls-key go together');
  }
  const cluster = await EmbeddedCluster.open({
    dataDir: options.dataDir,
    log,
    ...(options.workers !== undefined ? { workers: options.workers } : {}),
    ...(options.citusPassword !== undefined ? { citusPassword: options.citusPassword } : {}),
  });
  const tls =
    options.tlsCert && options.tlsKey
      ? await loadOperatorTls(options.tlsCert, options.tlsKey)
      : await ensureLocalTls(cluster.dataDir, [options.host]);
  const started = await cluster.start();
  let pool: pg.Pool | undefined;
  try {
    pool = cluster.gatewayPool();
    const gateway = new Gateway({
      host: options.host,
      port: options.port,
      tls,
      backend: cluster.coordinator.target,
      roles: new RoleCatalog(pool),
      mockKey: Buffer.from(cluster.secrets.mockKey, 'hex'),
      log,
      allowPlainLoopback: options.allowPlainLoopback ?? false,
      ...(options.authTimeoutMs !== undefined ? { authTimeoutMs: options.authTimeoutMs } : {}),
    });
    const address = await gateway.listen();
    log.info({ event: 'started', gateway: `${address.address}:${address.port}`, nodes: cluster.nodes.length }, 'pgwarden is running');
    let stopping: Promise<void> | undefined;
    const runningPool = pool;
    return {
      cluster,
      gateway,
      tls,
      address,
      generatedCitusPassword: started.generatedCitusPassword,
      stop: () =>
        (stopping ??= (async () => {
          await gateway.close();
          await runningPool.end().catch(() => undefined);
          await cluster.stop();
          log.info({ event: 'stopped' }, 'pgwarden stopped');
        })()),
    };
  } catch (e) {
    await pool?.end().catch(() => undefined);
    await cluster.stop();
    throw e;
  }
}

