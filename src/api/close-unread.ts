// A request refused before its body has arrived: Node would read the rest of it to keep the
// connection, however long it is (a never-ending upload was read for 121 s, 57 GB; one refused 401
// by the guard, 584 MB in 10 s). The answer goes, then the connection: closed for writing at once,
// and for good a second later. Not with `Connection: close`: Node then destroys the socket with the
// client's data unread, which sends a reset that can reach the client before it has read the
// answer. The function ingress too (a PUT over the body cap lost its 413 to a reset, 3 times in
// 270 in a review). A GET or HEAD body past the cap, which the ingress reads itself, is read on for
// a second so that a body that ends soon keeps its keep-alive connection; one that goes on longer
// (an upload that never ended was read for as long as it lasted) is closed as the others are.

import type { FastifyReply, FastifyRequest } from 'fastify';
import { Socket } from 'node:net';

/** How long a refused request's connection stays open for reading after its answer. */
const LINGER_MS = 1000;

export function closeWhenAnswered(req: FastifyRequest, reply: FastifyReply): void {
  if (req.raw.complete) return;
  const drained =
    req.routeOptions.config?.auth?.access === 'function-url' &&
    (req.method === 'GET' || req.method === 'HEAD');
  // Fastify sets it on a body its parser refused (a 415): the reset it causes reached the client
  // before the answer did.
  if (reply.getHeader('connection') === 'close') reply.removeHeader('connection');
  reply.raw.once('finish', () => {
    const socket = req.raw.socket;
    // Only a connection (Fastify's inject() has none to close).
    if (!(socket instanceof Socket)) return;
    if (!drained) return close(socket);
    if (req.raw.complete) return;
    const timer = setTimeout(() => close(socket), LINGER_MS).unref();
    req.raw.once('end', () => clearTimeout(timer));
  });
}

function close(socket: Socket): void {
  socket.end();
  setTimeout(() => socket.destroy(), LINGER_MS).unref();
}
