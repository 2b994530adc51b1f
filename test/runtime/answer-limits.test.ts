// The caps on what an answer carries besides its body (answer-limits.ts), as the host and the
// parent apply them, and the frame header cap that bounds what the parent parses at all.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  MAX_ERROR_MESSAGE_CHARS,
  MAX_RESPONSE_HEADER_CHARS,
  MAX_RESPONSE_HEADERS,
  MAX_TRACEBACK_CHARS,
  clipMessage,
  clipTraceback,
  headersProblem,
} from '../../src/runtime/answer-limits.js';
import { FrameReader, MAX_HEADER_BYTES } from '../../src/runtime/protocol.js';

const fields = (n: number, value = ''): Record<string, string> =>
  Object.fromEntries(Array.from({ length: n }, (_, i) => [`h${i}`, value]));

describe('answer limits', () => {
  test('headers: a map of strings within 200 fields and 64 Ki characters', () => {
    assert.equal(headersProblem({}), undefined);
    assert.equal(headersProblem(fields(MAX_RESPONSE_HEADERS)), undefined);
    assert.match(headersProblem(fields(MAX_RESPONSE_HEADERS + 1))!, /more than 200 response headers/);
    assert.equal(headersProblem({ a: 'v'.repeat(MAX_RESPONSE_HEADER_CHARS - 1) }), undefined);
    assert.match(headersProblem({ a: 'v'.repeat(MAX_RESPONSE_HEADER_CHARS) })!, /more than 65536 characters/);
    for (const bad of [null, 'x', 3, ['a']]) assert.match(headersProblem(bad)!, /not a map/);
    assert.match(headersProblem({ n: 1 })!, /header 'n' is not a string/);
    // Inherited keys are not the answer's.
    assert.equal(headersProblem(Object.create({ inherited: 1 }) as object), undefined);
  });

  test('a message keeps its start, a traceback its end, each saying what went', () => {
    assert.equal(clipMessage('short'), 'short');
    const m = clipMessage('a'.repeat(MAX_ERROR_MESSAGE_CHARS) + 'b'.repeat(10));
    assert.equal(m, `${'a'.repeat(MAX_ERROR_MESSAGE_CHARS)}… [10 more characters]`);
    const t = clipTraceback('x'.repeat(5) + 'y'.repeat(MAX_TRACEBACK_CHARS));
    assert.equal(t, `[5 earlier characters dropped] …${'y'.repeat(MAX_TRACEBACK_CHARS)}`);
  });

  test('a host frame announcing a header past 4 MiB throws at its prefix, before any of it is parsed', () => {
    const prefix = Buffer.alloc(8);
    prefix.writeUInt32LE(MAX_HEADER_BYTES + 1, 0);
    assert.throws(
      () => new FrameReader(MAX_HEADER_BYTES).push(prefix),
      /frame header of \d+ bytes exceeds the cap/,
    );
    prefix.writeUInt32LE(MAX_HEADER_BYTES, 0);
    assert.deepEqual(new FrameReader(MAX_HEADER_BYTES).push(prefix), []);
    // The host's own readers take the parent's frames, whatever their size (a long key listing).
    prefix.writeUInt32LE(MAX_HEADER_BYTES + 1, 0);
    assert.deepEqual(new FrameReader().push(prefix), []);
  });
});
