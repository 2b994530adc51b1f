// Source intake: .py uploads, zip layouts, and every way a hostile zip tries to escape the build
// folder (zip-slip) or to exhaust memory (zip bombs, including one whose header lies).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { EunhaError } from '../../src/core/errors.js';
import { readSource, storedUploadName, DEFAULT_SOURCE_LIMITS } from '../../src/build/source.js';
import { makeZip, patchDeclaredSize, patchName } from './zip-fixtures.js';

const APP = 'from spin_sdk import http\n\nclass IncomingHandler(http.IncomingHandler):\n    pass\n';
const text = (b: Uint8Array | undefined): string => Buffer.from(b ?? new Uint8Array()).toString('utf8');

async function rejects(promise: Promise<unknown>, pattern: RegExp): Promise<EunhaError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof EunhaError, `expected an EunhaError, got ${String(err)}`);
    assert.equal(err.code, 'VALIDATION_ERROR');
    assert.equal(err.details.field, 'file');
    assert.match(err.message, pattern);
    return err;
  }
  assert.fail(`expected a rejection matching ${pattern}`);
}

describe('source intake: .py', () => {
  test('a .py becomes app.py whatever its name', async () => {
    const files = await readSource('handler.py', Buffer.from(APP));
    assert.deepEqual(Object.keys(files), ['app.py']);
    assert.equal(text(files['app.py']), APP);
  });

  test('a .py must be UTF-8, not empty, not over the cap, and the extension must be .py or .zip', async () => {
    await rejects(readSource('app.py', Buffer.from([0x70, 0xff, 0xfe])), /not valid UTF-8/);
    await rejects(readSource('app.py', new Uint8Array()), /empty/);
    await rejects(
      readSource('app.py', Buffer.alloc(11, 'a'), { ...DEFAULT_SOURCE_LIMITS, maxSourceBytes: 10 }),
      /cap/,
    );
    await rejects(readSource('app.js', Buffer.from('x')), /\.py or a \.zip/);
    await rejects(readSource('app', Buffer.from('x')), /\.py or a \.zip/);
  });

  test('stored upload names keep to the blob-key alphabet', () => {
    assert.equal(storedUploadName('my app (2).py'), 'my_app__2_.py');
    assert.equal(storedUploadName('C:\\fakepath\\handler.ZIP'), 'handler.zip');
    assert.equal(storedUploadName('..py'), 'source.py');
  });
});

describe('source intake: zip layouts', () => {
  test('app.py at the root, with packages and data files', async () => {
    const zip = await makeZip([
      { name: 'app.py', data: APP },
      { name: 'lib/util.py', data: 'X = 1\n' },
      { name: 'data/logo.bin', data: new Uint8Array([0, 1, 255]) },
    ]);
    const files = await readSource('bundle.zip', zip);
    assert.deepEqual(Object.keys(files).sort(), ['app.py', 'data/logo.bin', 'lib/util.py']);
    assert.deepEqual([...(files['data/logo.bin'] ?? [])], [0, 1, 255]);
  });

  test('a single top-level folder is stripped; macOS clutter is ignored', async () => {
    const zip = await makeZip([
      { name: 'myfunc/app.py', data: APP },
      { name: 'myfunc/helpers/x.py', data: 'Y = 2\n' },
      { name: '__MACOSX/myfunc/._app.py', data: 'junk' },
      { name: 'myfunc/.DS_Store', data: 'junk' },
    ]);
    const files = await readSource('myfunc.zip', zip);
    assert.deepEqual(Object.keys(files).sort(), ['app.py', 'helpers/x.py']);
    assert.equal(text(files['app.py']), APP);
  });

  test('no app.py (or app.py two folders down, or beside another folder) is refused', async () => {
    await rejects(readSource('a.zip', await makeZip([{ name: 'main.py', data: APP }])), /no app\.py/);
    await rejects(readSource('a.zip', await makeZip([{ name: 'a/b/app.py', data: APP }])), /no app\.py/);
    await rejects(
      readSource(
        'a.zip',
        await makeZip([
          { name: 'a/app.py', data: APP },
          { name: 'b/x.py', data: '' },
        ]),
      ),
      /no app\.py/,
    );
  });

  test('empty, corrupt, non-UTF-8 and clashing zips are refused with a reason', async () => {
    await rejects(readSource('a.zip', await makeZip([])), /no files/);
    await rejects(readSource('a.zip', Buffer.from('PK not really a zip')), /invalid zip/);
    await rejects(
      readSource('a.zip', await makeZip([{ name: 'app.py', data: Buffer.from([0xc3, 0x28]) }])),
      /not valid UTF-8/,
    );
    await rejects(
      readSource(
        'a.zip',
        await makeZip([
          { name: 'app.py', data: APP },
          { name: 'lib', data: 'x' },
          { name: 'lib/a.py', data: '' },
        ]),
      ),
      /both a file and a folder/,
    );
  });
});

describe('source intake: zip-slip', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['XXXevil.py', '../evil.py', /'\.\.' segment \(path traversal\)/],
    ['app/XXXXXXx.py', 'app/../../x.py', /'\.\.' segment \(path traversal\)/],
    ['Xetc/passwd', '/etc/passwd', /absolute path/],
    ['XXwin.py', 'C:win.py', /drive letter/],
    ['aXb.py', 'a\\b.py', /backslash/],
    ['YYYYYYx.py', '..\\..\\x.py', /backslash/],
    ['aXb.py', 'a\0b.py', /NUL/],
    ['XXapp.py', './app.py', /'\.' segment/],
    ['aXb.py', 'a b.py', /may only contain/],
  ];
  for (const [placeholder, evil, pattern] of cases) {
    test(`entry ${JSON.stringify(evil)} is refused`, async () => {
      const zip = await makeZip([
        { name: 'app.py', data: APP },
        { name: placeholder, data: 'print(1)\n' },
      ]);
      await rejects(readSource('evil.zip', patchName(zip, placeholder, evil)), pattern);
    });
  }

  test('a symbolic link entry is refused', async () => {
    const zip = await makeZip([
      { name: 'app.py', data: APP },
      { name: 'link.py', data: '/etc/passwd', mode: 0o120777 },
    ]);
    await rejects(readSource('evil.zip', zip), /symbolic link/);
  });
});

describe('source intake: zip bombs', () => {
  test('100 MiB of zeros is refused from its declared size, before inflating', async () => {
    const zip = await makeZip([
      { name: 'app.py', data: APP },
      { name: 'zeros.bin', data: { zeros: 100 * 1024 * 1024 } },
    ]);
    assert.ok(zip.length < 1024 * 1024, `the bomb is small (${zip.length} bytes)`);
    const err = await rejects(readSource('bomb.zip', zip), /expands to more than 16 MiB/);
    assert.equal(err.details.reason, 'too_large_uncompressed');
  });

  test('a zip whose files add up to more than a function may load (16 MiB) is refused before it is stored', async () => {
    const zip = await makeZip([
      { name: 'app.py', data: APP },
      ...Array.from({ length: 17 }, (_, i) => ({ name: `part${i}.bin`, data: { zeros: 1024 * 1024 } })),
    ]);
    const err = await rejects(readSource('seventeen.zip', zip), /expands to more than 16 MiB/);
    assert.equal(err.details.reason, 'too_large_uncompressed');
  });

  test('a header that lies about the size is stopped at the declared size, with bounded memory', async () => {
    const zip = patchDeclaredSize(
      await makeZip([{ name: 'app.py', data: { zeros: 100 * 1024 * 1024 } }]),
      1000,
    );
    const before = process.memoryUsage().arrayBuffers;
    const err = await rejects(readSource('bomb.zip', zip), /inflates to more than the 1000 bytes/);
    assert.equal(err.details.reason, 'size_mismatch');
    const grown = process.memoryUsage().arrayBuffers - before;
    assert.ok(grown < 32 * 1024 * 1024, `memory grew by ${grown} bytes while refusing the bomb`);
  });

  test('a highly compressed entry under the total cap is refused by the ratio check', async () => {
    const zip = await makeZip([
      { name: 'app.py', data: APP },
      { name: 'zeros.bin', data: { zeros: 8 * 1024 * 1024 } },
    ]);
    const err = await rejects(readSource('bomb.zip', zip), /compressed more than 200:1/);
    assert.equal(err.details.reason, 'compression_ratio');
  });

  test('too many entries are refused from the central directory count', async () => {
    const entries = Array.from({ length: 1001 }, (_, i) => ({ name: `f${i}.txt`, data: 'x' }));
    const err = await rejects(readSource('many.zip', await makeZip(entries)), /1001 entries; at most 1000/);
    assert.equal(err.details.reason, 'too_many_entries');
  });

  test('the total cap counts every entry together', async () => {
    const limits = { ...DEFAULT_SOURCE_LIMITS, maxTotalBytes: 1000 };
    const zip = await makeZip([
      { name: 'app.py', data: 'a'.repeat(600), compress: false },
      { name: 'b.py', data: 'b'.repeat(600), compress: false },
    ]);
    await rejects(readSource('two.zip', zip, limits), /expands to more than/);
  });
});
