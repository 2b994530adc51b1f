// Helpers that shape a booted Pyodide for the sandbox: writing file trees into its in-memory FS
// (guest paths are validated: relative, no `..`) and stripping the JavaScript API object of the
// powers guest code must never reach (mountNodeFS, the Emscripten module, FS.mount, NODEFS).

import type { PyodideAPI } from 'pyodide';

export interface FSLike {
  mkdirTree(path: string): void;
  writeFile(path: string, data: string | Uint8Array): void;
  symlink(target: string, path: string): void;
  mount: unknown;
  filesystems: Record<string, unknown>;
}

// The same alphabet the build accepts for artifact entries (docs/design/004).
const SAFE_SEGMENT = /^[A-Za-z0-9._@=+-]+$/;

export function checkGuestPath(name: string): string[] {
  const parts = name.split('/');
  if (
    name.length === 0 ||
    name.length > 512 ||
    parts.some((p) => !SAFE_SEGMENT.test(p) || p === '.' || p === '..')
  ) {
    throw new Error(
      `invalid file name ${JSON.stringify(name)} (relative paths of [A-Za-z0-9._@=+-] segments only)`,
    );
  }
  return parts;
}

export function writeTree(FS: FSLike, root: string, files: Record<string, string | Uint8Array>): void {
  for (const [name, data] of Object.entries(files)) {
    const parts = checkGuestPath(name);
    const dir = [root, ...parts.slice(0, -1)].join('/');
    FS.mkdirTree(dir);
    FS.writeFile(`${root}/${name}`, data);
  }
}

const API_KEYS = [
  '_module',
  '_api',
  'FS',
  'PATH',
  'ERRNO_CODES',
  'mountNodeFS',
  'mountNativeFS',
  'registerJsModule',
  'unregisterJsModule',
  'runPython',
  'runPythonAsync',
  'pyimport',
  'loadPackage',
  'loadPackagesFromImports',
  'globals',
  'pyodide_py',
  'ffi',
  'setStdin',
  'setStdout',
  'setStderr',
  'registerComlink',
  'makeMemorySnapshot',
  'toPy',
  'unpackArchive',
  'canvas',
  'loadedPackages',
  'setInterruptBuffer',
  'checkInterrupt',
  'setDebug',
];

interface SocketsModule {
  SOCKFS?: { websocket_sock_ops?: { listen?: unknown } };
}

/**
 * Emscripten's listen() starts a WebSocket server through `require("ws")`, which the lockdown
 * takes away: the call threw through the interpreter and ended the sandbox, and so did
 * socket.socketpair(), which Python emulates with a listening socket. Listening now fails with
 * EACCES (PermissionError), like every other way out of the sandbox's network.
 */
export function refuseListening(py: PyodideAPI): void {
  const ops = (py as unknown as { _module: SocketsModule })._module.SOCKFS?.websocket_sock_ops;
  if (!ops) throw new Error("Emscripten's socket layer (SOCKFS) was not found: cannot disarm listen()");
  const { ErrnoError } = py.FS as unknown as { ErrnoError: new (errno: number) => Error };
  const eacces = (py as unknown as { ERRNO_CODES: Record<string, number> }).ERRNO_CODES.EACCES!;
  ops.listen = function listenDenied(): never {
    throw new ErrnoError(eacces);
  };
}

/** Called after the host has taken its own references: nothing here is needed afterwards. */
export function lockPyodideApi(py: PyodideAPI): void {
  const FS = py.FS as unknown as FSLike;
  for (const fsName of ['NODEFS', 'NODERAWFS', 'IDBFS', 'WORKERFS', 'PROXYFS', 'NATIVEFS_ASYNC']) {
    delete FS.filesystems[fsName];
  }
  FS.mount = function mountDenied(): never {
    throw new Error('mounting is disabled in the Eunha sandbox');
  };
  const mod = (py as unknown as { _module: Record<string, unknown> })._module;
  for (const key of ['FS', 'NODEFS', 'mountNodeFS', 'ENV', 'API']) delete mod[key];
  const api = py as unknown as Record<string, unknown>;
  for (const key of API_KEYS) {
    try {
      delete api[key];
    } catch {
      // Frozen or accessor-only keys: overwrite when possible, otherwise leave to deeper layers.
    }
  }
}
