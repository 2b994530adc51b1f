// One instance: a host process specialised for one function version (its files imported, its
// environment set). It serves one request at a time and enforces the hard limits the host cannot
// enforce on itself: the kill after timeout + grace, and the death of its process → 502.

import { EunhaError } from '../core/errors.js';
import { HostDiedError, type HostProcess } from './host-process.js';
import type { FunctionVersion, InvokeRequest, InvokeResult, InvokeErrorCode } from './types.js';
import { MAX_LINES, MAX_OUTPUT_BYTES } from './output.js';

const MiB = 1024 * 1024;
/** The 6 MiB response cap (Lambda's), also enforced inside the sandbox with a clear message. */
export const MAX_RESPONSE_BYTES = 6 * MiB;

function stringRecord(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (typeof v !== 'object' || v === null) return out;
  for (const [k, val] of Object.entries(v)) if (typeof val === 'string') out[k] = val;
  return out;
}
/** Allowance above the function's memory for node, V8 and the compiled interpreter (RSS). */
export const HOST_OVERHEAD_BYTES = 320 * MiB;

export interface InvokeOutcome {
  result: Omit<InvokeResult, 'coldStart'>;
  /** The instance must not serve again (timeout, crash, memory above its limit). */
  recycle: boolean;
}

export class Instance {
  state: 'idle' | 'busy' | 'dead' = 'busy';
  lastUsed = Date.now();
  invocations = 0;
  private killedFor: 'timeout' | 'memory' | null = null;

  private constructor(
    readonly host: HostProcess,
    readonly version: FunctionVersion,
  ) {}

  get pid(): number {
    return this.host.pid;
  }

  get memoryLimitBytes(): number {
    return this.version.memoryMb * MiB;
  }

  /** Load the version into a booted host. On failure the host is killed and FUNCTION_LOAD_ERROR thrown. */
  static async specialise(host: HostProcess, version: FunctionVersion): Promise<Instance> {
    const names = Object.keys(version.files).sort();
    const sizes = names.map((n) => ({ name: n, size: version.files[n]!.length }));
    const body = Buffer.concat(names.map((n) => version.files[n]!));
    let f;
    try {
      f = await host.request(
        {
          t: 'load',
          env: version.env,
          variables: version.variables ?? {},
          memoryMb: version.memoryMb,
          files: sizes,
        },
        body,
      );
    } catch (e) {
      host.kill();
      throw new EunhaError(
        'FUNCTION_LOAD_ERROR',
        `the sandbox died while loading the function: ${String(e)}`,
      );
    }
    if (f.header.ok !== true) {
      host.kill();
      const traceback = typeof f.header.traceback === 'string' ? f.header.traceback : undefined;
      throw new EunhaError(
        'FUNCTION_LOAD_ERROR',
        String(f.header.error ?? 'the function could not be loaded'),
        {
          traceback,
          lines: f.header.lines,
        },
      );
    }
    return new Instance(host, version);
  }

  /** Kill the process because it went over its memory limit (called by the runtime's RSS watch). */
  killForMemory(): void {
    this.killedFor = 'memory';
    this.host.kill();
  }

  async invoke(req: InvokeRequest, graceMs: number): Promise<InvokeOutcome> {
    const t0 = performance.now();
    const { timeoutMs } = this.version;
    this.invocations++;
    const timer = setTimeout(() => {
      this.killedFor = 'timeout';
      this.host.kill();
    }, timeoutMs + graceMs);
    try {
      const f = await this.host.request(
        { t: 'invoke', method: req.method, uri: req.uri, headers: req.headers, timeoutMs },
        req.body,
      );
      const h = f.header;
      const durationMs = performance.now() - t0;
      // The host is sandboxed code's neighbour: its answer is checked, never trusted as typed.
      const lines = Array.isArray(h.lines)
        ? h.lines.slice(0, MAX_LINES + 1).map((l) => String(l).slice(0, MAX_OUTPUT_BYTES))
        : [];
      const base = {
        lines,
        linesTruncated: h.linesTruncated === true,
        durationMs,
        cpuMs: typeof h.cpuMs === 'number' && Number.isFinite(h.cpuMs) ? h.cpuMs : 0,
      };
      const status = Number(h.status);
      if (!Number.isInteger(status) || status < 100 || status > 599 || f.body.length > MAX_RESPONSE_BYTES) {
        return {
          result: {
            status: 502,
            headers: {},
            body: new Uint8Array(0),
            ...base,
            error: { code: 'FUNCTION_CRASHED', message: 'the sandbox sent a malformed answer' },
          },
          recycle: true,
        };
      }
      const overMemory = typeof h.heapBytes === 'number' && h.heapBytes > this.memoryLimitBytes;
      if (typeof h.error === 'string') {
        const code = h.error as InvokeErrorCode;
        const message =
          code === 'TIMEOUT'
            ? `the function did not answer within ${timeoutMs} ms`
            : String(h.message ?? code);
        return {
          result: {
            status,
            headers: {},
            body: new Uint8Array(0),
            ...base,
            error: { code, message, traceback: typeof h.traceback === 'string' ? h.traceback : undefined },
          },
          // After a timeout the interpreter's state is suspect; after a crash it is gone.
          recycle: code !== 'FUNCTION_ERROR' || h.recycle === true || overMemory,
        };
      }
      return {
        result: { status, headers: stringRecord(h.headers), body: f.body, ...base },
        recycle: overMemory,
      };
    } catch (e) {
      if (!(e instanceof HostDiedError)) throw e;
      this.state = 'dead';
      const durationMs = performance.now() - t0;
      const empty = {
        headers: {},
        body: new Uint8Array(0),
        lines: [],
        linesTruncated: false,
        durationMs,
        cpuMs: 0,
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
      const why =
        this.killedFor === 'memory'
          ? `the sandbox exceeded its memory limit of ${this.version.memoryMb} MB`
          : e.message;
      return {
        result: { ...empty, status: 502, error: { code: 'FUNCTION_CRASHED', message: why } },
        recycle: true,
      };
    } finally {
      clearTimeout(timer);
    }
  }

  stop(): Promise<void> {
    this.state = 'dead';
    return this.host.stop();
  }

  kill(): void {
    this.state = 'dead';
    this.host.kill();
  }
}
