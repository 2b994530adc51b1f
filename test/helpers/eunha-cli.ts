// Runs the built `eunha` command and collects what it printed and its exit code: as a user would,
// in a child process (for the tests of test/cli/ that talk to a real server process), or in this
// process through `run` (for those that talk to a stand-in server).

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { run } from '../../src/cli/run.js';

export const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export interface CliRun {
  code: number | null;
  out: string;
  err: string;
}

/** `eunha ARGS…` with only PATH and `env` in its environment. */
export function runCli(args: string[], env: Record<string, string>): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH ?? '', ...env } });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    // 'close', not 'exit': the output may still be in the pipes when the process exits.
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

/** `eunha ARGS…` in this process, with `env` as its whole environment. */
export async function runCliInProcess(args: string[], env: Record<string, string>): Promise<CliRun> {
  let out = '';
  let err = '';
  const code = await run(args, env, { out: (l) => (out += l + '\n'), err: (l) => (err += l + '\n') });
  return { code, out, err };
}
