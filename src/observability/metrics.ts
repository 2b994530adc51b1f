// Prometheus metrics (prom-client) under the names existing OpenFaaS-style dashboards know —
// gateway_function_invocation_total, gateway_functions_seconds, gateway_service_count — plus
// Eunha's own: cold starts, instances, sandbox processes and spares, queue depth, pipelined
// requests, build durations. One registry per platform so tests (and several platforms in one
// process) never share counters.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { droppedProcessLogLines } from './log-sink.js';

export interface RuntimeGauges {
  instances: number;
  /** Memory the instances reserve against the runtime's budget (function limits + sandbox allowance), bytes. */
  reservedMemoryBytes: number;
  warmPool: number;
  /** Sandbox host processes bound to a workspace, and the spare sandboxes booted in them. */
  hostProcesses: number;
  spares: number;
  queueDepth: number;
  /** Monotonic: requests pipelined into busy instances since start. */
  pipelined: number;
}

/** The execution-log writer (log-writer.ts): what waits for the store, what a failing store cost. */
export interface LogWriterGauges {
  pending: number;
  /** Monotonic: logs dropped because the backlog was full while the store failed. */
  dropped: number;
}

/** How long a deleted function's calls may still be finishing: its longest timeout, and then some. */
const FORGET_FOR_MS = 20 * 60_000;

export class Metrics {
  readonly registry = new Registry();
  private readonly invocations: Counter<'function_name' | 'code'>;
  private readonly duration: Histogram<'function_name'>;
  private readonly coldStarts: Counter<'function_name'>;
  private readonly outbound: Counter<'function_name' | 'outcome'>;
  private readonly outboundSeconds: Histogram<'function_name'>;
  /**
   * Functions deleted lately, with when. An invocation that was running when its function was
   * deleted finishes afterwards, and must not bring the function's series back; none runs longer
   * than FORGET_FOR_MS, so older entries go (one stayed per deleted function for good).
   */
  private readonly forgotten = new Map<string, number>();
  readonly builds: Histogram<'outcome'>;

  constructor(
    sources: {
      /** Functions that serve calls (deploy/local-target.ts serving()). */
      services: () => number;
      runtime: () => RuntimeGauges;
      logs?: () => LogWriterGauges;
      /** Unread answers (api/undrained.ts). */
      unread?: () => { heldBytes: number; cut: number };
      /** /fn request-body bytes held in memory (gateway/body-budget.ts). */
      fnBodyBytes?: () => number;
      /** Deployed functions, for eunha_function_info (deploy/local-target.ts routed()). */
      functions?: () => Array<{ id: string; name: string; workspaceId: string }>;
    },
    private readonly clock: () => number = Date.now,
  ) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'eunha_' });
    this.invocations = new Counter({
      name: 'gateway_function_invocation_total',
      help: 'Calls to functions by function and status code: what the function URL answered, or on /invoke the statusCode of the execution log (500 for a raise, which /invoke answers 200 with the log); calls refused before running included',
      labelNames: ['function_name', 'code'],
      registers,
    });
    this.duration = new Histogram({
      name: 'gateway_functions_seconds',
      help: 'Time to answer a function invocation, seconds',
      labelNames: ['function_name'],
      // Up to the longest timeout a function may have (900 s): past 60 s every call fell in +Inf,
      // and histogram_quantile could not say more than 60 s of it.
      buckets: [
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 900,
      ],
      registers,
    });
    this.coldStarts = new Counter({
      name: 'eunha_cold_starts_total',
      help: 'Invocations that had to specialise a new instance',
      labelNames: ['function_name'],
      registers,
    });
    this.outbound = new Counter({
      name: 'eunha_outbound_requests_total',
      help: "Functions' outbound HTTP calls by outcome: ok, or why not (not-allowed, address-not-allowed, timeout, too-large, connect-failed, bad-request, disabled, failed)",
      labelNames: ['function_name', 'outcome'],
      registers,
    });
    this.outboundSeconds = new Histogram({
      name: 'eunha_outbound_request_seconds',
      help: "Time a function's outbound HTTP call took (the function waited that long), seconds",
      labelNames: ['function_name'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.builds = new Histogram({
      name: 'eunha_build_duration_seconds',
      help: 'Build task durations by outcome',
      labelNames: ['outcome'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    // Gauges read their source at scrape time; the registry keeps them.
    const gauge = (name: string, help: string, read: () => number): void => {
      const g: Gauge = new Gauge({ name, help, registers, collect: () => g.set(read()) });
    };
    const rt = () => sources.runtime();
    // function_name is the function's id (unique, and what the seed's gateway used); dashboards join
    // this on it to show a function's name and group by workspace. Read at each scrape, so a
    // renamed, undeployed or deleted function is right at the next one.
    const info: Gauge<'function_name' | 'name' | 'workspace'> = new Gauge({
      name: 'eunha_function_info',
      help: 'Always 1, per deployed function: its name and workspace, to join on function_name (its id)',
      labelNames: ['function_name', 'name', 'workspace'],
      registers,
      collect: () => {
        info.reset();
        for (const f of sources.functions?.() ?? [])
          info.set({ function_name: f.id, name: f.name, workspace: f.workspaceId }, 1);
      },
    });
    // The seed's "service" is what its deploy puts in front of a function (service_status found):
    // the thing callers reach. Here: functions whose active version is loaded and not disabled.
    gauge(
      'gateway_service_count',
      'Functions that serve calls: an active deployment loaded (restored at start-up) and not disabled',
      () => sources.services(),
    );
    gauge('eunha_instances', 'Specialised function instances alive', () => rt().instances);
    gauge(
      'eunha_instance_memory_reserved_bytes',
      "Memory the instances reserve against the runtime's budget (each its function's limit plus its sandbox's allowance)",
      () => rt().reservedMemoryBytes,
    );
    gauge('eunha_warm_pool_size', 'Booted sandboxes waiting to be specialised', () => rt().warmPool);
    gauge(
      'eunha_sandbox_processes',
      "Sandbox host processes bound to a workspace (each holds that workspace's instances as threads)",
      () => rt().hostProcesses,
    );
    gauge(
      'eunha_spare_sandboxes',
      "Booted sandboxes waiting in workspaces' processes for their next instance",
      () => rt().spares,
    );
    gauge('eunha_queue_depth', 'Requests waiting for a free instance', () => rt().queueDepth);
    // A running total kept elsewhere, exposed as a counter: each scrape adds what is new.
    const runningTotal = (name: string, help: string, read: () => number): void => {
      let seen = 0;
      const c: Counter = new Counter({
        name,
        help,
        registers,
        collect: () => {
          const now = read();
          if (now > seen) c.inc(now - seen);
          seen = Math.max(seen, now);
        },
      });
    };
    runningTotal(
      'eunha_pipelined_requests_total',
      "Requests written into a busy instance's channel behind the one it was running",
      () => rt().pipelined,
    );
    // A full disk shows here before anyone misses a log.
    const logs = () => sources.logs?.() ?? { pending: 0, dropped: 0 };
    gauge(
      'eunha_execution_logs_pending',
      'Execution logs waiting to be written to the store',
      () => logs().pending,
    );
    runningTotal(
      'eunha_execution_logs_dropped_total',
      'Execution logs dropped because the store kept failing and the backlog was full',
      () => logs().dropped,
    );
    runningTotal(
      'eunha_process_log_lines_dropped_total',
      "The server's own log lines that stdout did not take (a full disk under it, a reader gone)",
      droppedProcessLogLines,
    );
    const unread = () => sources.unread?.() ?? { heldBytes: 0, cut: 0 };
    gauge(
      'eunha_unread_response_bytes',
      'Response bytes held for clients that have not read them',
      () => unread().heldBytes,
    );
    runningTotal(
      'eunha_unread_responses_cut_total',
      'Connections closed because their client left an answer unread too long or over the budget',
      () => unread().cut,
    );
    // Near EUNHA_FN_BODY_BUDGET_BYTES, calls with a body are being refused (503 SERVER_BUSY).
    gauge(
      'eunha_fn_request_body_bytes',
      'Request bytes of function calls (/fn) held in memory: declared lengths of bodies on their way, chunked bodies as they arrive',
      () => sources.fnBodyBytes?.() ?? 0,
    );
  }

  recordInvocation(functionId: string, status: number, seconds: number, coldStart: boolean): void {
    if (this.forgotten.has(functionId)) return;
    const fnLabel = { function_name: functionId };
    this.invocations.inc({ ...fnLabel, code: String(status) });
    this.duration.observe(fnLabel, seconds);
    if (coldStart) this.coldStarts.inc(fnLabel);
  }

  /** A call answered with an error before the function ran: a call, but no run to time. */
  recordRefusal(functionId: string, status: number): void {
    if (this.forgotten.has(functionId)) return;
    this.invocations.inc({ function_name: functionId, code: String(status) });
  }

  recordOutbound(functionId: string, outcome: string, seconds: number): void {
    if (this.forgotten.has(functionId)) return;
    this.outbound.inc({ function_name: functionId, outcome });
    this.outboundSeconds.observe({ function_name: functionId }, seconds);
  }

  /**
   * Drops every series of a deleted function: prom-client keeps a label set until told, so
   * /metrics would otherwise list each function ever deleted until the next restart.
   */
  async forget(functionId: string): Promise<void> {
    const now = this.clock();
    // Oldest first (insertion order): stop at the first one still needed.
    for (const [id, at] of this.forgotten) {
      if (now - at < FORGET_FOR_MS) break;
      this.forgotten.delete(id);
    }
    this.forgotten.delete(functionId);
    this.forgotten.set(functionId, now);
    const { values } = await this.invocations.get();
    for (const { labels } of values) {
      if (labels.function_name === functionId)
        this.invocations.remove({ function_name: functionId, code: labels.code! });
    }
    for (const { labels } of (await this.outbound.get()).values) {
      if (labels.function_name === functionId)
        this.outbound.remove({ function_name: functionId, outcome: labels.outcome! });
    }
    this.duration.remove({ function_name: functionId });
    this.coldStarts.remove({ function_name: functionId });
    this.outboundSeconds.remove({ function_name: functionId });
  }

  async text(): Promise<string> {
    return this.registry.metrics();
  }
}
