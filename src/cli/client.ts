// The CLI's only way to the platform: Eunha's own REST API over HTTP (undici's fetch, built into
// Node), with the caller's key. API errors arrive in the seed's envelope and become an ApiError
// that says code, status and message; a server that cannot be reached says so with its address.

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** A Python traceback the server sent with the error (code that does not load). */
    readonly traceback?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** One server-sent event of a live tail: its name ('message' when unnamed) and its data. */
export interface TailEvent {
  event: string;
  data: string;
}

export class ApiClient {
  constructor(
    readonly baseUrl: string,
    private readonly key: string | undefined,
  ) {}

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { ...(this.key ? { authorization: `Bearer ${this.key}` } : {}), ...extra };
  }

  private async send(
    method: string,
    path: string,
    body?: unknown,
    accept = 'application/json',
  ): Promise<Response> {
    const url = new URL(path, this.baseUrl);
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: this.headers({
          accept,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        }),
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (e) {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      throw new ApiError(
        0,
        'UNREACHABLE',
        `cannot reach ${this.baseUrl}: ${cause?.code ?? cause?.message ?? String(e)}`,
      );
    }
    if (res.ok) return res;
    const text = await res.text();
    let code = `HTTP_${res.status}`;
    let message = text.slice(0, 500) || res.statusText;
    let traceback: string | undefined;
    try {
      const err = (
        JSON.parse(text) as {
          error?: { code?: unknown; message?: unknown; details?: { traceback?: unknown } };
        }
      ).error;
      if (typeof err?.code === 'string') code = err.code;
      if (typeof err?.message === 'string') message = err.message;
      if (typeof err?.details?.traceback === 'string') traceback = err.details.traceback;
    } catch {
      // Not the envelope (a proxy's page): the start of the body says what happened.
    }
    throw new ApiError(res.status, code, message, traceback);
  }

  /** The answer's JSON (undefined for 204). */
  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.send(method, path, body);
    if (res.status === 204) return undefined as T;
    return (await res.json()) as T;
  }

  /** The events of a text/event-stream answer, until the server ends it. */
  async *events(path: string): AsyncGenerator<TailEvent> {
    const res = await this.send('GET', path, undefined, 'text/event-stream');
    if (!res.body) return;
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of res.body) {
      buffer += decoder.decode(chunk as Uint8Array, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let event = 'message';
        const data: string[] = [];
        for (const line of block.split('\n')) {
          if (line.startsWith('event:')) event = line.slice(6).trim();
          else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
        }
        // Comments (": keep-alive") carry no data.
        if (data.length > 0) yield { event, data: data.join('\n') };
      }
    }
  }
}
