// Starts the real server (`node dist/src/main.js`) as a child process on port 0 and learns its
// address from the start-up log line, as an operator would.

import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  output: () => string;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
}

const MAIN = fileURLToPath(new URL('../../src/main.js', import.meta.url));

/**
 * `cwd`: where relative paths (the default data directory) land; the test process's by default.
 * `group`: the server leads a process group of its own, as under a terminal or systemd, so that a
 * signal can be sent to the group (`process.kill(-pid, …)`).
 */
export function startServer(
  env: Record<string, string>,
  timeoutMs = 20_000,
  cwd?: string,
  group = false,
): Promise<ServerProcess> {
  const child = spawn(process.execPath, [MAIN], {
    cwd,
    detached: group,
    env: { PATH: process.env.PATH ?? '', EUNHA_PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server did not start within ${timeoutMs} ms:\n${out}`));
    }, timeoutMs);
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const m = /Eunha listening on (http:\/\/[^\s"]+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1]!, output: () => out, exited });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening:\n${out}`));
    });
  });
}
