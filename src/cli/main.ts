#!/usr/bin/env node
// The `eunha` program (package.json "bin"): runs one command line with this process's arguments
// and environment (run.ts), and exits with its code.

import { run } from './run.js';

// `npm run eunha -- deploy app.py` runs this in the package's folder; files named on the command
// line are the caller's, relative to where npm was started.
if (process.env.INIT_CWD) process.chdir(process.env.INIT_CWD);

process.exitCode = await run(process.argv.slice(2), process.env, {
  out: (line) => process.stdout.write(line + '\n'),
  err: (line) => process.stderr.write(line + '\n'),
});
