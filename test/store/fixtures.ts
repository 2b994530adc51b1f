// Record builders for the store contract suites: complete, valid records with unique ids, so each
// test states only the fields it is about.
import { randomUUID } from 'node:crypto';
import { EunhaError, type ErrorCode } from '../../src/core/errors.js';
import type { BuildTask, Deployment, ExecutionLog, FunctionRecord, Workspace } from '../../src/core/types.js';

export const uid = (prefix: string): string => `${prefix}-${randomUUID()}`;

/** `base` shifted by `ms`, as the ISO string the platform stores. */
export const at = (base: Date, ms: number): string => new Date(base.getTime() + ms).toISOString();

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;

export function workspace(overrides: Partial<Workspace> = {}): Workspace {
  return {
    id: uid('ws'),
    name: 'demo',
    description: 'a workspace',
    createdAt: '2026-03-01T00:00:00.000Z',
    ...overrides,
  };
}

export function fn(workspaceId: string, overrides: Partial<FunctionRecord> = {}): FunctionRecord {
  const id = overrides.id ?? uid('fn');
  return {
    id,
    workspaceId,
    name: 'hello',
    description: null,
    runtime: 'python',
    runtimeLabel: 'Python 3.12',
    memory: 128,
    timeout: 30,
    httpMethods: ['GET', 'POST'],
    environmentVariables: { GREETING: 'hi', EMPTY: '' },
    codeKey: `functions/${workspaceId}/${id}/code.py`,
    codeSha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    invocationUrl: `http://127.0.0.1:8000/fn/${id}`,
    status: 'active',
    createdAt: '2026-03-01T00:00:00.000Z',
    lastModified: '2026-03-01T00:00:00.000Z',
    lastDeployed: null,
    ...overrides,
  };
}

export function task(workspaceId: string, overrides: Partial<BuildTask> = {}): BuildTask {
  return {
    taskId: uid('task'),
    workspaceId,
    appName: 'hello',
    kind: 'build',
    status: 'pending',
    sourcePath: `build-sources/${workspaceId}/x/app.py`,
    result: null,
    error: null,
    createdAt: '2026-03-01T00:00:00.000Z',
    updatedAt: '2026-03-01T00:00:00.000Z',
    ...overrides,
  };
}

export function log(f: FunctionRecord, overrides: Partial<ExecutionLog> = {}): ExecutionLog {
  return {
    id: uid('log'),
    functionId: f.id,
    workspaceId: f.workspaceId,
    timestamp: '2026-03-01T00:00:00.000Z',
    status: 'success',
    duration: 10,
    statusCode: 200,
    requestBody: { q: 'ping', nested: [1, null, true] },
    responseBody: 'pong',
    logs: ['line 1', 'line 2'],
    level: 'info',
    coldStart: false,
    deploymentVersion: 1,
    cpuMs: 3,
    ...overrides,
  };
}

/** What createDeployment takes for `f`: the store allocates version and sets active itself. */
export function deployment(
  f: FunctionRecord,
  overrides: Partial<Omit<Deployment, 'version' | 'active'>> = {},
): Omit<Deployment, 'version' | 'active'> {
  return {
    workspaceId: f.workspaceId,
    functionId: f.id,
    digest: 'a'.repeat(64),
    imageRef: `localhost/eunha/${f.id}@sha256:${'a'.repeat(64)}`,
    config: {
      runtime: f.runtime,
      memory: f.memory,
      timeout: f.timeout,
      environmentVariables: { ...f.environmentVariables },
    },
    createdAt: '2026-03-01T00:00:00.000Z',
    ...overrides,
  };
}

/** An assert.rejects predicate: an EunhaError with this code (and details.field, if given). */
export const eunhaError =
  (code: ErrorCode, field?: string) =>
  (err: unknown): boolean => {
    if (!(err instanceof EunhaError)) throw new Error(`expected EunhaError ${code}, got ${String(err)}`);
    if (err.code !== code) throw new Error(`expected ${code}, got ${err.code}: ${err.message}`);
    if (field !== undefined && err.details['field'] !== field) {
      throw new Error(`expected details.field=${field}, got ${String(err.details['field'])}`);
    }
    return true;
  };
