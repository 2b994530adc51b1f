// Several live tails of one function: each new log is encoded once, not once per tail (16 tails of
// a function printing 64 KiB a call held the main thread 16 times a log's encoding, and the calls
// it served fell from 987 to 201), and every tail still receives the same, correct events.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { after, test } from 'node:test';
import type { ExecutionLog } from '../../src/core/types.js';
import { LiveTails, type ShownLog } from '../../src/observability/live-tail.js';
import { ExecutionLogWriter } from '../../src/observability/log-writer.js';
import { TailIdKey } from '../../src/observability/tail-ids.js';

/** What stream() uses of a response, keeping what is written. */
class Recorded extends EventEmitter {
  text = '';
  destroyed = false;
  writableEnded = false;
  writableLength = 0;
  writeHead(): this {
    return this;
  }
  write(chunk: string | Buffer): boolean {
    this.text += String(chunk);
    return true;
  }
  end(): this {
    this.writableEnded = true;
    return this;
  }
  destroy(): this {
    this.destroyed = true;
    this.emit('close');
    return this;
  }
}

const logOf = (i: number): ExecutionLog => ({
  id: `log-${i}`,
  functionId: 'fn-a',
  workspaceId: 'ws-a',
  timestamp: new Date(Date.UTC(2026, 10, 26, 12, 0, 0, i)).toISOString(),
  status: i % 2 ? 'error' : 'success',
  duration: i,
  statusCode: i % 2 ? 500 : 200,
  requestBody: { i, text: 'é"\n' },
  responseBody: null,
  logs: [`printed ${i}`, 'x'.repeat(64 * 1024)],
  level: i % 2 ? 'error' : 'info',
  coldStart: false,
  deploymentVersion: 1,
  cpuMs: 1,
});

/** The `event: log` blocks of a stream, as [id, data]. */
const events = (text: string): Array<[string, string]> =>
  text
    .split('\n\n')
    .filter((b) => b.includes('event: log\n'))
    .map((b) => {
      const [id, event, data, ...rest] = b.split('\n');
      assert.equal(event, 'event: log');
      assert.equal(rest.length, 0, 'one data line: the JSON has no raw newline');
      return [id!.replace(/^id: /, ''), data!.replace(/^data: /, '')];
    });

test('each new log is encoded once however many tails are open; each tail gets it whole', async () => {
  let seq = 0;
  const writer = new ExecutionLogWriter(
    { appendLogs: async (logs) => logs.map((log) => ({ seq: ++seq, log })) },
    { flushIntervalMs: 1 },
  );
  const key = new TailIdKey(randomBytes(32));
  let encoded = 0;
  const encode = (log: ShownLog): string => {
    encoded++;
    return JSON.stringify(log);
  };
  const tails = new LiveTails(writer, key, 15_000, 1_000, undefined, encode);
  after(async () => {
    tails.closeAll();
    await writer.close();
  });

  const TAILS = 6;
  const LOGS = 5;
  const streams = Array.from({ length: TAILS }, () => new Recorded());
  const ended = streams.map((res) =>
    tails.stream(
      res as unknown as ServerResponse,
      tails.listen('ws-a', 'fn-a'),
      { logs: [], more: false, last: 0 },
      false,
    ),
  );
  const logs = Array.from({ length: LOGS }, (_, i) => logOf(i + 1));
  for (const log of logs) writer.append(log);
  await writer.flush();

  assert.equal(encoded, LOGS, `${encoded} encodings of ${LOGS} logs for ${TAILS} tails`);
  const ids = key.forFunction('ws-a', 'fn-a');
  const first = events(streams[0]!.text);
  assert.equal(first.length, LOGS);
  first.forEach(([id, data], i) => {
    assert.equal(ids.seqOf(id), i + 1, 'the id resumes after this entry');
    const { workspaceId: _ws, ...shown } = logs[i]!;
    assert.deepEqual(JSON.parse(data), shown, 'the listing’s fields, without the workspace');
  });
  for (const res of streams.slice(1)) assert.deepEqual(events(res.text), first, 'every tail the same');

  // A tail that leaves stops receiving; the others go on with the shared frames.
  streams[0]!.destroy();
  await ended[0];
  writer.append(logOf(LOGS + 1));
  await writer.flush();
  assert.equal(encoded, LOGS + 1);
  assert.equal(events(streams[0]!.text).length, LOGS);
  for (const res of streams.slice(1)) assert.equal(events(res.text).length, LOGS + 1);
});
