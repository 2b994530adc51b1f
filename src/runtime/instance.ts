// One instance: a host process specialised for one function version (its files imported, its
// environment set). It serves one request at a time and enforces the hard limits the host cannot
// enforce on itself: the kill after timeout + grace, and the death of its process → 502.

import { EunhaError } from '../core/errors.js';
import { HostDiedError, type HostProcess } from './host-process.js';
import type { FunctionVersion, InvokeRequest, InvokeResult, InvokeErrorCode } from './types.js';

const MiB = 1024 * 1024;
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
        { t: 'load', env: version.env, variables: version.variables ?? {}, memoryMb: version.memoryMb, files: sizes },
        body,
      );
    } catch (e) {
      host.kill();
      throw new EunhaError('FUNCTION_LOAD_ERROR', `the sandbox died while loading the function: ${String(e)}`);
    }
    if (f.header.ok !== true) {
      host.kill();
      const traceback = typeof f.header.traceback === 'string' ? f.header.traceback : undefined;
      throw new EunhaError('FUNCTION_LOAD_ERROR', String(f.header.error ?? 'the function could not be loaded'), {
        traceback,
        lines: f.header.lines,
      });
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
      const base = {
        lines: Array.isArray(h.lines) ? (h.lines as string[]) : [],
        linesTruncated: h.linesTruncated === true,
        durationMs,
        cpuMs: typeof h.cpuMs === 'number' ? h.cpuMs : 0,
      };
      const overMemory = typeof h.heapBytes === 'number' && h.heapBytes > this.memoryLimitBytes;
      if (typeof h.error === 'string') {
        const code = h.error as InvokeErrorCode;
        const message = code === 'TIMEOUT' ? `the function did not answer within ${timeoutMs} ms` : String(h.message ?? code);
        return {
          result: {
            status: Number(h.status),
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
        result: { status: Number(h.status), headers: (h.headers as Record<string, string>) ?? {}, body: f.body, ...base },
        recycle: overMemory,
      };
    } catch (e) {
      if (!(e instanceof HostDiedError)) throw e;
      this.state = 'dead';
      const durationMs = performance.now() - t0;
      const empty = { headers: {}, body: new Uint8Array(0), lines: [], linesTruncated: false, durationMs, cpuMs: 0 };
      if (this.killedFor === 'timeout') {
        return {
          result: { ...empty, status: 504, error: { code: 'TIMEOUT', message: `the function did not answer within ${timeoutMs} ms` } },
          recycle: true,
        };
      }
      const why = this.killedFor === 'memory' ? `the sandbox exceeded its memory limit of ${this.version.memoryMb} MB` : e.message;
      return { result: { ...empty, status: 502, error: { code: 'FUNCTION_CRASHED', message: why } }, recycle: true };
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
