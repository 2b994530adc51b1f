// Blob-store benchmark: what the storage meter costs an artifact's store and load, on files and on
// S3 (s3rver, the tests' local S3, behind a proxy that counts the HTTP requests), against the same
// store without the meter measured in the same run (read the ratio: this machine is noisy).
// Each round stores a new artifact of --files files (1 KiB each) and loads it back, with and
// without the meter in alternating order, after one unmeasured round of each.
//
//   npm run build && node dist/bench/blob-writes.js [--files 500] [--rounds 3]

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadArtifact, storeArtifact } from '../src/build/artifact.js';
import { workspaceBlobOwners } from '../src/services/storage-quota.js';
import { openFsBlobStore } from '../src/store/fs/index.js';
import { MeteredBlobStore } from '../src/store/metered-blobs.js';
import type { BlobStore } from '../src/store/ports.js';
import { openS3BlobStore } from '../src/store/s3/index.js';
import { startS3Proxy } from '../test/helpers/s3-proxy.js';
import { S3RVER_CREDENTIALS, startLocalS3 } from '../test/helpers/s3-server.js';
import { numberArg, printTable } from './common.js';

const FILES = numberArg('files', 500);
const ROUNDS = numberArg('rounds', 3);
const WS = 'ws-bench0001';

function artifactFiles(round: number): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = { 'app.py': Buffer.from(`# round ${round}\n`) };
  for (let i = 1; i < FILES; i++) out[`lib/m${i}.py`] = Buffer.alloc(1024, `# ${round}-${i}\n`);
  return out;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

interface Measured {
  storeMs: number[];
  loadMs: number[];
  requestsPerFile: number[];
}

let seq = 0;

async function once(name: string, blobs: BlobStore, requests: () => number, m?: Measured): Promise<void> {
  const files = artifactFiles(++seq);
  const before = requests();
  let t = performance.now();
  const stored = await storeArtifact(blobs, WS, `bench-${name}`, files);
  const storeMs = performance.now() - t;
  const perFile = (requests() - before) / (FILES + 1);
  t = performance.now();
  await loadArtifact(blobs, WS, stored.digest);
  m?.storeMs.push(storeMs);
  m?.loadMs.push(performance.now() - t);
  m?.requestsPerFile.push(perFile);
}

/** Rounds of both, alternating which goes first, after one unmeasured round each (warm-up). */
async function pair(
  raw: BlobStore,
  metered: BlobStore,
  requests: () => number,
): Promise<{ raw: Measured; metered: Measured }> {
  const out = {
    raw: { storeMs: [], loadMs: [], requestsPerFile: [] } as Measured,
    metered: { storeMs: [], loadMs: [], requestsPerFile: [] } as Measured,
  };
  await once('raw', raw, requests);
  await once('metered', metered, requests);
  for (let round = 0; round < ROUNDS; round++) {
    const order: Array<'raw' | 'metered'> = round % 2 ? ['metered', 'raw'] : ['raw', 'metered'];
    for (const which of order) await once(which, which === 'raw' ? raw : metered, requests, out[which]);
  }
  return out;
}

async function main(): Promise<void> {
  const rows = [
    [
      'store',
      'path',
      'store ms (median)',
      'load ms (median)',
      'requests per blob stored',
      'store vs unmetered',
    ],
  ];
  const report = (store: string, path: string, m: Measured, base?: Measured): void => {
    rows.push([
      store,
      path,
      `${median(m.storeMs).toFixed(0)} (${Math.min(...m.storeMs).toFixed(0)}–${Math.max(...m.storeMs).toFixed(0)})`,
      median(m.loadMs).toFixed(0),
      Number.isNaN(median(m.requestsPerFile)) ? '–' : median(m.requestsPerFile).toFixed(2),
      base ? `${(median(m.storeMs) / median(base.storeMs)).toFixed(2)}×` : '1.00×',
    ]);
  };

  const dir = mkdtempSync(join(tmpdir(), 'eunha-bench-blobs-'));
  const s3 = await startLocalS3(['bench']);
  const proxy = await startS3Proxy(s3.endpoint);
  try {
    const fs = await openFsBlobStore(dir);
    const fsMetered = new MeteredBlobStore(fs, workspaceBlobOwners);
    await fsMetered.usageOf(WS);
    const onFiles = await pair(fs, fsMetered, () => NaN);
    report('files', 'unmetered', onFiles.raw);
    report('files', 'through the meter', onFiles.metered, onFiles.raw);

    const opened = await openS3BlobStore({
      bucket: 'bench',
      keyPrefix: '',
      region: 'us-east-1',
      endpoint: proxy.url,
      forcePathStyle: true,
      credentials: S3RVER_CREDENTIALS,
    });
    const s3Metered = new MeteredBlobStore(opened.store, workspaceBlobOwners);
    await s3Metered.usageOf(WS);
    const onS3 = await pair(opened.store, s3Metered, proxy.count);
    report('S3 (s3rver)', 'unmetered', onS3.raw);
    report('S3 (s3rver)', 'through the meter', onS3.metered, onS3.raw);
    await opened.store.close();
  } finally {
    await proxy.close();
    await s3.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`\n${FILES} files of 1 KiB per artifact, ${ROUNDS} rounds, medians (range)\n`);
  printTable(rows);
}

await main();
