// Shared test helpers for the runtime suites: an in-memory KeyValuePort, version and request
// builders, and a snapshot cache dir reused across test files (making it costs several seconds).

import { after, before } from 'node:test';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KeyValuePort, KeyValueScope } from '../../src/core/kv.js';
import type { FunctionVersion, InvokeRequest, Runtime } from '../../src/runtime/index.js';

export const CACHE_DIR = join(tmpdir(), 'eunha-runtime-test-cache');

export class MemoryKv implements KeyValuePort {
  readonly data = new Map<string, Uint8Array>();
  private k(s: KeyValueScope, key: string): string {
    return JSON.stringify([s.functionId, s.store, key]);
  }
  async get(s: KeyValueScope, key: string): Promise<Uint8Array | undefined> {
    return this.data.get(this.k(s, key));
  }
  async set(s: KeyValueScope, key: string, value: Uint8Array): Promise<void> {
    this.data.set(this.k(s, key), value);
  }
  async delete(s: KeyValueScope, key: string): Promise<void> {
    this.data.delete(this.k(s, key));
  }
  async exists(s: KeyValueScope, key: string): Promise<boolean> {
    return this.data.has(this.k(s, key));
  }
  async keys(s: KeyValueScope): Promise<string[]> {
    const out: string[] = [];
    for (const raw of this.data.keys()) {
      const [f, st, key] = JSON.parse(raw) as [string, string, string];
      if (f === s.functionId && st === s.store) out.push(key);
    }
    return out;
  }
}

let seq = 0;

export function version(source: string, over: Partial<FunctionVersion> = {}): FunctionVersion {
  seq++;
  const functionId = over.functionId ?? `fn-${process.pid}-${seq}`;
  return {
    key: `${functionId}@v${seq}`,
    functionId,
    workspaceId: 'ws-test',
    engine: 'python',
    files: { 'app.py': new TextEncoder().encode(source) },
    env: {},
    memoryMb: 128,
    timeoutMs: 2000,
    ...over,
  };
}

export function get(uri = '/', headers: Record<string, string> = {}): InvokeRequest {
  return { method: 'GET', uri, headers, body: new Uint8Array(0) };
}

export function post(uri: string, body: string, headers: Record<string, string> = {}): InvokeRequest {
  return { method: 'POST', uri, headers, body: new TextEncoder().encode(body) };
}

export const text = (b: Uint8Array): string => new TextDecoder().decode(b);

/** A handler module whose handle_request body is `code` (indented for you); `resp` is returned. */
export function handler(code: string, prelude = ''): string {
  const body = code
    .trim()
    .split('\n')
    .map((l) => '        ' + l)
    .join('\n');
  return `from spin_sdk import http
from spin_sdk.http import Request, Response
${prelude}

class IncomingHandler(http.IncomingHandler):
    def handle_request(self, request: Request) -> Response:
${body}
`;
}

/** Start the runtimes before the file's tests and close them after. */
export function startedForSuite(...runtimes: Runtime[]): void {
  before(async () => {
    await Promise.all(runtimes.map((r) => r.start()));
  });
  after(async () => {
    await Promise.all(runtimes.map((r) => r.close()));
  });
}

/** Wait (up to 5 s) until a workspace's spare sandbox has booted: it boots after a specialisation. */
export async function untilSpare(rt: Runtime): Promise<void> {
  for (let n = 0; n < 200 && rt.stats().warmPool.spares === 0; n++)
    await new Promise((r) => setTimeout(r, 25));
}
