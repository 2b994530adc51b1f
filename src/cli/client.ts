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

  /** When no answer came: the network's error code (ECONNREFUSED, ECONNRESET, UND_ERR_SOCKET…). */
  networkCode?: string;
  /** How long the answer's Retry-After asked to wait, in ms (a 429 or 503 may carry one). */
  retryAfterMs?: number;

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

/** Options of a live tail's request (`events`). */
export interface EventsOptions {
  /** Resumes after the last event the client had (SSE's Last-Event-ID). */
  lastEventId?: string | undefined;
  /** Hears that the stream began. */
  onOpen?: () => void;
  /**
   * A stream that brings nothing for this long (not even a keep-alive comment) counts as lost: a
   * connection that died without a word (a laptop that slept, a NAT that forgot it) never ends.
   */
  idleMs?: number;
}

/** Retry-After as seconds or an HTTP date, in ms from now; undefined when absent or unreadable. */
function retryAfterOf(header: string | null): number | undefined {
  if (header === null) return undefined;
  const text = header.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

export class ApiClient {
  /** The server's address, as every message names it. */
  readonly base: string;

  constructor(
    baseUrl: string,
    private readonly key: string | undefined,
    /** Every request of this client ends when it aborts (a tail's Ctrl-C). */
    private readonly signal?: AbortSignal,
  ) {
    // A server behind a path prefix (https://host/eunha) keeps it.
    this.base = baseUrl.replace(/\/+$/, '');
  }

  /** The same server and key, with requests that end when `signal` aborts. */
  until(signal: AbortSignal): ApiClient {
    return new ApiClient(this.base, this.key, signal);
  }

  private async send(
    method: string,
    path: string,
    body?: unknown,
    accept = 'application/json',
    extraHeaders: Record<string, string> = {},
    signal = this.signal,
  ): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(this.base + path, {
        method,
        ...(signal ? { signal } : {}),
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
      const code = typeof cause?.code === 'string' ? cause.code : undefined;
      // fetch refuses some ports outright (6000, 6665–6669, 10080…): nothing was sent.
      if (cause?.message === 'bad port')
        throw new ApiError(0, 'UNREACHABLE', `cannot reach ${this.base}: fetch refuses that port`);
      const err =
        code !== undefined && UNREACHABLE.has(code)
          ? new ApiError(0, 'UNREACHABLE', `cannot reach ${this.base}: ${code}`)
          : new ApiError(
              0,
              'REQUEST_FAILED',
              `the request to ${this.base} failed (${code ?? 'no answer'}); it may have been applied`,
            );
      err.networkCode = code;
      throw err;
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
    const err = new ApiError(res.status, code, message, traceback, logId, details);
    err.retryAfterMs = retryAfterOf(res.headers.get('retry-after'));
    throw err;
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
    return (await this.tagged<T>(method, path, body)).body;
  }

  /**
   * The same, with the answer's ETag, and sent with `If-Match: ifMatch` when given: the write
   * then happens only if the resource is still as that tag says (412 PRECONDITION_FAILED if not).
   */
  async tagged<T>(
    method: string,
    path: string,
    body?: unknown,
    ifMatch?: string,
  ): Promise<{ body: T; etag: string | undefined }> {
    const res = await this.send(method, path, body, undefined, ifMatch ? { 'if-match': ifMatch } : {});
    return { body: await this.json<T>(res), etag: res.headers.get('etag') ?? undefined };
  }

  private async json<T>(res: Response): Promise<T> {
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
   * The events of a text/event-stream answer, until the server ends it. A stream that stays
   * silent past `idleMs` is cut here and reported lost, as a stream the network cut would be.
   */
  async *events(path: string, opts: EventsOptions = {}): AsyncGenerator<TailEvent> {
    const { lastEventId, onOpen, idleMs } = opts;
    // Also ends the request when the caller stops reading (a `deleted` event, an error): the
    // connection goes then, not when the server next writes.
    const own = new AbortController();
    const signal = this.signal ? AbortSignal.any([this.signal, own.signal]) : own.signal;
    let silent = false;
    const idle =
      idleMs === undefined
        ? undefined
        : setTimeout(() => {
            silent = true;
            own.abort();
          }, idleMs);
    const lost = (e: unknown): unknown =>
      silent
        ? new ApiError(0, 'STREAM_LOST', `no word from ${this.base} in ${idleMs! / 1000} s`)
        : e instanceof ApiError
          ? e
          : new ApiError(0, 'STREAM_LOST', `the live tail from ${this.base} was cut off`);
    try {
      let res: Response;
      try {
        res = await this.send(
          'GET',
          path,
          undefined,
          'text/event-stream',
          lastEventId === undefined ? {} : { 'last-event-id': lastEventId },
          signal,
        );
      } catch (e) {
        throw lost(e);
      }
      let id = lastEventId;
      if (!res.body || !(res.headers.get('content-type') ?? '').startsWith('text/event-stream'))
        throw new ApiError(res.status, 'BAD_RESPONSE', `${this.base} did not answer with an event stream`);
      onOpen?.();
      const decoder = new TextDecoder();
      let buffer = '';
      try {
        for await (const chunk of res.body) {
          idle?.refresh();
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
        throw lost(e);
      }
    } finally {
      clearTimeout(idle);
      own.abort();
    }
  }
}
