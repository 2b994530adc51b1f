// The BlobStore contract: every adapter (filesystem now, S3 later) runs this same suite.
// `make` returns a fresh, empty store; the suite closes what it opens. Adapter-specific checks
// (what lands on disk, symlinks) live in the adapter's own test file.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { BlobStore } from '../../src/store/ports.js';
import { eunhaError } from './fixtures.js';

export type MakeBlobStore = () => Promise<BlobStore>;

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const filled = (n: number, byte: number): Uint8Array => new Uint8Array(n).fill(byte);

/** Keys every adapter must refuse with VALIDATION_ERROR, field 'key'. */
export const HOSTILE_KEYS: ReadonlyArray<readonly [string, string]> = [
  ['empty', ''],
  ['parent escape', '../etc/passwd'],
  ['nested parent escape', 'a/../../b'],
  ['parent segment', 'a/..'],
  ['dot segment', 'a/./b'],
  ['lone dot', '.'],
  ['absolute', '/etc/passwd'],
  ['absolute tmp', '/tmp/eunha-escape'],
  ['NUL', 'a\0b'],
  ['NUL suffix', 'code.py\0.png'],
  ['backslash', 'a\\b'],
  ['windows escape', '..\\..\\windows'],
  ['drive letter', 'C:/x'],
  ['empty segment', 'a//b'],
  ['trailing slash', 'a/'],
  ['space', 'a b'],
  ['newline', 'a\nb'],
  ['percent', 'a%2F..'],
  ['tilde', 'a~b'],
  ['non-ASCII', 'caf\u00e9'],
  ['too long', `${'a/'.repeat(600)}a`],
  ['segment too long', 'x'.repeat(201)],
];

const LISTABLE_PREFIXES = new Set(['', 'a/']);

/** What a backing server cannot promise though the real service does (its test is skipped, saying why). */
export interface ContractGaps {
  /** Why an overwrite may be torn, for readers or racing writers (s3rver rewrites the file in place). */
  tornOverwrites?: string;
}

export function runBlobStoreContract(name: string, make: MakeBlobStore, gaps: ContractGaps = {}): void {
  const withStore = async (body: (store: BlobStore) => Promise<void>): Promise<void> => {
    const store = await make();
    try {
      await body(store);
    } finally {
      await store.close();
    }
  };

  describe(`BlobStore contract: ${name}`, () => {
    test('put and get round-trip bytes exactly; a missing key is undefined', () =>
      withStore(async (store) => {
        const all = Uint8Array.from({ length: 256 }, (_, i) => i);
        await store.put('functions/ws-1/fn-1/code.py', text('print("hi")\n'));
        await store.put('bin/all', all);
        await store.put('bin/bad-utf8', Uint8Array.of(0xff, 0xfe, 0x00, 0xc3, 0x28));
        await store.put('bin/empty', new Uint8Array(0));
        await store.put('bin/view', new Uint8Array(Uint8Array.of(7, 1, 2, 7).buffer, 1, 2));
        assert.deepEqual(await store.get('functions/ws-1/fn-1/code.py'), text('print("hi")\n'));
        const got = await store.get('bin/all');
        assert.ok(got instanceof Uint8Array);
        assert.deepEqual(got, all);
        assert.deepEqual(await store.get('bin/bad-utf8'), Uint8Array.of(0xff, 0xfe, 0x00, 0xc3, 0x28));
        assert.deepEqual(await store.get('bin/empty'), new Uint8Array(0));
        assert.deepEqual(await store.get('bin/view'), Uint8Array.of(1, 2));
        assert.equal(await store.get('bin/missing'), undefined);
        assert.equal(await store.get('nowhere/at/all'), undefined);
        assert.equal(await store.get('bin'), undefined, 'a prefix is not a blob');
      }));

    test('every allowed character works in a key', () =>
      withStore(async (store) => {
        const key = 'A-Z_a.z/0-9@x=y+z/.hidden/...';
        await store.put(key, text('ok'));
        assert.deepEqual(await store.get(key), text('ok'));
        assert.deepEqual(await store.list(''), [key]);
        const long = Array.from({ length: 5 }, (_, i) => String(i).repeat(200)).join('/');
        await store.put(long, text('long'));
        assert.deepEqual(await store.get(long), text('long'));
      }));

    test('put overwrites', () =>
      withStore(async (store) => {
        await store.put('k', filled(1000, 1));
        await store.put('k', text('short'));
        assert.deepEqual(await store.get('k'), text('short'));
        assert.deepEqual(await store.list(''), ['k']);
      }));

    test('delete removes one blob; deleting a missing key is a no-op', () =>
      withStore(async (store) => {
        await store.put('a/1', text('1'));
        await store.put('a/2', text('2'));
        await store.delete('a/1');
        await store.delete('a/1');
        await store.delete('never/was');
        await store.delete('a'); // a prefix, not a blob: nothing happens
        assert.equal(await store.get('a/1'), undefined);
        assert.deepEqual(await store.list(''), ['a/2']);
      }));

    test('list is sorted, uses / separators, and matches whole segments', () =>
      withStore(async (store) => {
        const keys = ['b/2', 'a/x/y/z', 'a/b', 'ab/c', 'a/B', 'c', 'a/b.c'];
        for (const k of keys) await store.put(k, text(k));
        assert.deepEqual(await store.list(''), [...keys].sort());
        assert.deepEqual(await store.list('a'), ['a/B', 'a/b', 'a/b.c', 'a/x/y/z']);
        assert.deepEqual(await store.list('a/'), ['a/B', 'a/b', 'a/b.c', 'a/x/y/z']);
        assert.deepEqual(await store.list('a/x'), ['a/x/y/z']);
        assert.deepEqual(await store.list('c'), ['c'], 'a key is its own prefix');
        assert.deepEqual(await store.list('a/b'), ['a/b'], 'a/b.c is not under a/b');
        assert.deepEqual(await store.list('missing'), []);
      }));

    test('usage counts the blobs list names and their bytes: whole segments, a key alone, none', () =>
      withStore(async (store) => {
        await store.put('a/b', filled(10, 1));
        await store.put('a/x/y', filled(300, 2));
        await store.put('a/b.c', filled(7, 3));
        await store.put('ab/c', filled(1000, 4));
        await store.put('a/empty', new Uint8Array(0));
        assert.deepEqual(await store.usage('a'), { bytes: 317, blobs: 4 });
        assert.deepEqual(await store.usage('a/'), { bytes: 317, blobs: 4 });
        assert.deepEqual(await store.usage('a/b'), { bytes: 10, blobs: 1 }, 'a/b.c is not under a/b');
        assert.deepEqual(await store.usage(''), { bytes: 1317, blobs: 5 });
        assert.deepEqual(await store.usage('missing/x'), { bytes: 0, blobs: 0 });
        await store.put('a/b', filled(50, 5));
        await store.delete('a/x/y');
        assert.deepEqual(await store.usage('a'), { bytes: 57, blobs: 3 }, 'after an overwrite and a delete');
      }));

    test('size answers the bytes of the blob at exactly the key: none for a prefix or a missing key', () =>
      withStore(async (store) => {
        await store.put('a/b', filled(10, 1));
        await store.put('a/b.c', filled(7, 2));
        await store.put('a/x/y', filled(300, 3));
        await store.put('a/empty', new Uint8Array(0));
        assert.equal(await store.size('a/b'), 10);
        assert.equal(await store.size('a/b.c'), 7);
        assert.equal(await store.size('a/empty'), 0, 'an empty blob is a blob');
        assert.equal(await store.size('a/x'), undefined, 'a prefix of other blobs is no blob');
        assert.equal(await store.size('a'), undefined);
        assert.equal(await store.size('a/b/c'), undefined, 'below a blob');
        assert.equal(await store.size('missing/x'), undefined);
        await store.put('a/b', filled(50, 4));
        assert.equal(await store.size('a/b'), 50, 'after an overwrite');
        await store.delete('a/b');
        assert.equal(await store.size('a/b'), undefined, 'after a delete');
      }));

    test('deletePrefix removes the subtree and the key itself, nothing beside it', () =>
      withStore(async (store) => {
        const keys = [
          'ws-1/f1/code.py',
          'ws-1/f2/code.py',
          'ws-1/f2/deep/er',
          'ws-10/f/code.py',
          'ws-1.bak',
          'ws-2/x',
        ];
        for (const k of keys) await store.put(k, text(k));
        await store.deletePrefix('ws-1');
        assert.deepEqual(await store.list(''), ['ws-1.bak', 'ws-10/f/code.py', 'ws-2/x']);
        await store.deletePrefix('ws-1.bak');
        await store.deletePrefix('not/there');
        assert.deepEqual(await store.list(''), ['ws-10/f/code.py', 'ws-2/x']);
        await store.put('ws-1/again', text('new'));
        assert.deepEqual(await store.get('ws-1/again'), text('new'), 'a deleted prefix can be written again');
      }));

    test('concurrent puts to one key leave exactly one whole value', { skip: gaps.tornOverwrites }, () =>
      withStore(async (store) => {
        const values = Array.from({ length: 20 }, (_, i) => filled(64 * 1024 + i, i));
        await Promise.all(values.map((v) => store.put('race/key', v)));
        const got = await store.get('race/key');
        assert.ok(got, 'a value is there');
        assert.ok(
          values.some((v) => v.length === got.length && got.every((b) => b === v[0])),
          'the value is one of the writes, untorn',
        );
        assert.deepEqual(await store.list(''), ['race/key']);
      }),
    );

    test(
      'readers during an overwrite see the old or the new bytes, never a mix',
      { skip: gaps.tornOverwrites },
      () =>
        withStore(async (store) => {
          const oldBytes = filled(2 * 1024 * 1024, 0xaa);
          const newBytes = filled(3 * 1024 * 1024, 0xbb);
          await store.put('big', oldBytes);
          const reads: Array<Promise<Uint8Array | undefined>> = [];
          const write = store.put('big', newBytes);
          for (let i = 0; i < 20; i++) reads.push(store.get('big'));
          await write;
          for (const got of await Promise.all(reads)) {
            assert.ok(got, 'never missing mid-write');
            const whole =
              (got.length === oldBytes.length && got.every((b) => b === 0xaa)) ||
              (got.length === newBytes.length && got.every((b) => b === 0xbb));
            assert.ok(whole, `torn read of ${got.length} bytes`);
          }
          assert.deepEqual(await store.get('big'), newBytes);
        }),
    );

    describe('hostile keys are refused and write nothing', () => {
      for (const [label, key] of HOSTILE_KEYS) {
        test(`${label}: ${JSON.stringify(key).slice(0, 40)}`, () =>
          withStore(async (store) => {
            const refused = eunhaError('VALIDATION_ERROR', 'key');
            await assert.rejects(store.put(key, text('pwned')), refused);
            await assert.rejects(store.get(key), refused);
            await assert.rejects(store.size(key), refused);
            await assert.rejects(store.delete(key), refused);
            await assert.rejects(store.deletePrefix(key), refused);
            // As a listing prefix, '' means everything and one trailing '/' is tolerated.
            if (!LISTABLE_PREFIXES.has(key)) {
              await assert.rejects(store.list(key), refused);
              await assert.rejects(store.usage(key), refused);
            }
            assert.deepEqual(await store.list(''), []);
          }));
      }
    });
  });
}
