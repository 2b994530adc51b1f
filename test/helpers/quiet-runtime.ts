// What the metrics read from an idle runtime: no instances, nothing queued. For tests of the
// metrics and of what records into them, which need a runtime to read but not a real one.

import type { RuntimeGauges } from '../../src/observability/metrics.js';

export const QUIET_RUNTIME: RuntimeGauges = {
  instances: 0,
  reservedMemoryBytes: 0,
  warmPool: 0,
  hostProcesses: 0,
  spares: 0,
  queueDepth: 0,
  pipelined: 0,
};
