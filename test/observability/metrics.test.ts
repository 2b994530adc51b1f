// The Prometheus registry on its own: runtime gauges are read at scrape time, the pipelined count
// (a running total kept by the runtime) is exposed as a counter that only ever goes up, and a
// deleted function's series go for good.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Metrics, type RuntimeGauges } from '../../src/observability/metrics.js';
import { QUIET_RUNTIME } from '../helpers/quiet-runtime.js';

/** The value of an unlabelled series in a scrape. */
const scraper =
  (m: Metrics) =>
  async (name: string): Promise<number> =>
    Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(await m.text())?.[1]);

describe('Metrics', () => {
  test('gauges follow the runtime at each scrape; the pipelined counter adds what is new', async () => {
    let now: RuntimeGauges = {
      instances: 2,
      reservedMemoryBytes: 448 * 1024 * 1024,
      warmPool: 1,
      hostProcesses: 1,
      spares: 1,
      queueDepth: 0,
      pipelined: 0,
    };
    const m = new Metrics({ services: () => 3, runtime: () => now });
    const scrape = scraper(m);

    assert.equal(await scrape('eunha_instances'), 2);
    assert.equal(await scrape('gateway_service_count'), 3);
    assert.equal(await scrape('eunha_pipelined_requests_total'), 0);
    assert.equal(await scrape('eunha_sandbox_processes'), 1);
    assert.equal(await scrape('eunha_instance_memory_reserved_bytes'), 448 * 1024 * 1024);
    // The process's defaults, prefixed once (they were eunha_process_process_…).
    assert.ok((await scrape('eunha_process_cpu_seconds_total')) >= 0);
    assert.ok((await scrape('eunha_nodejs_heap_size_used_bytes')) > 0);
    now = {
      instances: 4,
      reservedMemoryBytes: 896 * 1024 * 1024,
      warmPool: 0,
      hostProcesses: 2,
      spares: 0,
      queueDepth: 7,
      pipelined: 5,
    };
    assert.equal(await scrape('eunha_instances'), 4);
    assert.equal(await scrape('eunha_sandbox_processes'), 2);
    assert.equal(await scrape('eunha_spare_sandboxes'), 0);
    assert.equal(await scrape('eunha_queue_depth'), 7);
    assert.equal(await scrape('eunha_pipelined_requests_total'), 5);
    assert.equal(await scrape('eunha_pipelined_requests_total'), 5, 'a second scrape adds nothing');
    now = { ...now, pipelined: 12 };
    assert.equal(await scrape('eunha_pipelined_requests_total'), 12);
  });

  test('the execution-log writer: pending is a gauge, dropped a counter that only goes up', async () => {
    let logs = { pending: 0, dropped: 0 };
    const m = new Metrics({ services: () => 0, runtime: () => QUIET_RUNTIME, logs: () => logs });
    const scrape = scraper(m);
    assert.equal(await scrape('eunha_execution_logs_pending'), 0);
    logs = { pending: 100_000, dropped: 250 };
    assert.equal(await scrape('eunha_execution_logs_pending'), 100_000);
    assert.equal(await scrape('eunha_execution_logs_dropped_total'), 250);
    logs = { pending: 0, dropped: 250 };
    assert.equal(await scrape('eunha_execution_logs_pending'), 0);
    assert.equal(await scrape('eunha_execution_logs_dropped_total'), 250);
  });

  test("a forgotten function's series go, and an invocation finishing later does not bring them back", async () => {
    const m = new Metrics({ services: () => 0, runtime: () => QUIET_RUNTIME });
    m.recordInvocation('fn-a', 200, 0.002, true);
    m.recordInvocation('fn-a', 500, 0.003, false);
    m.recordInvocation('fn-b', 200, 0.001, false);
    m.recordOutbound('fn-a', 'ok', 0.05);
    m.recordOutbound('fn-a', 'timeout', 1.5);
    const lines = async (id: string): Promise<string[]> =>
      (await m.text()).split('\n').filter((l) => l.includes(`function_name="${id}"`));
    assert.ok((await lines('fn-a')).some((l) => l.includes('code="500"')));
    assert.ok((await lines('fn-a')).some((l) => l.includes('outcome="timeout"')));
    await m.forget('fn-a');
    assert.deepEqual(await lines('fn-a'), []);
    m.recordInvocation('fn-a', 200, 0.002, false);
    m.recordOutbound('fn-a', 'ok', 0.05);
    assert.deepEqual(await lines('fn-a'), []);
    assert.match(
      (await lines('fn-b')).join('\n'),
      /gateway_function_invocation_total\{function_name="fn-b",code="200"\} 1/,
    );
  });

  test('a deleted function is remembered only as long as one of its calls could still run', async () => {
    let now = 0;
    const m = new Metrics({ services: () => 0, runtime: () => QUIET_RUNTIME }, () => now);
    const count = async () => /function_name="fn-a"/.test(await m.text());
    await m.forget('fn-a');
    now += 15 * 60_000; // the longest timeout is 900 s: a call may still finish
    await m.forget('fn-b');
    m.recordInvocation('fn-a', 200, 0.002, false);
    assert.equal(await count(), false);
    now += 6 * 60_000;
    await m.forget('fn-c'); // each forget lets go of what is older than that
    m.recordInvocation('fn-a', 200, 0.002, false);
    assert.equal(await count(), true, 'fn-a is no longer held in memory');
  });

  test('the duration histogram reaches the longest timeout: a 700-s call is not in +Inf only', async () => {
    const m = new Metrics({ services: () => 0, runtime: () => QUIET_RUNTIME });
    m.recordInvocation('fn-long', 200, 700, false);
    const text = await m.text();
    assert.match(text, /gateway_functions_seconds_bucket\{le="600",function_name="fn-long"\} 0/);
    assert.match(text, /gateway_functions_seconds_bucket\{le="900",function_name="fn-long"\} 1/);
  });

  test('eunha_function_info names each deployed function, read at each scrape; any name is escaped', async () => {
    let fns = [
      { id: 'fn-a', name: 'hello', workspaceId: 'ws-1' },
      { id: 'fn-b', name: 'say "hi" \\ there', workspaceId: 'ws-2' },
    ];
    const m = new Metrics({ services: () => 0, runtime: () => QUIET_RUNTIME, functions: () => fns });
    const info = async () => (await m.text()).split('\n').filter((l) => l.startsWith('eunha_function_info{'));
    assert.deepEqual(await info(), [
      'eunha_function_info{function_name="fn-a",name="hello",workspace="ws-1"} 1',
      'eunha_function_info{function_name="fn-b",name="say \\"hi\\" \\\\ there",workspace="ws-2"} 1',
    ]);
    fns = [{ id: 'fn-a', name: 'renamed', workspaceId: 'ws-1' }];
    assert.deepEqual(await info(), [
      'eunha_function_info{function_name="fn-a",name="renamed",workspace="ws-1"} 1',
    ]);
  });
});
