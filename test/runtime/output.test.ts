// The output collector on its own: the byte cap cuts where a character starts, and nothing written
// after a cut is kept (the cut may leave a few bytes of room).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { OutputCollector } from '../../src/runtime/output.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('OutputCollector', () => {
  test('the byte cap does not split a character: no U+FFFD at the cut', () => {
    // 'a' then two-byte characters: the 64-byte cap falls inside the 32nd 'é'.
    const out = new OutputCollector(64, 1000);
    out.write(enc('a' + 'é'.repeat(100) + '\n'));
    const { lines, truncated } = out.take();
    assert.equal(truncated, true);
    assert.equal(lines[0], 'a' + 'é'.repeat(31));
    assert.ok(!lines.join('\n').includes('\uFFFD'), lines[0]);
    // A three- and a four-byte character at the edge too.
    for (const ch of ['한', '😀']) {
      const o = new OutputCollector(10, 1000);
      o.write(enc(ch.repeat(20)));
      const first = o.take().lines[0]!;
      assert.ok(!first.includes('\uFFFD'), first);
      assert.equal(first, ch.repeat(Math.floor(10 / enc(ch).length)));
    }
  });

  test('CRLF ends a line as LF does; a lone CR stays in its line', () => {
    const out = new OutputCollector();
    out.write(enc('a\r\nb\r\n'));
    out.write(enc('progress 1\rprogress 2\n'));
    assert.deepEqual(out.take().lines, ['a', 'b', 'progress 1\rprogress 2']);
  });

  test('nothing written after the cut is kept, though the cut left room', () => {
    const out = new OutputCollector(64, 1000);
    out.write(enc('a' + 'é'.repeat(100)));
    out.write(enc('z'));
    const { lines } = out.take();
    assert.equal(lines[0], 'a' + 'é'.repeat(31));
    assert.ok(
      lines.slice(1).every((l) => !l.startsWith('z')),
      lines.join('|'),
    );
  });
});
