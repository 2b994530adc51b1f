// JSON body parsing: Fastify's own secure parser (prototype-poisoning protection), except that
// an empty body is accepted as "no body" so the route schema, not the parser, says what is
// missing (clients often send Content-Type: application/json on a DELETE with nothing in it).

import type { FastifyInstance } from 'fastify';

export function installJsonParser(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') {
      done(null, undefined);
      return;
    }
    parse(req, text, done);
  });
}
