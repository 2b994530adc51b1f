// The invoker on its own, with a runtime that refuses: a call the runtime turns away because the
// server stops is still a call, with its execution log and its metric (through a real socket and
// a real shutdown: test/pipeline/restore.test.ts).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Redactor } from '../../src/auth/redact.js';
import { shuttingDown } from '../../src/core/errors.js';
import type { ExecutionLog, FunctionRecord } from '../../src/core/types.js';
import type { ActiveRoute } from '../../src/deploy/local-target.js';
import { Invoker } from '../../src/gateway/invoker.js';
import { ExecutionLogWriter } from '../../src/observability/log-writer.js';
import { Metrics } from '../../src/observability/metrics.js';
import { QUIET_RUNTIME } from '../helpers/quiet-runtime.js';
import type { InvokeResult } from '../../src/runtime/types.js';

const route = {
  fn: { id: 'fn-stopping', workspaceId: 'ws-stopping' } as FunctionRecord,
  deployment: { version: 3 },
  versionKey: 'fn-stopping@v3-abc',
  redactor: new Redactor([]),
} as unknown as ActiveRoute;

/** An invoker over a runtime whose invoke is `invoke`, and the logs it stored. */
function invokerOver(invoke: () => Promise<InvokeResult>) {
  const stored: ExecutionLog[] = [];
  const writer = new ExecutionLogWriter({
    appendLogs: async (logs) => {
      stored.push(...logs);
      return logs.map((log, i) => ({ seq: i + 1, log }));
    },
  });
  const metrics = new Metrics({ services: () => 0, runtime: () => QUIET_RUNTIME });
  let n = 0;
  const invoker = new Invoker({
    runtime: { invoke },
    writer,
    metrics,
    clock: () => new Date('2026-11-27T12:00:00.000Z'),
    ids: { workspace: () => 'ws-x', function: () => 'fn-x', opaque: () => `log-${++n}` },
    logBodyCap: 1024,
    currentRoute: () => route,
  });
  return { invoker, writer, metrics, stored };
}

/** The same, over a runtime that answers `answer`. */
const invokerAnswering = (answer: Partial<InvokeResult>) =>
  invokerOver(async () => ({
    status: 200,
    headers: { 'content-type': 'text/plain' },
    body: new TextEncoder().encode('written by the function'),
    lines: [],
    linesTruncated: false,
    durationMs: 1,
    cpuMs: 1,
    coldStart: false,
    ...answer,
  }));

describe('Invoker', () => {
  test('the logged response body is what was sent: none for HEAD, 204, 205 or 304', async () => {
    const cases: Array<[string, number, unknown]> = [
      ['GET', 200, 'written by the function'],
      ['HEAD', 200, null],
      ['GET', 204, null],
      ['POST', 205, null],
      ['GET', 304, null],
      ['GET', 404, 'written by the function'],
    ];
    for (const [method, status, logged] of cases) {
      const { invoker, writer, stored } = invokerAnswering({ status });
      await invoker.invoke(
        route,
        { method, uri: '/fn/x', headers: {}, body: new Uint8Array(0) },
        () => undefined,
      );
      await writer.close();
      assert.deepEqual(stored[0]!.responseBody, logged, `${method} ${status}`);
    }
  });

  test('a call refused at shutdown is logged and counted, then answered 503 SHUTTING_DOWN', async () => {
    const { invoker, writer, metrics, stored } = invokerOver(() => Promise.reject(shuttingDown()));
    const { result, log } = await invoker.invoke(
      route,
      {
        method: 'POST',
        uri: '/fn/fn-stopping',
        headers: { 'content-type': 'application/json' },
        body: new TextEncoder().encode('{"a":1}'),
      },
      () => undefined,
    );
    assert.equal(result.status, 503);
    assert.equal(result.error?.code, 'SHUTTING_DOWN');
    await writer.close();
    assert.deepEqual(
      stored.map((l) => [l.id, l.functionId, l.statusCode, l.status, l.deploymentVersion]),
      [['log-1', 'fn-stopping', 503, 'error', 3]],
    );
    assert.equal(log.id, 'log-1');
    assert.deepEqual(stored[0]!.requestBody, { a: 1 });
    assert.match(
      await metrics.text(),
      /gateway_function_invocation_total\{function_name="fn-stopping",code="503"\} 1/,
    );
  });
});
