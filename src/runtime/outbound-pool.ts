// The connections the server keeps for functions' outbound calls (outbound-http.ts), bounded
// whatever remotes answer and however many origins functions name: a review's function named
// thousands of origins whose server asked for 600 s of keep-alive, each kept an idle socket of
// its own in undici's Agent, and the server ran out of file descriptors (EMFILE) for every tenant.

import type { Duplex } from 'node:stream';
import { Client, Dispatcher } from 'undici';

/**
 * Idle connections kept for reuse, in all and to one origin. Sockets of calls under way are
 * bounded by the calls at once (one a sandbox), so these bound the rest. 32 fits the default
 * 32 instances each calling one API in turn; a burst to one host keeps only a few.
 */
export const MAX_IDLE_SOCKETS = 32;
export const MAX_IDLE_SOCKETS_PER_ORIGIN = 4;
/** The longest an idle connection is kept: undici lets a remote's Keep-Alive raise it to 10 min. */
export const IDLE_SOCKET_MS = 4_000;

/**
 * A connection a call at a time, kept idle afterwards within MAX_IDLE_SOCKETS (the least recently
 * used closed first) and MAX_IDLE_SOCKETS_PER_ORIGIN, for at most the client's keep-alive. A call
 * with no idle connection to its origin gets a new one, never a queue: one tenant's hanging calls
 * must not hold up another's to the same host. undici's Agent has neither bound (a Pool an origin,
 * kept for good, each with the idle sockets of its busiest moment).
 */
export class Connections extends Dispatcher {
  private readonly all = new Set<Connection>();
  /** Oldest first. */
  private readonly idle = new Set<Connection>();
  private readonly idleByOrigin = new Map<string, Set<Connection>>();
  private ended = false;

  constructor(private readonly clientOptions: Client.Options) {
    super();
  }

  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandlers): boolean {
    if (this.ended) {
      handler.onError?.(new Error('the outbound client is closed'));
      return false;
    }
    const origin = String(options.origin);
    let conn = this.takeIdle(origin);
    if (!conn) {
      const c: Connection = { origin, client: new Client(origin, this.clientOptions), connected: false };
      c.client.on('connect', () => (c.connected = true));
      c.client.on('disconnect', () => {
        c.connected = false;
        // Closed by the remote or by its keep-alive running out: nothing to reuse.
        if (this.idle.has(c)) this.drop(c);
      });
      this.all.add(c);
      conn = c;
    }
    return conn.client.dispatch(options, new Release(handler, (ok) => this.release(conn, ok)));
  }

  private takeIdle(origin: string): Connection | undefined {
    const mine = this.idleByOrigin.get(origin);
    if (!mine) return undefined;
    // The newest: the furthest from its keep-alive's end.
    let conn: Connection | undefined;
    for (const c of mine) conn = c;
    this.unidle(conn!);
    return conn;
  }

  private release(conn: Connection, ok: boolean): void {
    // A failed call may have left its connection mid-message.
    if (!ok || !conn.connected || this.ended) return this.drop(conn);
    let mine = this.idleByOrigin.get(conn.origin);
    if (!mine) this.idleByOrigin.set(conn.origin, (mine = new Set()));
    mine.add(conn);
    this.idle.add(conn);
    if (mine.size > MAX_IDLE_SOCKETS_PER_ORIGIN) this.drop(mine.values().next().value!);
    while (this.idle.size > MAX_IDLE_SOCKETS) this.drop(this.idle.values().next().value!);
  }

  private unidle(conn: Connection): void {
    this.idle.delete(conn);
    const mine = this.idleByOrigin.get(conn.origin);
    if (mine?.delete(conn) && mine.size === 0) this.idleByOrigin.delete(conn.origin);
  }

  private drop(conn: Connection): void {
    this.unidle(conn);
    if (!this.all.delete(conn)) return;
    // Not from inside the client's own callbacks, which go on using its state.
    setImmediate(() => void conn.client.destroy().catch(() => {}));
  }

  override close(): Promise<void>;
  override close(callback: () => void): void;
  override close(callback?: () => void): Promise<void> | void {
    return this.end(callback);
  }

  override destroy(): Promise<void>;
  override destroy(err: Error | null): Promise<void>;
  override destroy(callback: () => void): void;
  override destroy(err: Error | null, callback: () => void): void;
  override destroy(a?: Error | null | (() => void), b?: () => void): Promise<void> | void {
    return this.end(typeof a === 'function' ? a : b);
  }

  /** Ends every connection, calls under way too. */
  private end(callback?: () => void): Promise<void> | void {
    this.ended = true;
    const clients = [...this.all].map((c) => c.client);
    this.all.clear();
    this.idle.clear();
    this.idleByOrigin.clear();
    const done = Promise.all(clients.map((c) => c.destroy().catch(() => {}))).then(() => {});
    if (!callback) return done;
    void done.then(callback);
  }
}

interface Connection {
  readonly origin: string;
  readonly client: Client;
  connected: boolean;
}

/** Passes a call's events on, and says once whether it ended whole (its connection reusable). */
class Release implements Dispatcher.DispatchHandlers {
  private released = false;

  constructor(
    private readonly handler: Dispatcher.DispatchHandlers,
    private readonly done: (ok: boolean) => void,
  ) {}

  private once(ok: boolean): void {
    if (this.released) return;
    this.released = true;
    this.done(ok);
  }

  onConnect(abort: (err?: Error) => void): void {
    this.handler.onConnect?.(abort);
  }
  onError(err: Error): void {
    this.once(false);
    this.handler.onError?.(err);
  }
  onUpgrade(statusCode: number, headers: Buffer[] | string[] | null, socket: Duplex): void {
    // The socket is the caller's now.
    this.once(false);
    this.handler.onUpgrade?.(statusCode, headers, socket);
  }
  onResponseStarted(): void {
    this.handler.onResponseStarted?.();
  }
  onHeaders(statusCode: number, headers: Buffer[], resume: () => void, statusText: string): boolean {
    return this.handler.onHeaders?.(statusCode, headers, resume, statusText) ?? true;
  }
  onData(chunk: Buffer): boolean {
    return this.handler.onData?.(chunk) ?? true;
  }
  onComplete(trailers: string[] | null): void {
    this.once(true);
    this.handler.onComplete?.(trailers);
  }
  onBodySent(chunkSize: number, totalBytesSent: number): void {
    this.handler.onBodySent?.(chunkSize, totalBytesSent);
  }
}
