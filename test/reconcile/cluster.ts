// A bare embedded cluster (no gateway, no API) for the reconciler's tests that do not
// need clients: faster to start, stopped and removed in `after`.
import { rm } from 'node:fs/promises';
import { EmbeddedCluster, type EmbeddedClusterOptions } from '../../src/cluster/embedded.js';
import { silentLogger } from '../../src/util/log.js';
import { makeDataDir } from '../helpers/pgwarden.js';

export interface BareCluster {
  readonly cluster: EmbeddedCluster;
  destroy(): Promise<void>;
}

export async function startBareCluster(workers: number, options: Partial<EmbeddedClusterOptions> = {}): Promise<BareCluster> {
  const dataDir = await makeDataDir();
  const cluster = await EmbeddedCluster.open({ dataDir, log: silentLogger(), workers, citusPassword: 'Citus-Test-Passw0rd', ...options });
  try {
    await cluster.start();
  } catch (e) {
    await rm(dataDir, { recursive: true, force: true });
    throw e;
  }
  return {
    cluster,
    destroy: async () => {
      await cluster.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
