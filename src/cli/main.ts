#!/usr/bin/env node
// The `eunha` program (package.json "bin"): runs one command line with this process's arguments
// and environment (run.ts), and exits with its code.

import { run } from './run.js';

// `npm run eunha -- deploy app.py` runs this in the package's folder; files named on the command
// line are the caller's, relative to where npm was started. Only for that script: any other npm
// script of any package also passes INIT_CWD down, and must keep its own directory.
const env = process.env;
if (env.npm_lifecycle_event === 'eunha' && env.npm_package_name === 'eunha' && env.INIT_CWD) {
  try {
    process.chdir(env.INIT_CWD);
  } catch {
    // Gone meanwhile: paths stay relative to the package.
  }
}
// `eunha logs -f | head` closes the pipe: that is the end, not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

process.exitCode = await run(process.argv.slice(2), env, {
  out: (line) => process.stdout.write(line + '\n'),
  err: (line) => process.stderr.write(line + '\n'),
});
