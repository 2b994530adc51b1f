// The Prometheus registry on its own: runtime gauges are read at scrape time, and the pipelined
// count (a running total kept by the runtime) is exposed as a counter that only ever goes up.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Metrics, type RuntimeGauges } from '../../src/observability/metrics.js';

describe('Metrics', () => {
  test('gauges follow the runtime at each scrape; the pipelined counter adds what is new', async () => {
    let now: RuntimeGauges = {
      instances: 2,
      warmPool: 1,
      hostProcesses: 1,
      spares: 1,
      queueDepth: 0,
      pipelined: 0,
    };
    const m = new Metrics({ services: () => 3, runtime: () => now });
    const scrape = async (name: string): Promise<number> =>
      Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(await m.text())?.[1]);

    assert.equal(await scrape('eunha_instances'), 2);
    assert.equal(await scrape('gateway_service_count'), 3);
    assert.equal(await scrape('eunha_pipelined_requests_total'), 0);
    assert.equal(await scrape('eunha_sandbox_processes'), 1);
    now = { instances: 4, warmPool: 0, hostProcesses: 2, spares: 0, queueDepth: 7, pipelined: 5 };
    assert.equal(await scrape('eunha_instances'), 4);
    assert.equal(await scrape('eunha_sandbox_processes'), 2);
    assert.equal(await scrape('eunha_spare_sandboxes'), 0);
    assert.equal(await scrape('eunha_queue_depth'), 7);
    assert.equal(await scrape('eunha_pipelined_requests_total'), 5);
    assert.equal(await scrape('eunha_pipelined_requests_total'), 5, 'a second scrape adds nothing');
    now = { ...now, pipelined: 12 };
    assert.equal(await scrape('eunha_pipelined_requests_total'), 12);
  });
});
