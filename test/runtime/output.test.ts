// The output collector on its own: past a cap the middle is dropped and the first and last parts
// kept (a failing call's traceback comes last), cuts fall where characters start, and the marker
// between the parts counts exactly what was dropped.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CUT_MARKER, OutputCollector } from '../../src/runtime/output.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const bytes = (s: string): number => Buffer.byteLength(s);

/** The marker's two counts: bytes and line breaks dropped. */
function dropped(marker: string): { bytes: number; breaks: number } {
  const m = /^\[eunha\] output truncated: (\d+) bytes and (\d+) line breaks dropped/.exec(marker);
  assert.ok(m, marker);
  return { bytes: Number(m[1]), breaks: Number(m[2]) };
}

/** Splits a truncated capture at its marker: the kept start, the marker, the kept end. */
function parts(lines: string[]): { start: string[]; marker: string; end: string[] } {
  const at = lines.findIndex((l) => l.startsWith(CUT_MARKER));
  assert.ok(at >= 0, 'no marker line');
  return { start: lines.slice(0, at), marker: lines[at]!, end: lines.slice(at + 1) };
}

describe('OutputCollector', () => {
  test('past the line cap the end is kept too: a traceback printed last survives', () => {
    const out = new OutputCollector();
    const printed: string[] = [];
    for (let i = 0; i < 1200; i++) printed.push(`progress ${i}`);
    printed.push('Traceback (most recent call last):', 'RuntimeError: the real cause');
    out.write(enc(printed.join('\n') + '\n'));
    const { lines, truncated } = out.take();
    assert.equal(truncated, true);
    assert.equal(lines.length, 1001);
    const { start, marker, end } = parts(lines);
    assert.deepEqual(start, printed.slice(0, 500));
    assert.deepEqual(end, printed.slice(-500));
    assert.equal(end.at(-1), 'RuntimeError: the real cause');
    const gone = printed.slice(500, -500);
    assert.deepEqual(dropped(marker), { bytes: bytes(gone.join('\n') + '\n'), breaks: gone.length });
  });

  test('past the byte cap: the first and last 32 KiB, and the marker counts what is between', () => {
    const out = new OutputCollector();
    const printed: string[] = [];
    for (let i = 0; i < 5000; i++) printed.push(`line ${String(i).padStart(5, '0')} ${'x'.repeat(24)}`);
    // Written a line at a time, as print() does.
    for (const l of printed) out.write(enc(l + '\n'));
    const { lines } = out.take();
    const { start, marker, end } = parts(lines);
    assert.equal(start[0], printed[0]);
    assert.equal(end.at(-1), printed.at(-1));
    const shown = bytes(start.join('\n')) + bytes(end.join('\n'));
    assert.ok(shown <= 64 * 1024, `${shown} bytes shown`);
    const total = bytes(printed.join('\n') + '\n');
    const d = dropped(marker);
    // The line break after the kept start, and the one closing the output, are not shown either.
    assert.ok([0, 1, 2].includes(total - shown - d.bytes), `${total} − ${shown} − ${d.bytes}`);
    assert.ok(
      d.breaks >= 5000 - start.length - end.length - 1 && d.breaks <= 5000 - start.length - end.length + 1,
    );
    // The reviewer's count: 772 lines said, ~4,000 gone.
    assert.ok(d.breaks > 3000, `${d.breaks} line breaks`);
  });

  test('a single write larger than everything: its start and end are kept, nothing else copied', () => {
    const out = new OutputCollector(64, 1000);
    out.write(enc('S'.repeat(40) + 'm'.repeat(1_000_000) + 'E'.repeat(40)));
    const { start, marker, end } = parts(out.take().lines);
    assert.deepEqual(start, ['S'.repeat(32)]);
    assert.deepEqual(end, ['E'.repeat(32)]);
    assert.equal(dropped(marker).bytes, 1_000_080 - 64);
  });

  test('no cut splits a character: no U+FFFD at either edge', () => {
    for (const ch of ['é', '한', '😀']) {
      const out = new OutputCollector(64, 1000);
      out.write(enc('a' + ch.repeat(100) + '\n'));
      const { start, marker, end } = parts(out.take().lines);
      const text = [...start, ...end].join('\n');
      assert.ok(!text.includes('\uFFFD'), `${ch}: ${text}`);
      assert.equal(start[0], 'a' + ch.repeat(Math.floor(31 / bytes(ch))));
      assert.equal(end[0], ch.repeat(Math.floor(31 / bytes(ch))));
      // The output's closing line break is kept but not shown; the join shows one that is not kept.
      assert.equal(dropped(marker).bytes, bytes('a' + ch.repeat(100) + '\n') - bytes(text));
    }
  });

  test('under the caps everything is kept as it was printed', () => {
    const out = new OutputCollector(64, 4);
    out.write(enc('one\ntwo\n'));
    out.write(enc('three\nfour'));
    assert.deepEqual(out.take(), { lines: ['one', 'two', 'three', 'four'], truncated: false });
    assert.deepEqual(out.take(), { lines: [], truncated: false });
  });

  test('CRLF ends a line as LF does; a lone CR stays in its line', () => {
    const out = new OutputCollector();
    out.write(enc('a\r\nb\r\n'));
    out.write(enc('progress 1\rprogress 2\n'));
    assert.deepEqual(out.take().lines, ['a', 'b', 'progress 1\rprogress 2']);
  });

  test('randomized: the kept parts are the output’s start and end, and the counts add up', () => {
    const pieces = ['a', 'bc', '\n', 'é', '한', '😀', 'line\n', 'xxxxxxxxxxxxxxxxxx', '\n\n'];
    let seed = 7;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    for (let round = 0; round < 400; round++) {
      const out = new OutputCollector(16 + rand(64), 2 + rand(8));
      let full = '';
      for (let w = rand(40); w > 0; w--) {
        let s = '';
        for (let k = 1 + rand(6); k > 0; k--) s += pieces[rand(pieces.length)];
        full += s;
        out.write(enc(s));
      }
      const { lines, truncated } = out.take();
      const text = lines.join('\n');
      assert.ok(!text.includes('\uFFFD'), text);
      const all = full.endsWith('\n') ? full.slice(0, -1) : full;
      if (!truncated) {
        assert.deepEqual(lines, full === '' ? [] : all.split('\n'));
        continue;
      }
      const { start, marker, end } = parts(lines);
      const head = start.join('\n');
      const tail = end.join('\n');
      assert.ok(all.startsWith(head), `start ${JSON.stringify(head)} of ${JSON.stringify(full)}`);
      assert.ok(all.endsWith(tail), `end ${JSON.stringify(tail)} of ${JSON.stringify(full)}`);
      const d = dropped(marker);
      const gap = bytes(full) - bytes(head) - bytes(tail) - d.bytes;
      assert.ok(gap >= 0 && gap <= 2, `round ${round}: ${gap} bytes unaccounted in ${JSON.stringify(full)}`);
    }
  });
});
