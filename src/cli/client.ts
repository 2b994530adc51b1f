// The CLI's only way to the platform: Eunha's own REST API over HTTP (undici's fetch, built into
// Node), with the caller's key. API errors arrive in the seed's envelope and become an ApiError
// that says code, status and message; a server that cannot be reached, or that answers something
// that is not Eunha's JSON, says so too. Nothing here ever prints the key.

export class ApiError extends Error {
  constructor(
    /** 0 when no HTTP answer came. */
    readonly status: number,
    readonly code: string,
    message: string,
    /** A Python traceback the server sent with the error (code that does not load). */
    readonly traceback?: string,
    /** The execution log of a run that failed (`details.logId` of a TIMEOUT, a crash). */
    readonly logId?: string,
    /** The error's `details`: only Eunha's own envelope carries them (never a proxy's page). */
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  /** What the command did about the error (a deploy undone), printed after it, a line each. */
  readonly notes: string[] = [];

  /** `CODE (status): message`, as the CLI reports it. */
  get line(): string {
    return `${this.code}${this.status ? ` (${this.status})` : ''}: ${this.message}`;
  }
}

/**
 * One server-sent event of a live tail: its name ('message' when unnamed), its data, and the
 * stream's last event id so far (an `id:` line sets it for the events after it too, as in SSE).
 */
export interface TailEvent {
  event: string;
  data: string;
  id?: string;
}

/** Failures to connect at all, as opposed to a request that may have reached the server. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

export class ApiClient {
  private readonly base: string;

  constructor(
    baseUrl: string,
    private readonly key: string | undefined,
  ) {
    // A server behind a path prefix (https://host/eunha) keeps it.
    this.base = baseUrl.replace(/\/+$/, '');
  }

  private async send(
    method: string,
    path: string,
    body?: unknown,
    accept = 'application/json',
    extraHeaders: Record<string, string> = {},
  ): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(this.base + path, {
        method,
        headers: {
          accept,
          ...extraHeaders,
          ...(this.key ? { authorization: `Bearer ${this.key}` } : {}),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (e) {
      // Only the cause's code: the error's own text may quote a header, and so the key.
      const cause = (e as { cause?: { code?: unknown; message?: unknown } }).cause;
      const code = cause?.code;
      if (typeof code === 'string' && UNREACHABLE.has(code))
        throw new ApiError(0, 'UNREACHABLE', `cannot reach ${this.base}: ${code}`);
      // fetch refuses some ports outright (6000, 6665–6669, 10080…): nothing was sent.
      if (cause?.message === 'bad port')
        throw new ApiError(0, 'UNREACHABLE', `cannot reach ${this.base}: fetch refuses that port`);
      throw new ApiError(
        0,
        'REQUEST_FAILED',
        `the request to ${this.base} failed (${typeof code === 'string' ? code : 'no answer'}); it may have been applied`,
      );
    }
    if (res.ok) return res;
    const text = await this.text(res);
    let code = `HTTP_${res.status}`;
    let message = text.slice(0, 500) || res.statusText;
    let traceback: string | undefined;
    let logId: string | undefined;
    let details: Record<string, unknown> | undefined;
    try {
      const err = (JSON.parse(text) as { error?: { code?: unknown; message?: unknown; details?: unknown } })
        .error;
      if (typeof err?.code === 'string') code = err.code;
      if (typeof err?.message === 'string') message = err.message;
      if (err?.details !== null && typeof err?.details === 'object' && !Array.isArray(err.details)) {
        details = err.details as Record<string, unknown>;
        if (typeof details.traceback === 'string') traceback = details.traceback;
        if (typeof details.logId === 'string') logId = details.logId;
      }
    } catch {
      // Not the envelope (a proxy's page): the start of the body says what happened.
    }
    // The bare "larger than the configured limit" did not say what the limit is.
    if (code === 'PAYLOAD_TOO_LARGE' && typeof details?.limit === 'number')
      message += ` (at most ${details.limit} bytes)`;
    throw new ApiError(res.status, code, message, traceback, logId, details);
  }

  private async text(res: Response): Promise<string> {
    try {
      return await res.text();
    } catch {
      throw new ApiError(res.status, 'STREAM_LOST', `the answer from ${this.base} was cut off`);
    }
  }

  /** The answer's JSON (undefined for 204). */
  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.send(method, path, body);
    if (res.status === 204) return undefined as T;
    const text = await this.text(res);
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ApiError(
        res.status,
        'BAD_RESPONSE',
        `${this.base} did not answer with JSON: is it an Eunha server?`,
      );
    }
  }

  /** A JSON array answer (a list), checked to be one. */
  async list<T>(path: string): Promise<T[]> {
    const v = await this.request<unknown>('GET', path);
    if (!Array.isArray(v))
      throw new ApiError(200, 'BAD_RESPONSE', `${this.base}${path} did not answer with a list`);
    return v as T[];
  }

  /**
   * The events of a text/event-stream answer, until the server ends it; `lastEventId` resumes a
   * stream after the last event it had (SSE's Last-Event-ID); `onOpen` hears that the stream began.
   */
  async *events(path: string, lastEventId?: string, onOpen?: () => void): AsyncGenerator<TailEvent> {
    const res = await this.send(
      'GET',
      path,
      undefined,
      'text/event-stream',
      lastEventId === undefined ? {} : { 'last-event-id': lastEventId },
    );
    let id = lastEventId;
    if (!res.body || !(res.headers.get('content-type') ?? '').startsWith('text/event-stream'))
      throw new ApiError(res.status, 'BAD_RESPONSE', `${this.base} did not answer with an event stream`);
    onOpen?.();
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of res.body) {
        // Line ends may be CRLF or CR (a proxy's); a CR at the end may be half of a CRLF.
        buffer = (buffer + decoder.decode(chunk as Uint8Array, { stream: true })).replace(
          /\r\n|\r(?!$)/g,
          '\n',
        );
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let event = 'message';
          const data: string[] = [];
          for (const line of block.split('\n')) {
            if (line.startsWith('event:')) event = line.slice(6).trim();
            else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
            else if (line.startsWith('id:')) id = line.slice(3).replace(/^ /, '');
          }
          // Comments (": keep-alive") carry no data.
          if (data.length > 0) yield { event, data: data.join('\n'), ...(id === undefined ? {} : { id }) };
        }
      }
    } catch (e) {
      if (e instanceof ApiError) throw e;
      throw new ApiError(0, 'STREAM_LOST', `the live tail from ${this.base} was cut off`);
    }
  }
}
