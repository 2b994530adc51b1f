// What a sandbox tells its parent about a step, rebuilt from what the guest answered. Guest code
// can write any frame to the bridge, so only the fields it may set are taken from it, and the
// code and status of a failure are the host's to decide (sandbox-thread.ts knows whether the
// deadline's interrupt was sent).

import { headersProblem, messageOf, tracebackOf } from '../answer-limits.js';
import type { Header } from '../protocol.js';

/**
 * The guest's answer to a request, rebuilt from the fields it may set. Guest code can write any
 * frame it likes (it can replace `_eunha_io.write_frame`), so it picks neither the error code nor
 * the status of an error: the host does. Once this thread has sent the deadline's interrupt, the
 * answer is TIMEOUT (504), whatever the guest did next; before it, an exception is FUNCTION_ERROR
 * (500), and a KeyboardInterrupt the handler raised itself is an ordinary exception. Headers past the caps (answer-limits.ts) make the
 * answer a FUNCTION_ERROR; a message or traceback past them is cut.
 */
export function guestResult(h: Header, timedOut: boolean): Header {
  // Past the deadline the call timed out, whatever the guest made of the interrupt: a bare
  // `except:` caught it and answered late (that was a 200 logged as a success), or raised
  // something else (a 500). Its printed lines still go with the answer.
  if (timedOut) {
    return {
      t: 'result',
      status: 504,
      headers: {},
      error: 'TIMEOUT',
      message: 'the function did not answer within its timeout',
      ...(h.error === undefined ? {} : { traceback: tracebackOf(h.traceback) }),
    };
  }
  if (h.error === undefined) {
    const problem = headersProblem(h.headers);
    if (problem === undefined) return { t: 'result', status: h.status, headers: h.headers };
    return {
      t: 'result',
      status: 500,
      headers: {},
      error: 'FUNCTION_ERROR',
      message: `the function returned an invalid response: ${problem}`,
    };
  }
  return {
    t: 'result',
    status: 500,
    headers: {},
    error: 'FUNCTION_ERROR',
    message: messageOf(h.message) ?? 'the function raised an exception',
    traceback: tracebackOf(h.traceback),
  };
}

/** Why a load failed when its module code ran into the deadline. */
export const loadOverrun = (ms: number): string =>
  `the function's module code did not finish within ${ms} ms`;

/**
 * The loader's answer (null: it gave none), from the fields it may set. After the deadline's
 * interrupt the failure is the deadline, and the traceback (which builds show) says so first.
 */
export function loadReply(h: Header | null, timedOut: boolean, loadMs: number): Header {
  if (h?.ok === true) return { t: 'loaded', ok: true };
  if (timedOut) {
    const error = loadOverrun(loadMs);
    return { t: 'loaded', ok: false, error, traceback: `${error}\n\n${tracebackOf(h?.traceback) ?? ''}` };
  }
  if (h === null) return { t: 'loaded', ok: false, error: 'the loader gave no answer' };
  return {
    t: 'loaded',
    ok: false,
    error: messageOf(h.error) ?? 'the function could not be loaded',
    traceback: tracebackOf(h.traceback),
  };
}
