// The time zone database a host reads for its sandboxes (src/runtime/host/zoneinfo.ts): which files
// and aliases of a zoneinfo tree are kept, on a tree built here.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readZoneinfo } from '../../src/runtime/host/zoneinfo.js';

test('keeps TZif files and the aliases between them; drops the rest', () => {
  const dir = mkdtempSync(join(tmpdir(), 'eunha-zoneinfo-'));
  try {
    const tzif = (tag: string): Buffer => Buffer.concat([Buffer.from('TZif2'), Buffer.from(tag)]);
    mkdirSync(join(dir, 'Europe'));
    mkdirSync(join(dir, 'posix/Europe'), { recursive: true });
    writeFileSync(join(dir, 'Europe/Paris'), tzif('paris'));
    writeFileSync(join(dir, 'Etc+GMT-1'), tzif('gmt'));
    writeFileSync(join(dir, 'posix/Europe/Paris'), tzif('posix copy'));
    writeFileSync(join(dir, 'zone.tab'), 'FR\t+4852+00220\tEurope/Paris\n');
    writeFileSync(join(dir, 'bad name'), tzif('odd'));
    writeFileSync(join(tmpdir(), 'eunha-zoneinfo-outside'), tzif('outside'));
    symlinkSync('Paris', join(dir, 'Europe/Monaco'));
    symlinkSync('../zone.tab', join(dir, 'Europe/Tab'));
    symlinkSync(join(tmpdir(), 'eunha-zoneinfo-outside'), join(dir, 'Outside'));
    symlinkSync('Nowhere', join(dir, 'Dangling'));

    const zi = readZoneinfo(dir)!;
    assert.deepEqual(Object.keys(zi.files).sort(), ['Etc+GMT-1', 'Europe/Paris']);
    assert.equal(Buffer.from(zi.files['Europe/Paris']!).toString(), 'TZif2paris');
    assert.deepEqual(zi.links, { 'Europe/Monaco': 'Europe/Paris' });
    assert.equal(readZoneinfo(join(dir, 'missing')), null);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(join(tmpdir(), 'eunha-zoneinfo-outside'), { force: true });
  }
});
