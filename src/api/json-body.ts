// JSON body parsing, the API's only body type besides the build routes' multipart: Fastify's own
// secure parser (prototype-poisoning protection), except that an empty body is accepted as "no
// body" so the route schema, not the parser, says what is missing (clients often send
// Content-Type: application/json on a DELETE with nothing in it).
// Fastify neither decodes nor checks Content-Encoding, so a compressed body would reach the JSON
// parser as bytes (BAD_JSON) and a mislabelled plain one would be accepted: both are refused here.

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { EunhaError } from '../core/errors.js';
import { quote } from '../core/validate.js';
import { unsupportedContentType } from './errors.js';

/** A Content-Encoding other than identity, or undefined when the body is sent as is. */
function encodingOf(req: FastifyRequest): string | undefined {
  const raw = req.headers['content-encoding'];
  if (raw === undefined) return undefined;
  const codings = raw
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== '' && c !== 'identity');
  return codings.length === 0 ? undefined : raw.trim();
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route passes its JSON body on as sent (sentJson): the parser keeps the text. */
    keepsJsonText?: boolean;
  }
}

/** The JSON body's text as sent, for the routes that ask (api/routes/invoke.ts); no other keeps it. */
const sentText = new WeakMap<FastifyRequest, string>();

/**
 * The JSON body exactly as the caller wrote it, once parsed: what a Python function must get.
 * Written out again from JavaScript values it lost what Python keeps: 12345678901234567890
 * became 12345678901234567000 and 1.0 became the integer 1.
 */
export function sentJson(req: FastifyRequest): string | undefined {
  return sentText.get(req);
}

export function installJsonParser(app: FastifyInstance): void {
  // The API reads JSON (and multipart on the build routes): a text/plain body is a 415 like any
  // other type, not a string that fails validation as "body must be object" (or, on /invoke, is
  // taken for a JSON string). An empty body of any type is no body: clients label empty DELETEs
  // with a default type. The function ingress has parsers of its own.
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser('*', (req, _payload, done) => {
    if (req.headers['content-length'] === '0') {
      done(null, undefined);
      return;
    }
    done(unsupportedContentType(req), undefined);
  });
  // A body without Content-Type is JSON on a route that reads JSON, and so is any
  // `application/*+json`: FastAPI read both so, and clients rely on it (Python's
  // `requests.post(url, data=json.dumps(x))` sends no type). Not on the function ingress, whose
  // routes declare no body, nor on the multipart uploads, which say what they consume.
  // A callback, not an async hook: it runs on every call to a function too, and costs no promise.
  app.addHook('onRequest', (req, _reply, done) => {
    const schema = req.headers['content-type'] === undefined ? req.routeOptions.schema : undefined;
    if (schema?.body !== undefined && schema.consumes === undefined)
      req.raw.headers['content-type'] = 'application/json';
    done();
  });
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  const parseJson = (
    req: FastifyRequest,
    body: string | Buffer,
    done: (err: Error | null, value?: unknown) => void,
  ): void => {
    const encoding = encodingOf(req);
    if (encoding !== undefined) {
      done(
        new EunhaError(
          'UNSUPPORTED_MEDIA_TYPE',
          `content-encoding ${quote(encoding)} is not supported; send the JSON body uncompressed`,
          { field: 'content-encoding' },
        ),
        undefined,
      );
      return;
    }
    const text = typeof body === 'string' ? body : utf8(body);
    if (text === undefined) {
      // Decoded leniently, a broken byte became U+FFFD and was stored as if sent (a review).
      done(
        new EunhaError(
          'BAD_JSON',
          'the body is not valid UTF-8, the only encoding JSON allows (RFC 8259 §8.1)',
          {
            field: 'body',
            reason: 'encoding',
          },
        ),
        undefined,
      );
      return;
    }
    if (text.trim() === '') {
      done(null, undefined);
      return;
    }
    parse(req, text, (err, value) => {
      // The secure parser answers a prototype key with the same error as broken JSON; a caller
      // whose JSON is valid needs to know the key, not the syntax, is the problem.
      if (err && isPlainJson(text)) {
        done(
          new EunhaError(
            'BAD_JSON',
            'the body contains a "__proto__" or "constructor.prototype" key; such keys are refused ' +
              'because they could change object prototypes',
            { field: 'body', reason: 'prototype-key' },
          ),
          undefined,
        );
        return;
      }
      // Less a byte order mark, which the parser skipped: passed on, a function that decodes the
      // body and parses the text got Python's "Unexpected UTF-8 BOM" (RFC 8259 §8.1: never sent).
      if (!err && req.routeOptions.config.keepsJsonText === true)
        sentText.set(req, text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
      done(err, value);
    });
  };
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, parseJson);
  app.addContentTypeParser(JSON_SUFFIX, { parseAs: 'buffer' }, parseJson);
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The bytes as UTF-8 text, or undefined if they are not UTF-8. A BOM is kept: the parser skips it. */
function utf8(bytes: Buffer): string | undefined {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/** `application/problem+json`, `application/vnd.api+json` and the like (RFC 6839 §3.1). */
const JSON_SUFFIX = /^application\/[a-z0-9!#$&^_.-]+\+json(?:\s*;|$)/i;

/** Only called once the secure parser has refused the text, to tell a prototype key from bad JSON. */
function isPlainJson(text: string): boolean {
  try {
    // JSON.parse defines "__proto__" as an own property, so this cannot pollute anything.
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** preValidation of a route whose body may be left out: none (or `null`) is `{}` to its schema. */
export async function emptyBodyIfNone(req: FastifyRequest): Promise<void> {
  req.body ??= {};
}
