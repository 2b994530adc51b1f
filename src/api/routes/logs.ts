// Execution logs: per function (the seed's endpoint) and across a workspace.

import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { LogsQuery, LogsResponse, TailHeaders, WorkspaceLogsQuery } from '../../core/log-schemas.js';
import { ErrorBody, FunctionParams, WorkspaceParams } from '../../core/schemas.js';
import type { Scopes } from '../../auth/policy.js';
import { EunhaError, invalid } from '../../core/errors.js';
import type { LogFilter } from '../../core/types.js';
import type { ExecutionLogService } from '../../observability/execution-logs.js';
import { SSE_HEADERS, type LiveTails } from '../../observability/live-tail.js';
import { decodeCursor } from '../../core/page-cursor.js';

const errors = { 400: ErrorBody, 404: ErrorBody };

export async function logRoutes(
  base: FastifyInstance,
  logs: ExecutionLogService,
  tails: LiveTails,
  scope: Scopes,
): Promise<void> {
  const app = base.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['Logs'];

  app.get(
    '/api/workspaces/:workspace_id/functions/:function_id/logs',
    {
      config: { auth: scope.workspaceParam },
      schema: {
        tags,
        summary: 'Execution logs of a function, newest first',
        description:
          "A page: `since`/`until` bound the invocations' time, `status=error` keeps only failures (`success` the others), and `before` (the previous page's `next`) goes on where that page ended; `next` is null on the last page; `total` counts all the function's stored logs, whatever the selection. With `follow=true` the answer is a live tail (text/event-stream): the newest `limit` entries oldest first, then each new one as an `event: log` once it is stored, until the client leaves. Each event's `id` is an opaque token for the entry's place in the order logs are stored, valid for this function only (it reveals nothing about other functions' logs): a client that reconnects with `Last-Event-ID` (EventSource does so by itself) gets exactly the entries stored after it, at most `limit` of them, also after a server restart; when more were missed an `event: gap` comes first. A `Last-Event-ID` that is not such a token of this function's tail (another function's, altered, or a number as tails sent before) starts the tail afresh. When the function or its workspace is deleted the tail sends an `event: deleted` and ends (noticed at the next keep-alive, within 15 s). HEAD answers the headers only.",
        params: FunctionParams,
        querystring: LogsQuery,
        headers: TailHeaders,
        response: {
          200: {
            description: 'A page of logs; with `follow=true`, a live tail',
            content: {
              'application/json': { schema: LogsResponse },
              'text/event-stream': {
                schema: {
                  type: 'string',
                  description:
                    '`event: log` frames whose `id` is an opaque resume token and whose `data` is one ExecutionLog as JSON; `event: gap` before a resumed backlog that could not hold every missed entry; `event: deleted` at the end',
                },
              },
            },
          },
          ...errors,
        },
      },
    },
    async (req, reply) => {
      const { workspace_id: ws, function_id: fn } = req.params;
      const limit = req.query.limit ?? 100;
      if (!req.query.follow) return logs.forFunction(ws, fn, limit, selection(req.query));
      const chosen = SELECTION.find((name) => req.query[name] !== undefined);
      if (chosen !== undefined)
        throw invalid(
          chosen,
          `${chosen} selects a page of logs; a live tail (follow=true) sends every new one`,
        );
      // HEAD runs this handler too (Fastify's automatic HEAD route); a stream would never end. The
      // typed reply wants a JSON page, which a HEAD would not carry anyway.
      if (req.method === 'HEAD') {
        await logs.requireFunction(ws, fn);
        return (reply as FastifyReply).headers(SSE_HEADERS).send();
      }
      // Listening starts before the page is read, so no log falls between the two.
      const listening = tails.listen(ws, fn);
      let backlog;
      try {
        const after = listening.ids.seqOf(req.headers['last-event-id']);
        backlog = await logs.tail(ws, fn, after, limit);
      } catch (err) {
        listening.close();
        throw err;
      }
      reply.hijack();
      await tails.stream(reply.raw, listening, backlog.page, backlog.resumed, {
        // Every header the hooks set (request id, CORS, may-not-be-framed): a hijacked reply
        // sends only what it is given.
        headers: reply.getHeaders(),
        exists: async () => {
          try {
            await logs.requireFunction(ws, fn);
            return true;
          } catch (err) {
            if (err instanceof EunhaError && err.code === 'NOT_FOUND') return false;
            throw err;
          }
        },
        ...(req.stillAuthorized ? { allowed: req.stillAuthorized } : {}),
      });
      return reply;
    },
  );
  app.get(
    '/api/workspaces/:workspace_id/logs',
    {
      config: { auth: scope.workspaceParam },
      schema: {
        tags,
        summary: 'Recent execution logs across a workspace, newest first',
        description:
          "`{logs, total, next}`: `{logs, total}` as the seed answered (its console reads `.logs`); `total` is the number of entries returned. `since`, `until`, `status` and `before` select as for one function's logs.",
        params: WorkspaceParams,
        querystring: WorkspaceLogsQuery,
        response: { 200: LogsResponse, ...errors },
      },
    },
    async (req) => {
      if (req.query.follow === true) {
        throw invalid(
          'follow',
          "a live tail follows one function's logs: GET /api/workspaces/{workspace_id}/functions/{function_id}/logs?follow=true",
        );
      }
      const page = await logs.forWorkspace(
        req.params.workspace_id,
        req.query.limit ?? 50,
        selection(req.query),
      );
      return { ...page, total: page.logs.length };
    },
  );
}

const SELECTION = ['since', 'until', 'status', 'before'] as const;

/** The query's selection as the store reads it; `since` after `until` selects nothing, so says so. */
function selection(q: { since?: string; until?: string; status?: string; before?: string }): LogFilter {
  if (q.since !== undefined && q.until !== undefined && Date.parse(q.since) >= Date.parse(q.until))
    throw invalid('since', 'since must be before until');
  return {
    since: q.since,
    until: q.until,
    status: q.status as LogFilter['status'],
    before: q.before === undefined ? undefined : decodeCursor(q.before),
  };
}
