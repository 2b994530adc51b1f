// Which `runtime` names select which engine. The seed's default label is "Python 3.12"; plain
// names like "python" or "python3.12" select the same Python engine (CPython in Pyodide). An
// unknown name is refused with the list of supported ones.

import { invalid } from './errors.js';

export interface RuntimeChoice {
  engine: 'python';
  /** What the user wrote, kept for display (the seed echoed it back). */
  label: string;
}

export const DEFAULT_RUNTIME = 'Python 3.12';
export const SUPPORTED_RUNTIMES = ['Python 3.12', 'python', 'python3', 'python3.x (any 3.x label)'] as const;

const PYTHON = /^python\s*(3(\.\d{1,2})?)?$/i;

export function resolveRuntime(name: string): RuntimeChoice {
  const label = name.trim();
  if (PYTHON.test(label)) return { engine: 'python', label };
  throw invalid('runtime', `unsupported runtime '${name}'; supported: ${SUPPORTED_RUNTIMES.join(', ')}`, {
    supported: [...SUPPORTED_RUNTIMES],
  });
}
