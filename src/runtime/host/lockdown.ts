// Node-level lockdown of a sandbox host process, the layer under the Python import blocks. Guest
// code that somehow reaches JavaScript must find no way out: Emscripten's system() (reachable
// from os.system or ctypes) calls child_process.spawnSync; NODEFS calls fs; so those modules'
// functions are replaced by deniers, `process` is removed (but for getuid and exitCode), and
// WebAssembly memory growth is capped so a memory bomb gets a MemoryError in its own sandbox.

import { createRequire, syncBuiltinESMExports } from 'node:module';

const require = createRequire(import.meta.url);

function denier(name: string): () => never {
  return function denied(): never {
    throw new Error(`${name} is disabled in the Eunha sandbox`);
  };
}

function disarmModule(name: string, classesToo = true): void {
  // The builtin's CJS exports object is the one Emscripten's `require` hands back.
  const mod = require(name) as Record<string, unknown>;
  for (const key of Object.keys(mod)) {
    if (typeof mod[key] !== 'function') continue;
    // Node's own stdio is built on net.Socket & co., so classes of those modules must stay.
    if (!classesToo && /^[A-Z]/.test(key)) continue;
    try {
      mod[key] = denier(`${name}.${key}`);
    } catch {
      // A non-writable export stays; the OS layer (no network, a uid of its own) still holds.
    }
  }
}

/** Before any guest code runs: no process spawning, no sockets, no inspector. */
export function disarmSpawnAndNetwork(): void {
  for (const name of ['child_process', 'cluster', 'inspector']) disarmModule(name);
  for (const name of ['net', 'dgram', 'http', 'https', 'http2', 'tls', 'dns']) disarmModule(name, false);
  syncBuiltinESMExports();
}

/** After boot, once the host has captured what it needs: no file system, no process powers. */
export function disarmFilesAndProcess(): void {
  disarmModule('fs', false);
  disarmModule('worker_threads', false);
  // vm compiles source text without going through eval (the flag against code generation does
  // not cover it), and v8 can change V8's flags at run time: classes and all.
  disarmModule('vm');
  disarmModule('v8');
  // The sandbox sets its own thread's nice value through a copy taken at import
  // (host/thread-nice.ts); a guest that reached JavaScript could otherwise lower the priority of
  // other processes of its user id (the server's, when hosts keep the server's uid).
  (require('os') as Record<string, unknown>).setPriority = denier('os.setPriority');
  // Last: disarming module takes require() with it.
  disarmModule('module', false);
  syncBuiltinESMExports();
  const proc = process as unknown as Record<string, unknown>;
  for (const key of [
    'binding',
    '_linkedBinding',
    'dlopen',
    'kill',
    'chdir',
    'setuid',
    'setgid',
    'seteuid',
    'setegid',
    'setgroups',
    'initgroups',
    '_kill',
    'send',
    'openStdin',
  ]) {
    try {
      proc[key] = denier(`process.${key}`);
    } catch {
      // Non-writable: left as is; the process has its own uid and no network anyway.
    }
  }
  const g = globalThis as unknown as Record<string, unknown>;
  for (const key of ['process', 'require', 'module', 'fetch', 'WebSocket', 'EventSource', 'Buffer']) {
    try {
      delete g[key];
    } catch {
      g[key] = undefined;
    }
  }
  // Emscripten asks `process` at call time in two places. getuid (Python's os.getuid) threw
  // through the interpreter without it and ended the sandbox: it gets uid 0, the owner of every
  // file in the sandbox's in-memory file system. exit (os._exit) sets exitCode before it throws
  // its ExitStatus, which then says "Program terminated with exit(N)" instead of a TypeError.
  // Sealed: nothing else can be added.
  g.process = Object.seal({ getuid: () => 0, exitCode: undefined as number | undefined });
}

let wasmLimitBytes = Number.POSITIVE_INFINITY;

/** Cap every WebAssembly memory of this process; growth past it fails like malloc failing. */
interface WasmMemory {
  buffer: ArrayBuffer;
  grow(delta: number): number;
}
// tsconfig's lib has no WebAssembly typings (no DOM lib); this is the one member we touch.
const WA = (globalThis as unknown as { WebAssembly: { Memory: { prototype: WasmMemory } } }).WebAssembly;

export function installWasmMemoryCap(): void {
  const proto = WA.Memory.prototype;
  const grow = proto.grow;
  proto.grow = function cappedGrow(this: WasmMemory, delta: number): number {
    if (this.buffer.byteLength + delta * 65536 > wasmLimitBytes) {
      throw new RangeError(`WebAssembly memory limit of ${wasmLimitBytes} bytes reached`);
    }
    return grow.call(this, delta);
  };
}

export function setWasmMemoryLimit(bytes: number): void {
  wasmLimitBytes = bytes;
}
