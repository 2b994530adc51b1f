// How bodies appear in execution logs: JSON, text, binary marker, truncation at the cap.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { bodyForLog } from '../../src/gateway/bodies.js';

const enc = (s: string) => new TextEncoder().encode(s);

describe('bodyForLog', () => {
  test('empty is null; JSON is parsed when the content type says so; text stays text', () => {
    assert.equal(bodyForLog(new Uint8Array(0), 'application/json', 100), null);
    assert.deepEqual(bodyForLog(enc('{"a":1}'), 'application/json; charset=utf-8', 100), { a: 1 });
    assert.equal(bodyForLog(enc('{"a":1}'), 'text/plain', 100), '{"a":1}');
    assert.equal(bodyForLog(enc('{not json'), 'application/json', 100), '{not json');
  });

  test('JSON nested too deep to serialise again stays text (it would fail every write of its batch)', () => {
    const deep = '['.repeat(4000) + ']'.repeat(4000);
    assert.equal(bodyForLog(enc(deep), 'application/json', 8192), deep);
    const ok = '['.repeat(100) + ']'.repeat(100);
    assert.deepEqual(bodyForLog(enc(ok), 'application/json', 8192), JSON.parse(ok));
  });

  test('a cut through a multi-byte character at the cap is still text', () => {
    const body = enc('ab한글'); // 2 + 3 + 3 bytes; a cap of 4 cuts inside '한'
    assert.equal(bodyForLog(body, 'text/plain', 4), 'ab… [truncated: 8 bytes in all]');
  });

  test('binary is a marker, below and above the cap', () => {
    const bin = new Uint8Array([0xff, 0xfe, 0x00, 0x80, 0xc3, 0x28, 0xa0, 0xa1]);
    assert.equal(bodyForLog(bin, 'application/octet-stream', 100), '<8 bytes of binary data>');
    assert.equal(bodyForLog(bin, 'application/octet-stream', 4), '<8 bytes of binary data>');
    // Every byte value: the first 100 are valid UTF-8, but NUL is not text.
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    assert.equal(bodyForLog(all, 'application/octet-stream', 100), '<256 bytes of binary data>');
  });
});
