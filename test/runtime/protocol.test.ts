// The parent's frame reader: whatever way the socket cuts the byte stream, the same frames come
// out, in order, with their bodies intact; a frame over the cap is refused before it is buffered.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { FrameReader, MAX_FRAME_BYTES, encodeFrame, type Frame } from '../../src/runtime/protocol.js';

function frames(): { header: { t: string; i: number }; body: Uint8Array }[] {
  const big = new Uint8Array(200_000).map((_, i) => (i * 7) % 251);
  return [
    { header: { t: 'a', i: 0 }, body: new Uint8Array(0) },
    { header: { t: 'b', i: 1 }, body: big },
    { header: { t: 'c', i: 2 }, body: new Uint8Array([0, 255, 1]) },
    { header: { t: 'd', i: 3 }, body: big.subarray(5, 70_000) },
  ];
}

function readAll(stream: Buffer, cuts: number[]): Frame[] {
  const reader = new FrameReader();
  const out: Frame[] = [];
  let at = 0;
  for (const cut of [...cuts, stream.length]) {
    out.push(...reader.push(stream.subarray(at, cut)));
    at = cut;
  }
  return out;
}

describe('FrameReader', () => {
  const sent = frames();
  const stream = Buffer.concat(sent.map((f) => encodeFrame(f.header, f.body)));

  const check = (got: Frame[]): void => {
    assert.equal(got.length, sent.length);
    for (const [i, f] of got.entries()) {
      assert.deepEqual(f.header, sent[i]!.header);
      assert.deepEqual(Buffer.from(f.body), Buffer.from(sent[i]!.body));
    }
  };

  test('one chunk, 64 KiB chunks, and cuts inside every prefix give the same frames', () => {
    check(readAll(stream, []));
    const every64k: number[] = [];
    for (let c = 65_536; c < stream.length; c += 65_536) every64k.push(c);
    check(readAll(stream, every64k));
    // Cut one byte at a time through the first frames' 8-byte prefixes and headers.
    check(
      readAll(
        stream,
        Array.from({ length: 40 }, (_, i) => i + 1),
      ),
    );
  });

  test('random cuts, many times over', () => {
    for (let round = 0; round < 50; round++) {
      const cuts = Array.from({ length: 1 + (round % 20) }, () => Math.floor(Math.random() * stream.length));
      check(
        readAll(
          stream,
          [...new Set(cuts)].sort((a, b) => a - b),
        ),
      );
    }
  });

  test('a frame announcing more than the cap throws at its prefix', () => {
    const prefix = Buffer.alloc(8);
    prefix.writeUInt32LE(16, 0);
    prefix.writeUInt32LE(MAX_FRAME_BYTES, 4);
    assert.throws(() => new FrameReader().push(prefix), /exceeds the cap/);
  });
});
