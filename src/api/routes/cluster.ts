import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { getAuthMethod } from '../../control/auth-methods.js';
import { describeError } from '../../util/errors.js';
import type { ApiDeps } from '../context.js';
import { Cluster } from '../schemas.js';

/** A node answers within this time, or it is reported down. */
const PROBE_TIMEOUT_MS = 2_000;

export const clusterRoutes =
  (deps: ApiDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.get(
      '/cluster',
      {
        schema: { summary: 'The nodes of the cluster and their state', tags: ['cluster'], response: { 200: Cluster } },
      },
      async () => {
        const sync = new Map((deps.reconciler?.status() ?? []).map((st) => [st.node, st]));
        const syncOf = (name: string) => {
          const st = sync.get(name);
          return st ? { sync: { ...st, drift: [...st.drift], errors: [...st.errors] } } : {};
        };
        const nodes = await Promise.all(
          deps.admin.adminNodes.map(async (n) => {
            // The reconciler probes every worker every second already: its answer is the
            // worker's state. Only what it does not watch (the coordinator) is probed here.
            const watched = sync.get(n.name);
            if (watched) {
              const down = watched.state === 'unreachable';
              return {
                name: n.name,
                kind: n.kind,
                state: down ? ('down' as const) : ('up' as const),
                ...(down ? { error: 'not reachable' } : {}),
                ...syncOf(n.name),
              };
            }
            try {
              await Promise.race([
                deps.admin.withAdmin(n, (c) => c.query('SELECT 1')),
                new Promise((_, reject) => setTimeout(() => reject(new Error('no answer')), PROBE_TIMEOUT_MS).unref()),
              ]);
              return { name: n.name, kind: n.kind, state: 'up' as const, ...syncOf(n.name) };
            } catch (e) {
              // The raw error names socket paths and hosts: it goes to the log, not the answer.
              deps.log.warn({ event: 'node-down', node: n.name, error: describeError(e) }, 'node did not answer');
              return { name: n.name, kind: n.kind, state: 'down' as const, error: 'not reachable', ...syncOf(n.name) };
            }
          }),
        );
        return { authentication: await getAuthMethod(deps.admin), ...(deps.reconciler ? { mode: deps.reconciler.mode } : {}), nodes };
      },
    );
  };
