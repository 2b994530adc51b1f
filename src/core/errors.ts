// The one error catalogue: every error Eunha answers with is an EunhaError whose code is listed
// here with its HTTP status and whose fault it is. The HTTP layer only maps; it never invents codes.

export interface ErrorSpec {
  status: number;
  /** 'user': the caller sent something wrong; 'platform': ours or a dependency's. */
  fault: 'user' | 'platform';
  description: string;
}

export const ERROR_CATALOGUE = {
  VALIDATION_ERROR: {
    status: 400,
    fault: 'user',
    description: 'The request is malformed or a field is invalid.',
  },
  BAD_JSON: { status: 400, fault: 'user', description: 'The request body is not valid JSON.' },
  UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    fault: 'user',
    description: 'The request body has a content type this route does not accept.',
  },
  PAYLOAD_TOO_LARGE: {
    status: 413,
    fault: 'user',
    description: 'The request body is larger than the configured cap.',
  },
  REQUEST_TIMEOUT: {
    status: 408,
    fault: 'user',
    description: 'The request did not arrive within the server’s deadline.',
  },
  HEADERS_TOO_LARGE: { status: 431, fault: 'user', description: 'The request’s header block is too large.' },
  UNAUTHORIZED: { status: 401, fault: 'user', description: 'No valid credentials were sent.' },
  FORBIDDEN: { status: 403, fault: 'user', description: 'The credentials do not allow this action.' },
  NOT_FOUND: { status: 404, fault: 'user', description: 'The resource does not exist.' },
  METHOD_NOT_ALLOWED: {
    status: 405,
    fault: 'user',
    description:
      'The function, or the API path, does not take this HTTP method (Allow lists those it takes).',
  },
  CONFLICT: { status: 409, fault: 'user', description: 'The request conflicts with the current state.' },
  PRECONDITION_FAILED: {
    status: 412,
    fault: 'user',
    description:
      'The function has changed since the version the request’s If-Match names; `details.etag` is its current tag.',
  },
  NOT_DEPLOYED: {
    status: 400,
    fault: 'user',
    description: 'The function has no active deployment (404 on the /fn ingress).',
  },
  FUNCTION_DISABLED: { status: 403, fault: 'user', description: 'The function is disabled.' },
  RATE_LIMITED: {
    status: 429,
    fault: 'user',
    description: 'Too many requests; retry after the given delay.',
  },
  TOO_MANY_REQUESTS: {
    status: 429,
    fault: 'platform',
    description:
      'Every instance of the function is busy, and the request could not wait longer: the line was full (64), or it had waited 5 s.',
  },
  CLIENT_CLOSED: {
    status: 499,
    fault: 'user',
    description: 'The caller closed the connection while the request waited for an instance; it was not run.',
  },
  FUNCTION_ERROR: { status: 500, fault: 'user', description: 'The function raised an exception.' },
  FUNCTION_LOAD_ERROR: {
    status: 500,
    fault: 'user',
    description: 'The function could not be loaded (syntax error, failing import, no handler).',
  },
  FUNCTION_CRASHED: {
    status: 502,
    fault: 'platform',
    description: 'The sandbox running the function died during the request.',
  },
  TIMEOUT: { status: 504, fault: 'user', description: 'The function did not answer within its timeout.' },
  QUOTA_EXCEEDED: {
    status: 507,
    fault: 'user',
    description:
      'Data would grow past its quota: a workspace’s stored code, uploads and artifacts, or a function’s key-value data (the guest sees Error_Other).',
  },
  DEPENDENCY_UNAVAILABLE: {
    status: 503,
    fault: 'platform',
    description: 'A dependency (store, registry, cluster) is unreachable.',
  },
  SHUTTING_DOWN: { status: 503, fault: 'platform', description: 'The server is shutting down.' },
  SERVER_BUSY: {
    status: 503,
    fault: 'platform',
    description:
      'The server holds as many function request bodies in memory as it may (EUNHA_FN_BODY_BUDGET_BYTES); the rest of the body was not read. Retry after Retry-After.',
  },
  NOT_READY: {
    status: 503,
    fault: 'platform',
    description:
      'The server runs but cannot serve all it should (GET /ready; details.checks says what), or a call waited its function’s timeout for the function to be loaded after a start (Retry-After).',
  },
  INTERNAL_ERROR: {
    status: 500,
    fault: 'platform',
    description: 'An unexpected error; it is logged with the request id.',
  },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export type ErrorDetails = Record<string, unknown>;

export class EunhaError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetails;
  /** Extra response headers, e.g. Retry-After for 429. */
  readonly headers: Record<string, string>;
  /** Set only where the contract gives one code two statuses (NOT_DEPLOYED: 400 on /invoke, 404 on /fn). */
  private readonly statusOverride: number | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    details: ErrorDetails = {},
    headers: Record<string, string> = {},
    statusOverride?: number,
  ) {
    super(message);
    this.name = 'EunhaError';
    this.code = code;
    this.details = details;
    this.headers = headers;
    this.statusOverride = statusOverride;
  }

  get status(): number {
    return this.statusOverride ?? ERROR_CATALOGUE[this.code].status;
  }

  toBody(): { error: { code: ErrorCode; message: string; details: ErrorDetails } } {
    return { error: { code: this.code, message: this.message, details: this.details } };
  }
}

/** A request body over the configured cap (Fastify's parser, or the ingress reading a GET body). */
export const bodyTooLarge = (extra: ErrorDetails = {}): EunhaError =>
  new EunhaError('PAYLOAD_TOO_LARGE', 'request body is larger than the configured limit', {
    field: 'body',
    ...extra,
  });

export const notFound = (what: string, id: string): EunhaError =>
  new EunhaError('NOT_FOUND', `${what} '${id}' not found`, { resource: what.toLowerCase(), id });

/** The runtime refuses new work once it is closing. */
export const shuttingDown = (): EunhaError => new EunhaError('SHUTTING_DOWN', 'the runtime is shutting down');

export const invalid = (field: string, message: string, extra: ErrorDetails = {}): EunhaError =>
  new EunhaError('VALIDATION_ERROR', message, { field, ...extra });
