// A tail opened while logs wait in the writer (or are being written) shows them: its backlog is
// the store's page plus what the writer holds, and it listens before the page is read. Without
// that, a log appended just before the tail opened was in neither (a reviewer saw it in 5 of 6
// tries), and during a store outage every waiting log was.

import assert from 'node:assert/strict';
import { createServer, get } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import type { ExecutionLog } from '../../src/core/types.js';
import { LiveTails } from '../../src/observability/live-tail.js';
import { ExecutionLogWriter } from '../../src/observability/log-writer.js';

const entry = (id: string, second: number): ExecutionLog => ({
  id,
  functionId: 'fn-gap',
  workspaceId: 'ws-gap',
  timestamp: new Date(Date.UTC(2026, 10, 26, 12, 0, second)).toISOString(),
  status: 'success',
  duration: 1,
  statusCode: 200,
  requestBody: null,
  responseBody: null,
  logs: [],
  level: 'info',
  coldStart: false,
  deploymentVersion: 1,
  cpuMs: 0,
});

describe('live tail and the writer', () => {
  test('logs still in the writer, being written or waiting, are in a new tail’s backlog', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const stored: ExecutionLog[] = [];
    // A store whose write hangs until released: the first batch stays "being written".
    const writer = new ExecutionLogWriter(
      {
        appendLogs: async (logs) => {
          await gate;
          stored.push(...logs);
        },
      },
      { flushIntervalMs: 1 },
    );
    const tails = new LiveTails(writer);
    writer.append(entry('log-a', 1));
    await new Promise((r) => setTimeout(r, 20)); // the batch with log-a is now being written
    writer.append(entry('log-b', 2)); // waits behind it
    const server = createServer((_req, res) => {
      const listening = tails.listen('ws-gap', 'fn-gap');
      // The store has neither yet.
      void tails.stream(res, listening, [...stored], 100);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const { port } = server.address() as AddressInfo;
      const seen = await new Promise<string[]>((resolve, reject) => {
        get({ host: '127.0.0.1', port, path: '/' }, (res) => {
          let text = '';
          let appended = false;
          res.setEncoding('utf8');
          res.on('data', (c: string) => {
            text += c;
            const ids = [...text.matchAll(/^id: (\S+)$/gm)].map((m) => m[1]!);
            // Both waiting logs are in; one appended now arrives live.
            if (ids.length === 2 && !appended) {
              appended = true;
              writer.append(entry('log-c', 3));
            }
            if (ids.length === 3) {
              res.destroy();
              resolve(ids);
            }
          });
        }).on('error', reject);
      });
      assert.deepEqual(seen, ['log-a', 'log-b', 'log-c']);
    } finally {
      release();
      tails.closeAll();
      await writer.close();
      server.close();
    }
  });
});
