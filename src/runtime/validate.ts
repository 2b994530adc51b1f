// Checks a FunctionVersion before any sandbox sees it: engine, entry module, file names and
// sizes, limits. Errors are VALIDATION_ERROR, the caller's fault.

import { invalid } from '../core/errors.js';
import { checkGuestPath } from './host/pyodide-setup.js';
import type { FunctionVersion } from './types.js';

export const MAX_CODE_BYTES = 16 * 1024 * 1024;

export function validateVersion(v: FunctionVersion): void {
  if (v.engine !== 'python') throw invalid('engine', `unsupported engine '${String(v.engine)}'`);
  if (!v.files['app.py']) throw invalid('files', "a Python function needs an entry module 'app.py'");
  let total = 0;
  for (const [name, data] of Object.entries(v.files)) {
    try {
      checkGuestPath(name);
    } catch (e) {
      throw invalid('files', e instanceof Error ? e.message : String(e));
    }
    total += data.length;
  }
  if (total > MAX_CODE_BYTES) throw invalid('files', `function files exceed ${MAX_CODE_BYTES} bytes`);
  if (!Number.isFinite(v.memoryMb) || v.memoryMb < 64 || v.memoryMb > 4096)
    throw invalid('memoryMb', 'memory must be 64..4096 MB');
  if (!Number.isFinite(v.timeoutMs) || v.timeoutMs < 1 || v.timeoutMs > 900_000)
    throw invalid('timeoutMs', 'timeout must be 1 ms..15 min');
  for (const [k, val] of Object.entries(v.env)) {
    if (typeof val !== 'string' || k.includes('=') || k.includes('\0') || val.includes('\0')) {
      throw invalid('env', `invalid environment variable '${k}'`);
    }
  }
}
