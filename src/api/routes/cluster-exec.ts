import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { derivedPassword } from '../../catalog/derived-password.js';
import { clusterExec, EXEC_NODES } from '../../control/cluster-exec.js';
import { PgwardenError } from '../../util/errors.js';
import type { ApiDeps } from '../context.js';

const ExecBody = z.strictObject({
  sql: z
    .string()
    .min(1)
    .max(64 * 1024)
    .describe('One statement (or a script), run as the caller on each chosen node'),
  nodes: z.enum(EXEC_NODES).default('all'),
});
const ExecAnswer = z.object({
  results: z.array(
    z.object({
      node: z.string(),
      ok: z.boolean(),
      command: z.string().optional(),
      rowCount: z.number().optional(),
      rows: z.array(z.record(z.string(), z.unknown())).optional(),
      error: z.string().optional(),
    }),
  ),
});

export const clusterExecRoutes =
  (deps: ApiDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.post(
      '/cluster/exec',
      {
        schema: {
          summary: "Run a statement on the chosen nodes as the caller (like Citus's run_command_on_workers)",
          tags: ['cluster'],
          body: ExecBody,
          response: { 200: ExecAnswer },
        },
      },
      async (req) => {
        const caller = req.caller;
        let as: { user: string; password: string };
        if (caller.kind === 'entra') as = { user: caller.name, password: derivedPassword(deps.gatewaySecret, caller.name, caller.principal.objectId) };
        else if (caller.password) as = { user: 'citus', password: caller.password };
        else throw new PgwardenError('FORBIDDEN', 'Running statements as citus needs its password in the request (HTTP Basic).');
        if (!deps.cluster) throw new PgwardenError('NOT_FOUND', 'cluster exec is not available here');
        const results = await clusterExec(deps.cluster, as, req.body.sql, req.body.nodes);
        deps.audit.record({
          kind: 'change',
          actor: caller.name,
          action: 'cluster.exec',
          target: req.body.nodes,
          result: results.every((r) => r.ok) ? 'ok' : 'failed',
          details: { nodes: results.map((r) => r.node) },
        });
        return { results };
      },
    );
  };
