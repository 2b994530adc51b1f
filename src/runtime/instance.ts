// One instance: a sandbox specialised for one function version (its files imported, its
// environment set). It runs one request at a time; the scheduler may write the next request into
// its channel while one runs (pipelining), so the sandbox starts it without waiting for us. It
// enforces the hard limits the sandbox cannot enforce on itself: the kill after timeout + grace,
// counted from when a request reaches the head of the line, and the end of its sandbox → 502.

import { EunhaError } from '../core/errors.js';
import { HostDiedError, type Sandbox } from './sandbox.js';
import type { FunctionVersion, InvokeRequest, InvokeResult, InvokeErrorCode } from './types.js';
import { MAX_LINES, MAX_OUTPUT_BYTES } from './output.js';
import { headersProblem, messageOf, tracebackOf } from './answer-limits.js';
import { Redactor } from '../auth/redact.js';
import { loadOverrun } from './host/guest-answers.js';

const MiB = 1024 * 1024;
/** The 6 MiB response cap (Lambda's), also enforced inside the sandbox with a clear message. */
export const MAX_RESPONSE_BYTES = 6 * MiB;

/** The deadline of module code when an instance loads (RuntimeOptions.minLoadTimeoutMs). */
function loadTimeoutMs(version: FunctionVersion, minMs: number): number {
  return Math.min(60_000, Math.max(minMs, version.timeoutMs));
}
const LOAD_KILL_GRACE_MS = 1_000;

/** The error codes a sandbox may answer with, and the status each one has. */
const SANDBOX_ERRORS: Partial<Record<InvokeErrorCode, number>> = {
  FUNCTION_ERROR: 500,
  FUNCTION_CRASHED: 502,
  TIMEOUT: 504,
};

/** Allowance in a host process's RSS for node, V8 and the compiled interpreter. */
export const HOST_OVERHEAD_BYTES = 320 * MiB;
/** Allowance per sandbox in it, above its function's memory: its JS heap and Pyodide's glue. */
export const SANDBOX_OVERHEAD_BYTES = 96 * MiB;

/** The sandbox thread is guest code's neighbour: lines it sends are checked, never trusted as typed. */
/**
 * What module code printed at import, for the instance's first call: it was dropped once a load
 * succeeded, so a function that printed its settings or a warning at import showed nothing. Kept
 * to IMPORT_LINES lines and IMPORT_BYTES characters (a marker says what was cut), so that a log
 * stays near its 64-KiB cap of printed lines.
 */
function importOutput(v: unknown): string[] {
  const lines = checkedLines(v);
  const kept: string[] = [];
  let chars = 0;
  for (const line of lines) {
    if (kept.length >= IMPORT_LINES || chars + line.length > IMPORT_BYTES) break;
    kept.push(line);
    chars += line.length;
  }
  if (kept.length < lines.length)
    kept.push(`[eunha] import output truncated: ${lines.length - kept.length} more lines dropped`);
  return kept;
}

const IMPORT_LINES = 100;
const IMPORT_BYTES = 8 * 1024;

function checkedLines(v: unknown): string[] {
  return Array.isArray(v) ? v.slice(0, MAX_LINES + 1).map((l) => String(l).slice(0, MAX_OUTPUT_BYTES)) : [];
}

export interface InvokeOutcome {
  result: Omit<InvokeResult, 'coldStart'>;
  /** The instance must not serve again (timeout, crash, memory above its limit). */
  recycle: boolean;
  /**
   * The request was pipelined behind one that ended this instance and never started: the caller
   * runs it on another instance.
   */
  notRun?: boolean;
  /**
   * How long the request held the interpreter, as the host timed it (the parent's own view adds
   * its event loop's delays); from the previous answer, or from sending it, when the host died.
   */
  serviceMs: number;
}

const notRun = (serviceMs: number): InvokeOutcome => ({
  result: {
    status: 503,
    headers: {},
    body: new Uint8Array(0),
    lines: [],
    linesTruncated: false,
    durationMs: 0,
    cpuMs: 0,
    error: { code: 'FUNCTION_CRASHED', message: 'the instance ended before the request could start' },
  },
  recycle: true,
  notRun: true,
  serviceMs,
});

export class Instance {
  state: 'idle' | 'busy' | 'dead' = 'busy';
  lastUsed = Date.now();
  /** The sandbox's wasm memory after its last request: it grows and never shrinks. */
  heapBytes = 0;
  /** The nice value the sandbox yielded to (design note 008): it can raise it, never lower it. */
  nice = 0;
  invocations = 0;
  /** Requests handed to this instance by the scheduler and not yet released (running + pipelined). */
  leases = 0;
  private killedFor: 'timeout' | 'memory' | 'shutdown' | null = null;
  /** Requests written to the sandbox and not yet answered. */
  private inflight = 0;
  /** When the request now at the head of the line started (sent, or the previous one answered). */
  private headSince = 0;
  private killTimer: NodeJS.Timeout | undefined;
  /** The sandbox said it recycles: it answers "not run" to everything behind, and may be killed any time. */
  private draining = false;
  /** What module code printed at import: given to the first call this instance answers. */
  private loadLines: string[] = [];
  private graceMs = 0;

  private constructor(
    readonly sandbox: Sandbox,
    readonly version: FunctionVersion,
  ) {
    sandbox.onOverMemory = () => this.killForMemory();
  }

  get pid(): number {
    return this.sandbox.pid;
  }

  /** When the request at the head of the line started (performance.now()); undefined if none runs. */
  get runningSince(): number | undefined {
    return this.inflight > 0 ? this.headSince : undefined;
  }

  get memoryLimitBytes(): number {
    return this.version.memoryMb * MiB;
  }

  /**
   * Load the version into a booted sandbox. On failure the sandbox is killed and FUNCTION_LOAD_ERROR
   * thrown. `nice`: what module code yields to past the load's line of CPU, as a request would.
   */
  static async specialise(
    sandbox: Sandbox,
    version: FunctionVersion,
    minLoadMs: number,
    nice: number,
  ): Promise<Instance> {
    const names = Object.keys(version.files).sort();
    const sizes = names.map((n) => ({ name: n, size: version.files[n]!.length }));
    const body = Buffer.concat(names.map((n) => version.files[n]!));
    const timeoutMs = loadTimeoutMs(version, minLoadMs);
    // The sandbox interrupts module code at the deadline; this is for code that swallows that.
    let killed = false;
    const killTimer = setTimeout(() => {
      killed = true;
      sandbox.kill();
    }, timeoutMs + LOAD_KILL_GRACE_MS);
    let f;
    try {
      f = await sandbox.request(
        {
          t: 'load',
          env: version.env,
          variables: version.variables ?? {},
          memoryMb: version.memoryMb,
          timeoutMs,
          files: sizes,
          nice,
        },
        body,
      );
    } catch (e) {
      sandbox.kill();
      throw new EunhaError(
        'FUNCTION_LOAD_ERROR',
        killed ? loadOverrun(timeoutMs) : `the sandbox died while loading the function: ${String(e)}`,
      );
    } finally {
      clearTimeout(killTimer);
    }
    if (f.header.ok !== true) {
      sandbox.kill();
      // Module code that fails on a secret's value quotes it (a review saw one in the server's
      // log and in a deploy's answer): masked here, before anyone logs or returns it.
      const r = new Redactor(version.secrets ?? []);
      const traceback = tracebackOf(f.header.traceback);
      throw new EunhaError(
        'FUNCTION_LOAD_ERROR',
        r.text(messageOf(f.header.error) ?? 'the function could not be loaded'),
        {
          traceback: traceback === undefined ? undefined : r.text(traceback),
          lines: Array.isArray(f.header.lines) ? r.lines(f.header.lines as string[]) : f.header.lines,
        },
      );
    }
    const inst = new Instance(sandbox, version);
    inst.loadLines = importOutput(f.header.lines);
    // A load that yielded keeps its value, so the replacement of stuck instances must know it.
    if (typeof f.header.nice === 'number' && Number.isInteger(f.header.nice)) inst.nice = f.header.nice;
    return inst;
  }

  /**
   * End the sandbox for memory: it reported its own footprint over the limit, or its process's
   * RSS ran away (the runtime's RSS watch).
   */
  killForMemory(): void {
    this.killedFor = 'memory';
    this.sandbox.kill();
  }

  /**
   * The time the request running now has before its deadline; the version's whole timeout while
   * none runs (code loading). Calls a guest makes to the parent are held to it.
   */
  remainingMs(): number {
    if (this.inflight === 0) return this.version.timeoutMs;
    return this.version.timeoutMs - (performance.now() - this.headSince);
  }

  /** Ends the request running here because the server is stopping (Runtime.cutRunning). */
  cut(): void {
    this.killedFor = 'shutdown';
    this.kill();
  }

  /** The kill clock runs for the request at the head of the line only: it may not have started before. */
  private armKill(): void {
    clearTimeout(this.killTimer);
    this.killTimer = undefined;
    if (this.inflight === 0 || this.sandbox.dead) return;
    this.killTimer = setTimeout(() => {
      this.killedFor = 'timeout';
      this.sandbox.kill();
    }, this.version.timeoutMs + this.graceMs);
  }

  /** `nice`: the value this request yields to once it has used 5 ms of CPU (Scheduler.niceFor). */
  async invoke(req: InvokeRequest, graceMs: number, nice = 0): Promise<InvokeOutcome> {
    const t0 = performance.now();
    const { timeoutMs } = this.version;
    this.graceMs = graceMs;
    this.invocations++;
    const pending = this.sandbox.request(
      { t: 'invoke', method: req.method, uri: req.uri, headers: req.headers, timeoutMs, nice },
      req.body,
    );
    if (++this.inflight === 1) {
      this.headSince = t0;
      this.armKill();
    }
    let f;
    try {
      f = await pending;
    } catch (e) {
      this.inflight--;
      clearTimeout(this.killTimer);
      if (!(e instanceof HostDiedError)) throw e;
      this.state = 'dead';
      const serviceMs = performance.now() - this.headSince;
      // After an answer that said "recycle", the host runs nothing more that waits in its channel.
      if (!e.started || this.draining) return notRun(serviceMs);
      return { ...this.died(e, timeoutMs, performance.now() - t0), serviceMs };
    }
    const now = performance.now();
    let serviceMs = now - this.headSince;
    this.headSince = now;
    this.inflight--;
    this.armKill();
    // Answered: the output sent at its deadline, if any, is superseded by the answer's own.
    this.sandbox.partial = null;
    const h = f.header;
    if (h.recycle === true) this.draining = true;
    if (h.notRun === true) return notRun(serviceMs);
    const ran = Number(h.runMs);
    if (Number.isFinite(ran) && ran >= 0) serviceMs = Math.min(ran, serviceMs);
    const durationMs = now - t0;
    const base = {
      lines: this.withLoadLines(checkedLines(h.lines)),
      linesTruncated: h.linesTruncated === true,
      durationMs,
      ...(Number.isFinite(ran) && ran >= 0 ? { runMs: ran } : {}),
      cpuMs: typeof h.cpuMs === 'number' && Number.isFinite(h.cpuMs) ? h.cpuMs : 0,
    };
    const status = Number(h.status);
    const errorStatus = typeof h.error === 'string' ? SANDBOX_ERRORS[h.error as InvokeErrorCode] : undefined;
    if (
      !Number.isInteger(status) ||
      status < 100 ||
      status > 599 ||
      f.body.length > MAX_RESPONSE_BYTES ||
      (h.error !== undefined && errorStatus === undefined) ||
      (h.error === undefined && headersProblem(h.headers) !== undefined)
    ) {
      return {
        result: {
          status: 502,
          headers: {},
          body: new Uint8Array(0),
          ...base,
          error: { code: 'FUNCTION_CRASHED', message: 'the sandbox sent a malformed answer' },
        },
        recycle: true,
        serviceMs,
      };
    }
    // The host decides recycling (it must stop running what is pipelined behind); the heap
    // check is repeated here in case it did not.
    if (typeof h.heapBytes === 'number') this.heapBytes = h.heapBytes;
    if (typeof h.nice === 'number' && Number.isInteger(h.nice)) this.nice = h.nice;
    const overMemory = typeof h.heapBytes === 'number' && h.heapBytes > this.memoryLimitBytes;
    const recycle = h.recycle === true || overMemory;
    if (errorStatus !== undefined) {
      const code = h.error as InvokeErrorCode;
      const message =
        code === 'TIMEOUT'
          ? `the function did not answer within ${timeoutMs} ms`
          : (messageOf(h.message) ?? code);
      return {
        result: {
          status: errorStatus,
          headers: {},
          body: new Uint8Array(0),
          ...base,
          error: { code, message, traceback: tracebackOf(h.traceback) },
        },
        // After a timeout the interpreter's state is suspect; after a crash it is gone.
        recycle: recycle || code !== 'FUNCTION_ERROR',
        serviceMs,
      };
    }
    return {
      result: { status, headers: h.headers as Record<string, string>, body: f.body, ...base },
      recycle,
      serviceMs,
    };
  }

  /** The first answered call's lines follow what the module printed at import (once). */
  private withLoadLines(lines: string[]): string[] {
    if (this.loadLines.length === 0) return lines;
    const all = [...this.loadLines, ...lines];
    this.loadLines = [];
    return all;
  }

  /** The answer for the request that was running when the process died. */
  private died(e: HostDiedError, timeoutMs: number, durationMs: number): Omit<InvokeOutcome, 'serviceMs'> {
    // What it had printed by its deadline, if it got that far (a swallowed interrupt).
    const partial = this.sandbox.partial;
    const empty = {
      headers: {},
      body: new Uint8Array(0),
      lines: this.withLoadLines(checkedLines(partial?.lines)),
      linesTruncated: partial?.linesTruncated === true,
      durationMs,
      // Measured up to the deadline; the grace period before the kill is not in it.
      cpuMs: typeof partial?.cpuMs === 'number' && Number.isFinite(partial.cpuMs) ? partial.cpuMs : 0,
    };
    if (this.killedFor === 'timeout') {
      return {
        result: {
          ...empty,
          status: 504,
          error: { code: 'TIMEOUT', message: `the function did not answer within ${timeoutMs} ms` },
        },
        recycle: true,
      };
    }
    if (this.killedFor === 'shutdown') {
      return {
        result: {
          ...empty,
          status: 503,
          error: {
            code: 'SHUTTING_DOWN',
            message: 'the server stopped while the function ran: its shutdown grace period was over',
          },
        },
        recycle: true,
      };
    }
    const why =
      this.killedFor === 'memory'
        ? `the sandbox exceeded its memory limit of ${this.version.memoryMb} MB`
        : e.message;
    return {
      result: { ...empty, status: 502, error: { code: 'FUNCTION_CRASHED', message: why } },
      recycle: true,
    };
  }

  stop(): Promise<void> {
    this.state = 'dead';
    return this.sandbox.stop();
  }

  kill(): void {
    this.state = 'dead';
    this.sandbox.kill();
  }
}
