// `Expect: 100-continue`: the client holds its body back until the server says it wants it (curl
// does so for bodies over 1 MiB). Node said so at once, for every request, so a body went up in
// full only to be answered 401, 404, 403 or 413. The server now says it once the request has
// passed what can be checked without the body: the guard and the route (app.ts), and for a
// function URL, the function's existence, key, status and method (ingress.ts); never for a
// Content-Length over the route's cap, whose 413 goes out at once.

import type { Server } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';

export function expectsContinue(req: FastifyRequest): boolean {
  return req.headers.expect?.toLowerCase() === '100-continue';
}

/** Node then stops answering 100 itself: the request goes on, and sendContinue answers it. */
export function holdContinue(server: Server): void {
  server.on('checkContinue', (req, res) => server.emit('request', req, res));
}

/** Asks the client for its body, unless it would be refused for its declared size. */
export function sendContinue(req: FastifyRequest, reply: FastifyReply, limit: number): void {
  if (!expectsContinue(req) || reply.raw.headersSent) return;
  const length = Number(req.headers['content-length']);
  if (Number.isFinite(length) && length > limit) return;
  reply.raw.writeContinue();
}
