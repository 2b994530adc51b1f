// `eunha logs --follow` across what a long-lived connection goes through: a server restart or
// deploy, a network blip, a proxy's 502–504, the workspace's tail cap (429), a server that is not
// up yet when the command starts. This module owns the reconnect loop: which failures are worth
// waiting out, how long to wait between attempts, resuming from the last entry received (the
// tail's Last-Event-ID, live-tail.ts) so nothing is printed twice or skipped, the notices on stderr
// (one when the tail is lost, one when it is back), and Ctrl-C, which is how a tail is meant to
// end (exit 0). Finding the function and printing an entry are the caller's (commands.ts).

import { setTimeout as sleep } from 'node:timers/promises';
import { ApiError, type ApiClient } from './client.js';
import type { Io } from './args.js';

export interface FollowOptions {
  /** The function's logs path (`/api/workspaces/…/functions/…/logs`); asked again until it answers. */
  locate: (api: ApiClient) => Promise<string>;
  /** How many of the latest logs come first. */
  limit: number;
  /** Prints one entry (the event's data, a log as JSON). */
  print: (data: string) => void;
  /** Stop trying after this long without a connection, and fail with the last error; 0: at once. */
  giveUpMs?: number | undefined;
  /** The stream is lost when nothing, not even a keep-alive, comes for this long. */
  idleMs?: number;
}

/** The server's page cap: a reconnect asks for all it missed, not only --limit of it. */
const RESUME_LIMIT = 1000;
/** The first wait, doubled after each failed attempt up to the cap (each with jitter). */
const FIRST_WAIT_MS = 250;
const MAX_WAIT_MS = 5000;
/** A Retry-After past this is waited for only this long: the tail should not look dead for hours. */
const MAX_RETRY_AFTER_MS = 5 * 60_000;
/** The server sends a keep-alive every 15 s; three missed means the connection is gone. */
const IDLE_MS = 45_000;
/** A connection counts as back once it brought an event, or stayed up this long. */
const STABLE_MS = 1000;

/** Answers worth waiting out: a proxy's "not now", or the tail cap (429). */
const TRANSIENT_STATUS = new Set([429, 502, 503, 504]);
/**
 * Network failures a restart or a blip causes. Not a TLS certificate refused, nor a port fetch
 * will not use: no amount of waiting mends those. ENOTFOUND too: a container's name is gone from
 * its network's DNS while it restarts.
 */
const TRANSIENT_NETWORK = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

function transient(e: unknown): e is ApiError {
  if (!(e instanceof ApiError)) return false;
  if (e.code === 'STREAM_LOST') return true;
  if (e.status === 0) return e.networkCode !== undefined && TRANSIENT_NETWORK.has(e.networkCode);
  return TRANSIENT_STATUS.has(e.status);
}

function messageOf(data: string): string | undefined {
  try {
    const m = (JSON.parse(data) as { message?: unknown }).message;
    return typeof m === 'string' ? m : undefined;
  } catch {
    return undefined;
  }
}

/** Follows until the function is deleted (0), Ctrl-C (0), a final error, or giving up (thrown). */
export async function follow(base: ApiClient, opts: FollowOptions, io: Io): Promise<number> {
  const stop = new AbortController();
  const interrupt = () => stop.abort();
  process.on('SIGINT', interrupt);
  try {
    return await reconnecting(base.until(stop.signal), stop.signal, opts, io);
  } catch (e) {
    // Whatever was under way when Ctrl-C came fails with it: that is no error.
    if (stop.signal.aborted) return 0;
    throw e;
  } finally {
    process.off('SIGINT', interrupt);
  }
}

async function reconnecting(
  api: ApiClient,
  stopped: AbortSignal,
  opts: FollowOptions,
  io: Io,
): Promise<number> {
  const { giveUpMs, idleMs = IDLE_MS } = opts;
  let path: string | undefined;
  let lastId: string | undefined;
  // Whether a stream was ever up for good: its backlog came, so a resume wants all it missed.
  let caughtUp = false;
  // The current run of failures: when it began, and whether stderr was told (the "lost" notice).
  let failingSince: number | undefined;
  let told = false;
  let wait = FIRST_WAIT_MS;
  for (;;) {
    let steady: NodeJS.Timeout | undefined;
    let settled = false;
    // A stream that opens and ends at once (a server on its way down) is not back: only one that
    // brought an event or stayed up a while ends the run of failures, and tells stderr so once.
    const back = () => {
      clearTimeout(steady);
      settled = true;
      failingSince = undefined;
      wait = FIRST_WAIT_MS;
      if (told) io.err(caughtUp ? 'eunha: reconnected' : 'eunha: connected');
      told = false;
      caughtUp = true;
    };
    try {
      path ??= await opts.locate(api);
      // Once a stream was up, the next one asks for all that was missed (after the last entry, or
      // all there is if none came), not --limit of it: a busy function outlogs 20 in one wait.
      const limit = caughtUp ? RESUME_LIMIT : opts.limit;
      const events = api.events(`${path}?limit=${limit}&follow=true`, {
        lastEventId: lastId,
        idleMs,
        onOpen: () => (steady = setTimeout(back, STABLE_MS)),
      });
      for await (const ev of events) {
        if (!settled) back();
        if (ev.event === 'log') {
          lastId = ev.id ?? lastId;
          opts.print(ev.data);
        } else if (ev.event === 'gap') {
          io.err(`eunha: ${messageOf(ev.data) ?? 'some logs were skipped'}`);
        } else if (ev.event === 'deleted') {
          io.err(`eunha: ${messageOf(ev.data) ?? 'the function was deleted'}`);
          return 0;
        } else if (ev.event === 'unauthorized') {
          throw new ApiError(401, 'UNAUTHORIZED', messageOf(ev.data) ?? 'the key is no longer valid');
        }
      }
      throw new ApiError(0, 'STREAM_LOST', 'the server ended the live tail');
    } catch (e) {
      if (stopped.aborted) return 0;
      if (!transient(e)) throw e;
      const now = Date.now();
      failingSince ??= now;
      const bounded = giveUpMs !== undefined;
      if (!told && (!bounded || giveUpMs > 0)) {
        told = true;
        const where = e.message.includes(api.base) ? '' : ` (${api.base})`;
        const how = bounded ? `for up to ${giveUpMs / 1000} s` : '(Ctrl-C to stop)';
        io.err(`eunha: ${e.line}${where}; ${caughtUp ? 'reconnecting' : 'retrying'} ${how}`);
      }
      // Equal jitter: half the wait fixed, half random, so tails cut off together come back apart.
      let delay = wait / 2 + (Math.random() * wait) / 2;
      if (e.retryAfterMs !== undefined) delay = Math.max(delay, Math.min(e.retryAfterMs, MAX_RETRY_AFTER_MS));
      if (bounded && now - failingSince + delay > giveUpMs) throw e;
      await sleep(delay, undefined, { signal: stopped });
      wait = Math.min(wait * 2, MAX_WAIT_MS);
    } finally {
      clearTimeout(steady);
    }
  }
}
