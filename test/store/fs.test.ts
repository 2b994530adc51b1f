// The filesystem blob adapter: the shared contract on real temp dirs, plus what only a filesystem
// has — temp files, empty folders, symlinks, and proof that nothing lands outside the root.
import assert from 'node:assert/strict';
import {
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import fc from 'fast-check';
import { EunhaError } from '../../src/core/errors.js';
import { openFsBlobStore } from '../../src/store/fs/index.js';
import { unavailable } from '../../src/store/fs/store.js';
import { HOSTILE_KEYS, runBlobStoreContract } from './blob-contract.js';
import { eunhaError } from './fixtures.js';

const base = mkdtempSync(join(tmpdir(), 'eunha-fs-test-'));
after(() => rmSync(base, { recursive: true, force: true }));
let counter = 0;
/** A sandbox holding the store's root plus a sentinel beside it, to detect writes that escape. */
function sandbox(): { dir: string; root: string } {
  const dir = join(base, `case-${++counter}`);
  mkdirSync(dir);
  writeFileSync(join(dir, 'sentinel'), 'untouched');
  return { dir, root: join(dir, 'root') };
}

/** Every path under dir (files and folders), relative, sorted. */
function tree(dir: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[]).map((p) => p.split('\\').join('/')).sort();
}

runBlobStoreContract('fs', () => openFsBlobStore(sandbox().root));

describe('filesystem blob store', () => {
  test('blobs are plain files under the root; no temp file is left behind', async () => {
    const { root } = sandbox();
    const store = await openFsBlobStore(root);
    await Promise.all(Array.from({ length: 50 }, (_, i) => store.put(`w/${i % 5}/k`, Uint8Array.of(i))));
    await store.put('w/0/k', Uint8Array.of(1, 2, 3));
    assert.deepEqual(tree(root), [
      'w',
      'w/0',
      'w/0/k',
      'w/1',
      'w/1/k',
      'w/2',
      'w/2/k',
      'w/3',
      'w/3/k',
      'w/4',
      'w/4/k',
    ]);
    assert.deepEqual(readFileSync(join(root, 'w/0/k')), Buffer.of(1, 2, 3));
  });

  test('a stray temp file from a crash is never listed', async () => {
    const { root } = sandbox();
    const store = await openFsBlobStore(root);
    await store.put('a/b', Uint8Array.of(1));
    writeFileSync(join(root, 'a', 'b~1234-deadbeef.tmp'), 'half a write');
    assert.deepEqual(await store.list(''), ['a/b']);
    assert.deepEqual(await store.list('a'), ['a/b']);
    await assert.rejects(store.get('a/b~1234-deadbeef.tmp'), eunhaError('VALIDATION_ERROR', 'key'));
  });

  test('opening the store removes temp files another process left, deep or not, and keeps the blobs', async () => {
    const { root } = sandbox();
    const first = await openFsBlobStore(root);
    await first.put('build-sources/ws/t1/big.py', Uint8Array.of(1));
    const other = process.pid + 1;
    // What a server killed mid-upload leaves (a review found 3 MB of one after restarts).
    writeFileSync(join(root, 'build-sources', 'ws', 't1', `big.py~${other}-0123abcd.tmp`), 'half an upload');
    mkdirSync(join(root, 'build-sources', 'ws', 't2'), { recursive: true });
    writeFileSync(join(root, 'build-sources', 'ws', 't2', `app.py~${other}-feedbeef.tmp`), 'another');
    // One of this process's own: a write of its own in flight is never touched.
    writeFileSync(join(root, 'build-sources', 'ws', 't1', `x~${process.pid}-00000000.tmp`), 'mine');
    const again = await openFsBlobStore(root);
    assert.deepEqual(await again.list(''), ['build-sources/ws/t1/big.py']);
    assert.deepEqual(tree(join(root, 'build-sources', 'ws')), [
      't1',
      't1/big.py',
      `t1/x~${process.pid}-00000000.tmp`,
      't2',
    ]);
  });

  test('a full or read-only disk is DEPENDENCY_UNAVAILABLE (503), other failures stay as they are', () => {
    const errno = (code: string) => Object.assign(new Error(`${code}: no`), { code });
    for (const code of ['ENOSPC', 'EDQUOT', 'EROFS', 'EIO']) {
      const e = unavailable(errno(code), 'code/ws/fn/a.py');
      assert.ok(e instanceof EunhaError, code);
      assert.equal(e.code, 'DEPENDENCY_UNAVAILABLE');
      assert.match(e.message, new RegExp(`cannot write 'code/ws/fn/a.py' \\(${code}\\)`));
    }
    const other = errno('EPERM');
    assert.equal(unavailable(other, 'k'), other);
  });

  test('a read the process has no file descriptor for is DEPENDENCY_UNAVAILABLE too, not a 500', async () => {
    const { root } = sandbox();
    const store = await openFsBlobStore(root);
    await store.put('artifacts/ws/d/manifest.json', Uint8Array.of(1));
    // In a child with a low descriptor limit, every descriptor taken, then the read.
    const script = `
      import { openSync } from 'node:fs';
      import { openFsBlobStore } from ${JSON.stringify(new URL('../../src/store/fs/index.js', import.meta.url).href)};
      const store = await openFsBlobStore(${JSON.stringify(root)});
      try { for (;;) openSync('/dev/null', 'r'); } catch {}
      try { await store.get('artifacts/ws/d/manifest.json'); console.log('read'); }
      catch (e) { console.log(e.code, e.message); }`;
    const out = execFileSync(
      'bash',
      ['-c', 'ulimit -n 64 && exec "$0" --input-type=module -e "$1"', process.execPath, script],
      {
        encoding: 'utf8',
      },
    );
    assert.match(
      out,
      /^DEPENDENCY_UNAVAILABLE blob store: cannot read 'artifacts\/ws\/d\/manifest\.json' \(E[MN]FILE\)/,
    );
  });

  test('deletes remove folders they empty, up to the root', async () => {
    const { root } = sandbox();
    const store = await openFsBlobStore(root);
    await store.put('ws/fn/code.py', Uint8Array.of(1));
    await store.put('ws/other/code.py', Uint8Array.of(2));
    await store.put('keep/x', Uint8Array.of(3));
    await store.delete('ws/fn/code.py');
    assert.deepEqual(tree(root), ['keep', 'keep/x', 'ws', 'ws/other', 'ws/other/code.py']);
    await store.deletePrefix('ws/other');
    assert.deepEqual(tree(root), ['keep', 'keep/x']);
    await store.deletePrefix('keep');
    assert.deepEqual(tree(root), []);
    assert.ok(lstatSync(root).isDirectory(), 'the root itself stays');
  });

  test('blobs survive reopening the store', async () => {
    const { root } = sandbox();
    const first = await openFsBlobStore(root);
    await first.put('p/q', Uint8Array.of(9, 8));
    await first.close();
    await assert.rejects(first.get('p/q'), eunhaError('DEPENDENCY_UNAVAILABLE'));
    const second = await openFsBlobStore(root);
    assert.deepEqual(await second.get('p/q'), Uint8Array.of(9, 8));
  });

  test('a name cannot be a blob and a folder at once: CONFLICT, nothing changed', async () => {
    const { root } = sandbox();
    const store = await openFsBlobStore(root);
    await store.put('a', Uint8Array.of(1));
    await assert.rejects(store.put('a/b', Uint8Array.of(2)), eunhaError('CONFLICT', 'key'));
    await store.put('c/d', Uint8Array.of(3));
    await assert.rejects(store.put('c', Uint8Array.of(4)), eunhaError('CONFLICT', 'key'));
    assert.deepEqual(await store.list(''), ['a', 'c/d']);
    assert.deepEqual(tree(root), ['a', 'c', 'c/d']);
  });

  test('hostile keys write nothing anywhere, inside or outside the root', async () => {
    const { dir, root } = sandbox();
    const store = await openFsBlobStore(root);
    const before = tree(dir);
    for (const [, key] of HOSTILE_KEYS) {
      await assert.rejects(store.put(key, Uint8Array.of(0x41)), eunhaError('VALIDATION_ERROR', 'key'));
      await assert.rejects(store.deletePrefix(key), eunhaError('VALIDATION_ERROR', 'key'));
    }
    assert.deepEqual(tree(dir), before);
    assert.deepEqual(before, ['root', 'sentinel']);
    assert.equal(readFileSync(join(dir, 'sentinel'), 'utf8'), 'untouched');
  });

  test('fuzz: any key is either refused or lands inside the root', async () => {
    const { dir, root } = sandbox();
    const store = await openFsBlobStore(root);
    const alphabet = ['a', 'B', '0', '.', '..', '/', '\\', '\0', '~', ':', '%', ' ', '-', '@', '\u00e9'];
    const keyArb = fc.array(fc.constantFrom(...alphabet), { maxLength: 12 }).map((parts) => parts.join(''));
    await fc.assert(
      fc.asyncProperty(keyArb, async (key) => {
        try {
          await store.put(key, Uint8Array.of(1));
        } catch (err) {
          if (err instanceof EunhaError && (err.code === 'VALIDATION_ERROR' || err.code === 'CONFLICT'))
            return;
          throw err;
        }
        assert.deepEqual(await store.get(key), Uint8Array.of(1));
        assert.ok((await store.list('')).includes(key), `${JSON.stringify(key)} is listed`);
      }),
      { numRuns: 300 },
    );
    assert.deepEqual(readdirSync(dir).sort(), ['root', 'sentinel']);
    assert.equal(readFileSync(join(dir, 'sentinel'), 'utf8'), 'untouched');
  });

  test('a symlink planted in the root cannot lead reads or writes outside it', async () => {
    const { dir, root } = sandbox();
    const store = await openFsBlobStore(root);
    const outside = join(dir, 'outside');
    mkdirSync(outside);
    writeFileSync(join(outside, 'secret'), 'secret');
    symlinkSync(outside, join(root, 'link'));
    symlinkSync(join(outside, 'secret'), join(root, 'file-link'));
    await assert.rejects(store.put('link/x', Uint8Array.of(1)), eunhaError('VALIDATION_ERROR', 'key'));
    // Not even a folder may be created through the link.
    await assert.rejects(
      store.put('link/new/deeper/x', Uint8Array.of(1)),
      eunhaError('VALIDATION_ERROR', 'key'),
    );
    await assert.rejects(store.get('link/secret'), eunhaError('VALIDATION_ERROR', 'key'));
    await assert.rejects(store.deletePrefix('link/secret'), eunhaError('VALIDATION_ERROR', 'key'));
    assert.equal(await store.get('file-link'), undefined, 'a symlinked file is not followed');
    assert.deepEqual(await store.list(''), [], 'symlinks are not blobs');
    assert.deepEqual(tree(outside), ['secret']);
    assert.equal(readFileSync(join(outside, 'secret'), 'utf8'), 'secret');
    // Only what the test itself made: the two links, the outside folder, the sentinel.
    assert.deepEqual(readdirSync(dir).sort(), ['outside', 'root', 'sentinel']);
    assert.deepEqual(readdirSync(root).sort(), ['file-link', 'link']);
  });
});
