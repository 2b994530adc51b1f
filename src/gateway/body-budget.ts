// The bytes of /fn request bodies the server holds in memory at once, all connections together
// and per client address (an IPv6 client per /64, which one host gets whole): counted as they
// arrive, given back when the answer has gone or the connection has closed.

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
