import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { coordinatorOf } from '../../cluster/admin.js';
import type { ApiDeps } from '../context.js';
import { AuditList, AuditQuery } from '../schemas.js';

export const auditRoutes =
  (deps: ApiDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.get(
      '/audit',
      {
        schema: { summary: 'Sign-ins and changes, newest first', tags: ['audit'], querystring: AuditQuery, response: { 200: AuditList } },
      },
      async (req) => {
        await deps.audit.flush();
        const rows = await deps.admin.withAdmin(coordinatorOf(deps.admin), async (c) => {
          const r = await c.query<{
            id: string;
            at: Date;
            kind: string;
            actor: string | null;
            action: string;
            target: string | null;
            method: string | null;
            client_addr: string | null;
            result: string;
            reason: string | null;
          }>(
            `SELECT id, at, kind, actor, action, target, method, client_addr, result, reason
           FROM pgwarden.audit_log WHERE $1::text IS NULL OR kind = $1 ORDER BY id DESC LIMIT $2`,
            [req.query.kind ?? null, req.query.limit],
          );
          return r.rows;
        });
        return {
          items: rows.map((r) => ({
            id: Number(r.id),
            at: r.at.toISOString(),
            kind: r.kind,
            actor: r.actor,
            action: r.action,
            target: r.target,
            method: r.method,
            clientAddr: r.client_addr,
            result: r.result,
            reason: r.reason,
          })),
        };
      },
    );
  };
