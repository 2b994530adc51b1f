// A tail opened while logs are being stored misses none and doubles none: it listens before its
// backlog is read, the writer tells it of each log once the store has numbered it, and it sends a
// sequence number at most once. Before sequence numbers, a log appended just before the tail
// opened was in neither its page nor what it heard (a reviewer saw it in 5 of 6 tries).

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, get } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import type { ExecutionLog, LogTailPage, SequencedLog } from '../../src/core/types.js';
import { LiveTails } from '../../src/observability/live-tail.js';
import { ExecutionLogWriter } from '../../src/observability/log-writer.js';
import { TailIdKey } from '../../src/observability/tail-ids.js';

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

/** A store that numbers what it stores, and whose writes wait for `gate` when one is set. */
class GatedStore {
  readonly stored: SequencedLog[] = [];
  gate: Promise<void> | undefined;
  async appendLogs(logs: ExecutionLog[]): Promise<SequencedLog[]> {
    await this.gate;
    const out: SequencedLog[] = [];
    for (const log of logs) {
      const e = { seq: this.stored.length + 1, log };
      this.stored.push(e);
      out.push(e);
    }
    return out;
  }
  page(): LogTailPage {
    return { logs: [...this.stored], more: false, last: this.stored.length };
  }
}

const key = new TailIdKey(randomBytes(32));
const ids = key.forFunction('ws-gap', 'fn-gap');

/** `seq:logId` of each log event in an SSE text (the sequence number read back from its id). */
const logEvents = (text: string): string[] =>
  [...text.matchAll(/^id: (\S+)\nevent: log\ndata: (.*)$/gm)].map(
    (m) => `${ids.seqOf(m[1]!)}:${JSON.parse(m[2]!).id}`,
  );

/** Serves one tail per request, its page read by `page` after listening began; collects ids. */
async function tailIds(
  tails: LiveTails,
  page: () => Promise<LogTailPage>,
  want: number,
  onData: (ids: string[]) => void = () => undefined,
): Promise<string[]> {
  const server = createServer((_req, res) => {
    const listening = tails.listen('ws-gap', 'fn-gap');
    void page().then((p) => tails.stream(res, listening, p, false));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const { port } = server.address() as AddressInfo;
    return await new Promise<string[]>((resolve, reject) => {
      get({ host: '127.0.0.1', port, path: '/' }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          text += c;
          const ids = logEvents(text);
          onData(ids);
          if (ids.length >= want) {
            // Long enough for a double to arrive, too.
            setTimeout(() => {
              res.destroy();
              resolve(logEvents(text));
            }, 50);
          }
        });
      }).on('error', reject);
    });
  } finally {
    server.close();
  }
}

describe('live tail and the writer', () => {
  test('logs being stored when a tail opens arrive once they are stored, numbered, once each', async () => {
    const store = new GatedStore();
    let release!: () => void;
    store.gate = new Promise<void>((r) => (release = r));
    const writer = new ExecutionLogWriter(store, { flushIntervalMs: 1 });
    const tails = new LiveTails(writer, key);
    try {
      writer.append(entry('log-a', 1));
      await new Promise((r) => setTimeout(r, 20)); // the batch with log-a is now being written
      writer.append(entry('log-b', 2)); // waits behind it
      let appended = false;
      const seen = await tailIds(
        tails,
        async () => {
          // The store has neither yet; they are stored once the tail is open.
          const p = store.page();
          setTimeout(release, 20);
          return p;
        },
        3,
        (ids) => {
          if (ids.length === 2 && !appended) {
            appended = true;
            writer.append(entry('log-c', 0)); // an older timestamp: the order is the store's
          }
        },
      );
      assert.deepEqual(seen, ['1:log-a', '2:log-b', '3:log-c']);
    } finally {
      release();
      tails.closeAll();
      await writer.close();
    }
  });

  test('a log stored after listening began and before the page was read is in both, sent once', async () => {
    const store = new GatedStore();
    const writer = new ExecutionLogWriter(store, { flushIntervalMs: 1 });
    const tails = new LiveTails(writer, key);
    try {
      writer.append(entry('log-old', 1));
      await writer.flush();
      const seen = await tailIds(
        tails,
        async () => {
          // Listening has begun: this one is heard, then read with the page.
          writer.append(entry('log-new', 2));
          await writer.flush();
          return store.page();
        },
        2,
      );
      assert.deepEqual(seen, ['1:log-old', '2:log-new']);
    } finally {
      tails.closeAll();
      await writer.close();
    }
  });
});
