// Public API of the runtime module: the Runtime and the shapes the pipeline hands in and gets back.
export { Runtime } from './runtime.js';
export type {
  FunctionVersion,
  InvokeRequest,
  InvokeResult,
  InvokeErrorCode,
  RuntimeOptions,
  RuntimeStats,
  VersionStats,
  Logger,
} from './types.js';
export { MAX_LINES, MAX_OUTPUT_BYTES } from './output.js';
