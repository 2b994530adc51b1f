// The bytes of /fn request bodies the server holds in memory at once, all connections together
// and per client address (an IPv6 client per /64, which one host gets whole): counted as they
// arrive, given back when the answer has gone or the connection has closed; and the /fn routes'
// preParsing hook that does the counting (budgetHook).

import { Transform, type Readable } from 'node:stream';
import type { preParsingHookHandler } from 'fastify';
import { EunhaError } from '../core/errors.js';

/**
 * Why a bound at all: every body is held whole until the function gets it (up to the body cap,
 * 6 MiB), for as long as the client takes to send it (up to the request timeout, 120 s). A review's
 * 150 connections that stopped one byte short of a 6-MiB body took the server from 174 MB to
 * 1,023 MB in 3 s; 450, 2.2 GB, and every tenant's calls waited 10.6 s meanwhile.
 */
export interface BodyHold {
  /** Counts `bytes` more of a body whose length was not declared; throws when they do not fit. */
  grow(bytes: number): void;
  /** Gives every byte back; later calls (and later grows) do nothing. */
  release(): void;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** A /fn GET or HEAD body's hold, which the ingress counts as it reads the body; null otherwise. */
    fnBodyHold: BodyHold | null;
  }
}

const RETRY_AFTER_SECONDS = 1;

export class BodyBudget {
  private held = 0;
  private readonly byAddress = new Map<string, number>();

  /**
   * `perAddressBytes`: one address's share, so that one client (a review's script) cannot hold
   * it all and keep every other caller's bodies out.
   */
  constructor(
    readonly totalBytes: number,
    readonly perAddressBytes: number,
  ) {}

  /** Bytes held now, all addresses together (the eunha_fn_body_bytes gauge). */
  heldBytes(): number {
    return this.held;
  }

  /** Holds `bytes` for `address`, or throws RATE_LIMITED (its share) or SERVER_BUSY (the total). */
  take(address: string, bytes: number): BodyHold {
    this.add(address, bytes);
    let mine = bytes;
    let released = false;
    return {
      grow: (more) => {
        if (released) return;
        this.add(address, more);
        mine += more;
      },
      release: () => {
        if (released) return;
        released = true;
        this.remove(address, mine);
      },
    };
  }

  private add(address: string, bytes: number): void {
    const ours = this.byAddress.get(address) ?? 0;
    if (ours + bytes > this.perAddressBytes) {
      throw new EunhaError(
        'RATE_LIMITED',
        `request bodies from this address would hold more than ${this.perAddressBytes} bytes of the server's memory at once; send this one when one has finished`,
        { limit: this.perAddressBytes, retryAfterSeconds: RETRY_AFTER_SECONDS },
        { 'retry-after': String(RETRY_AFTER_SECONDS) },
      );
    }
    if (this.held + bytes > this.totalBytes) {
      throw new EunhaError(
        'SERVER_BUSY',
        `the server holds as many request bodies as it may (${this.totalBytes} bytes); retry in a moment`,
        { limit: this.totalBytes, retryAfterSeconds: RETRY_AFTER_SECONDS },
        { 'retry-after': String(RETRY_AFTER_SECONDS) },
      );
    }
    // Zero-byte holds (a chunked body before its first chunk) leave no entry behind.
    if (bytes === 0) return;
    this.byAddress.set(address, ours + bytes);
    this.held += bytes;
  }

  private remove(address: string, bytes: number): void {
    if (bytes === 0) return;
    this.held -= bytes;
    const left = (this.byAddress.get(address) ?? 0) - bytes;
    if (left > 0) this.byAddress.set(address, left);
    else this.byAddress.delete(address);
  }
}

/**
 * The share a client address counts against: the address itself, or for IPv6 its /64 (a host is
 * routinely given a whole /64, so per address it would have 2^64 shares).
 */
export function shareKey(ip: string): string {
  const bare = ip.replace(/%.*$/, '');
  if (!bare.includes(':') || /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(bare)) return bare;
  const [head = '', tail] = bare.split('::');
  const front = head === '' ? [] : head.split(':');
  const back = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups =
    tail === undefined
      ? front
      : [...front, ...Array<string>(Math.max(0, 8 - front.length - back.length)).fill('0'), ...back];
  return `${groups
    .slice(0, 4)
    .map((g) => g.toLowerCase().replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

/** A body, counted against its hold as it arrives; past the budget, the read fails. */
function counted(payload: Readable, hold: BodyHold): Readable {
  const out = new Transform({
    transform(chunk: Buffer, _encoding, next) {
      try {
        hold.grow(chunk.length);
      } catch (err) {
        return next(err as Error);
      }
      next(null, chunk);
    },
  });
  // pipe() passes no error on; Fastify listens for them on the stream it reads.
  payload.once('error', (err) => out.destroy(err));
  return payload.pipe(out);
}

/**
 * Counts a /fn body's bytes against the budget as they arrive (gateway/body-budget.ts); past it,
 * the read fails with the budget's error and the connection is closed after the answer
 * (api/close-unread.ts). What arrived, not what a Content-Length declares: reserving the declared
 * length let a client hold 6 MiB of budget with a request head alone, and ~43 heads from a few
 * addresses refused every tenant's bodies (a review). The hold goes back when the answer has gone
 * or the connection has closed, which covers completion, errors, aborts and the request timeout
 * alike; not when the body has arrived, since the function gets it whole and it lives on while
 * the call runs. Installed by the ingress (ingress.ts) on the /fn routes.
 */
export function budgetHook(bodies: BodyBudget, bodyLimitBytes: number): preParsingHookHandler {
  return (req, reply, payload, done) => {
    const length = req.headers['content-length'];
    const chunked = length === undefined && req.headers['transfer-encoding'] !== undefined;
    const declared = Number(length);
    // No body, or one over the cap, which is refused without being read.
    if (!chunked && !(declared > 0 && declared <= bodyLimitBytes)) return done(null, payload);
    const socket = req.raw.socket;
    // Already gone: its 'close' has been and will not come again to give the hold back.
    if (reply.raw.destroyed || socket.destroyed) return done(null, payload);
    let hold: BodyHold;
    try {
      hold = bodies.take(shareKey(req.ip), 0);
    } catch (err) {
      return done(err as EunhaError);
    }
    // The socket's too: an answer queued behind a pipelined one gets no 'close' of its own when
    // the connection drops.
    const release = (): void => {
      hold.release();
      reply.raw.off('close', release);
      socket.off('close', release);
    };
    reply.raw.once('close', release);
    socket.once('close', release);
    // Fastify leaves a GET or HEAD body unread; unparsedBody reads req.raw itself and counts it.
    if (req.method === 'GET' || req.method === 'HEAD') {
      req.fnBodyHold = hold;
      return done(null, payload);
    }
    done(null, counted(payload, hold));
  };
}
