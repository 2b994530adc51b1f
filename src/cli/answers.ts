// The answers the commands read, as far as they print them or go on with them, and the fields each
// must have before it is printed (answer-shape.ts checks them).

export interface Workspace {
  id: string;
  name: string;
}
export interface FunctionConfig {
  id: string;
  name: string;
  status: string;
  invocationUrl?: string | null;
  /** Set when every call fails whatever the code does (absent from servers before it). */
  unavailable?: { code: string; message: string } | null;
}
export interface Deployment {
  version: number;
  digest: string;
  active: boolean;
  createdAt: string;
  invocationUrl: string;
}
export interface ExecutionLog {
  id: string;
  timestamp: string;
  status: string;
  statusCode: number;
  duration: number;
  logs: string[];
  responseBody?: unknown;
}

/** The fields of a function the commands print or go on with. */
export const FUNCTION_FIELDS = { id: 'string', name: 'string', status: 'string' } as const;
/** The fields of a deployment the commands print. */
export const DEPLOYMENT_FIELDS = { version: 'number', digest: 'string' } as const;

/** A function id: `fn-` and 8 lower-case letters or digits. */
export const ID = /^fn-[a-z0-9]{8}$/;
