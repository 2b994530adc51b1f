// One invocation, whichever door it came through (the /fn ingress or the seed's /invoke): run the
// active version in the runtime, count it in the metrics, and hand its execution log to the
// batched writer (a call the runtime refuses at shutdown, without running it, too). Callers decide
// how to answer. Secret values of the version are masked in the log
// (what the function printed, both bodies, error messages) before it leaves this file.

import { performance } from 'node:perf_hooks';
import { EunhaError } from '../core/errors.js';
import type { Clock, IdSource } from '../core/ids.js';
import type { ExecutionLog, LogLevel } from '../core/types.js';
import type { ActiveRoute } from '../deploy/local-target.js';
import type { ExecutionLogWriter } from '../observability/log-writer.js';
import type { Metrics } from '../observability/metrics.js';
import type { InvokeRequest, InvokeResult, Runtime } from '../runtime/index.js';
import { bodyForLog } from './bodies.js';
import { checkedResult } from './response-check.js';

export interface Invocation {
  result: InvokeResult;
  log: ExecutionLog;
  /** The route that ran it: not the one asked for if a redeploy moved the request. */
  route: ActiveRoute;
}

function levelOf(status: number, failed: boolean): LogLevel {
  if (failed || status >= 500) return 'error';
  if (status >= 400) return 'warn';
  return 'info';
}

/** Runtime answers for a request that never reached a sandbox. */
const NEVER_RAN = new Set(['TOO_MANY_REQUESTS', 'CLIENT_CLOSED']);

export class Invoker {
  /** Calls not yet logged; a caller that hung up leaves no connection to wait for (drained()). */
  private running = 0;
  private drainedWaiters: Array<() => void> = [];

  constructor(
    private readonly deps: {
      runtime: Pick<Runtime, 'invoke'>;
      writer: ExecutionLogWriter;
      metrics: Metrics;
      clock: Clock;
      ids: IdSource;
      /** Bytes of each body kept in the execution log. */
      logBodyCap: number;
      /** The function's active route now (deploy/local-target.ts). */
      currentRoute: (functionId: string) => ActiveRoute | undefined;
    },
  ) {}

  /**
   * `admit` is the door's own check of a route (enabled, method, caller). It is asked again when a
   * redeploy moves a waiting request to a new version, whose config may differ from the one the
   * request was admitted by.
   */
  async invoke(
    route: ActiveRoute,
    req: InvokeRequest,
    admit: (route: ActiveRoute) => void | Promise<void>,
  ): Promise<Invocation> {
    this.running++;
    try {
      return await this.run(route, req, admit);
    } finally {
      if (--this.running === 0) for (const wake of this.drainedWaiters.splice(0)) wake();
    }
  }

  /**
   * Resolves once no call is running: each one's log has been handed to the writer. A shutdown
   * waits for this before it closes the writer, since a call whose caller has gone runs on and
   * is logged after the server stopped waiting for its connection.
   */
  drained(): Promise<void> {
    if (this.running === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainedWaiters.push(resolve));
  }

  private async run(
    route: ActiveRoute,
    req: InvokeRequest,
    admit: (route: ActiveRoute) => void | Promise<void>,
  ): Promise<Invocation> {
    const started = performance.now();
    let raw: InvokeResult;
    for (;;) {
      try {
        raw = await this.deps.runtime.invoke(route.versionKey, req);
        break;
      } catch (e) {
        // Refused because the server stops (it waited for an instance when the grace period ran
        // out, or came after): it did not run, but it was a call, and each call leaves a log and
        // a metric, as one ended while it ran does.
        if (e instanceof EunhaError && e.code === 'SHUTTING_DOWN') {
          raw = refused(e, performance.now() - started);
          break;
        }
        // A redeploy unloaded the version while the request waited for an instance: it never
        // ran, so it runs on the version that replaced it (after a delete there is none).
        if (!unloadedVersion(e)) throw e;
        const next = this.deps.currentRoute(route.fn.id);
        if (!next) {
          throw new EunhaError(
            'NOT_FOUND',
            `function '${route.fn.id}' was deleted or undeployed while the request waited; it did not run`,
            { resource: 'function', id: route.fn.id },
          );
        }
        if (next.versionKey === route.versionKey) throw e;
        await admit(next);
        route = next;
      }
    }
    const result = checkedResult(raw);
    // When the call ended, which is the order logs are stored in: with the start time, a slow call
    // was stored behind logs a reader had already paged past (or polled `since`), and was missed.
    const timestamp = this.deps.clock().toISOString();
    const seconds = (performance.now() - started) / 1000;
    // A call refused in line (429) or whose caller left before it started (499) did not run: it
    // counts as a call, but its wait is not a duration.
    if (NEVER_RAN.has(result.error?.code ?? '')) this.deps.metrics.recordRefusal(route.fn.id, result.status);
    else this.deps.metrics.recordInvocation(route.fn.id, result.status, seconds, result.coldStart);

    const failed = result.error !== undefined || result.status >= 500;
    const r = route.redactor;
    const cap = this.deps.logBodyCap;
    const sent = sentBody(req.method, result);
    const id = this.deps.ids.opaque();
    const log: ExecutionLog = {
      id,
      functionId: route.fn.id,
      workspaceId: route.fn.workspaceId,
      timestamp,
      status: failed ? 'error' : 'success',
      duration: toMicros(result.durationMs),
      statusCode: result.status,
      // Masked as bytes before the cap cuts them, and again once parsed: JSON unescapes what the
      // bytes spelled differently. Capped on both doors (the seed's /invoke kept whole bodies).
      requestBody: r.value(
        bodyForLog(r.buffer(req.body, cap), req.headers['content-type'], cap, req.body.byteLength),
      ),
      // The envelope the caller got, with the function's own message where the caller was given
      // the catalogue's: the log is its owner's.
      responseBody: result.error
        ? {
            error: {
              code: result.error.code,
              message: r.text(result.error.message),
              details: { functionId: route.fn.id, logId: id },
            },
          }
        : r.value(bodyForLog(r.buffer(sent, cap), result.headers['content-type'], cap, sent.byteLength)),
      logs: r.lines(result.lines),
      level: levelOf(result.status, failed),
      coldStart: result.coldStart,
      deploymentVersion: route.deployment.version,
      cpuMs: toMicros(result.cpuMs),
      runMs: result.runMs === undefined ? null : toMicros(result.runMs),
      waitMs: result.waitMs === undefined ? null : toMicros(result.waitMs),
      requestId: req.requestId ?? null,
    };
    this.deps.writer.append(log);
    return { result, log, route };
  }
}

const EMPTY = new Uint8Array(0);

/** Milliseconds, kept to the microsecond. */
const toMicros = (ms: number): number => Math.round(ms * 1000) / 1000;

/**
 * The body the caller gets: none for HEAD, nor for a status that carries no content (1xx, 204,
 * 205, 304; HTTP drops what the function wrote), so the log shows what was sent.
 */
function sentBody(method: string, result: InvokeResult): Uint8Array {
  const s = result.status;
  return method === 'HEAD' || s < 200 || s === 204 || s === 205 || s === 304 ? EMPTY : result.body;
}

/** The result of a call the runtime refused without running it. */
function refused(e: EunhaError, durationMs: number): InvokeResult {
  return {
    status: e.status,
    headers: {},
    body: new Uint8Array(0),
    lines: [],
    linesTruncated: false,
    durationMs,
    cpuMs: 0,
    coldStart: false,
    error: { code: 'SHUTTING_DOWN', message: e.message },
  };
}

function unloadedVersion(e: unknown): boolean {
  return e instanceof EunhaError && e.code === 'NOT_FOUND' && e.details.resource === 'version';
}
