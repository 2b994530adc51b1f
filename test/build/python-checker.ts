// A real checker for tests, until the sandbox runtime's checker is wired: the local python3
// parses app.py (a SyntaxError comes back as Python's own traceback) and requires a top-level
// `IncomingHandler` class. It does not run imports; the sandbox checker will.

import { spawn } from 'node:child_process';
import type { SourceChecker } from '../../src/build/index.js';
import type { SourceFiles } from '../../src/build/source.js';

const SCRIPT = `
import ast, sys, traceback
src = sys.stdin.buffer.read()
try:
    tree = compile(src, "app.py", "exec", ast.PyCF_ONLY_AST)
except SyntaxError:
    sys.stderr.write(traceback.format_exc())
    sys.exit(1)
if not any(isinstance(n, ast.ClassDef) and n.name == "IncomingHandler" for n in tree.body):
    sys.stderr.write("app.py does not define a class named IncomingHandler")
    sys.exit(1)
`;

export const pythonChecker: SourceChecker = {
  check(files: SourceFiles) {
    return new Promise((resolve, reject) => {
      const child = spawn('python3', ['-c', SCRIPT], { stdio: ['pipe', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
      child.on('error', reject);
      child.on('close', (code) => resolve(code === 0 ? { ok: true } : { ok: false, error: stderr.trim() }));
      child.stdin.end(Buffer.from(files['app.py'] ?? new Uint8Array()));
    });
  },
};

/** Wraps a checker to observe how many checks run at once. */
export function recordingChecker(inner: SourceChecker, holdMs = 0) {
  const stats = { current: 0, max: 0 };
  const checker: SourceChecker = {
    async check(files) {
      stats.current++;
      stats.max = Math.max(stats.max, stats.current);
      try {
        if (holdMs > 0) await new Promise((r) => setTimeout(r, holdMs));
        return await inner.check(files);
      } finally {
        stats.current--;
      }
    },
  };
  return { checker, stats };
}
