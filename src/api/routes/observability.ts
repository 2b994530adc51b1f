// Metrics and logs in the shapes existing tools read: GET /metrics (Prometheus text format) and
// the seed's GET /api/functions/{fn}/metrics and /loki-logs, answered from embedded data.

import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { METRICS, type Scopes } from '../../auth/policy.js';
import { invalid, notFound } from '../../core/errors.js';
import { PAGE_MAX_BYTES, type PageKey } from '../../core/page-cursor.js';
import type { ExecutionLog, LogFilter } from '../../core/types.js';
import type { Clock } from '../../core/ids.js';
import { ErrorBody } from '../../core/schemas.js';
import { functionMetrics, lokiEntries, type LokiRange } from '../../observability/function-metrics.js';
import type { Metrics } from '../../observability/metrics.js';
import type { MetadataStore } from '../../store/ports.js';

const FnParams = Type.Object({ function_id: Type.String() });
const Point = Type.Object({
  timestamp: Type.Number({ description: 'Unix seconds (the start of the minute), as Prometheus gives them' }),
  value: Type.Number(),
});

/** loki-logs reads at most this many of a function's newest invocations to find its lines. */
const LOKI_SCAN_MAX = 5_000;
/**
 * And at most this much of their stored JSON a read, as a page of /logs does: at 16 MiB, a
 * review's ~2 requests/s of limit=5000 over large logs held /health for everyone at 0.74 s (p50),
 * up to 3.7 s.
 */
const LOKI_SCAN_BYTES = PAGE_MAX_BYTES;

export async function observabilityRoutes(
  base: FastifyInstance,
  deps: { meta: MetadataStore; metrics: Metrics; clock: Clock },
  scope: Scopes,
): Promise<void> {
  const app = base.withTypeProvider<TypeBoxTypeProvider>();
  const requireFn = async (id: string) => {
    const fn = await deps.meta.findFunction(id);
    if (!fn) throw notFound('Function', id);
    return fn;
  };

  // Platform-wide figures (every function's counts): the operator's, so the admin key's.
  app.get(
    '/metrics',
    {
      config: { auth: METRICS },
      schema: {
        tags: ['System'],
        summary: 'Prometheus metrics (text exposition format; the admin key or the metrics token)',
        response: {
          200: {
            description: 'Prometheus text exposition format 0.0.4',
            content: { 'text/plain': { schema: { type: 'string' } } },
          },
        },
      },
    },
    async (_req, reply) => reply.type(deps.metrics.registry.contentType).send(await deps.metrics.text()),
  );

  app.get(
    '/api/functions/:function_id/metrics',
    {
      config: { auth: scope.functionParam },
      schema: {
        tags: ['Logs'],
        summary: 'CPU, invocations, errors and duration of a function over the last hour',
        description:
          'cpu_total is CPU seconds used in the window; cpu_series is average cores used per minute, from the CPU time measured for each invocation.',
        params: FnParams,
        response: {
          200: Type.Object({
            status: Type.String(),
            function_id: Type.String(),
            data: Type.Object({
              window_seconds: Type.Integer(),
              cpu_total: Type.Number(),
              cpu_series: Type.Array(Point),
              invocations_total: Type.Integer(),
              errors_total: Type.Integer(),
              invocation_series: Type.Array(Point),
              error_series: Type.Array(Point),
              duration_series: Type.Array(Point),
              instant_query: Type.String(),
              range_query: Type.String(),
            }),
          }),
          404: ErrorBody,
        },
      },
    },
    async (req) => {
      const fn = await requireFn(req.params.function_id);
      return functionMetrics(deps.meta, deps.clock, fn.id);
    },
  );

  // Invocations that printed nothing hold no lines: when the newest `limit` invocations hold
  // fewer than `limit` lines, read on from the last of them, further back (at most LOKI_SCAN_MAX
  // invocations in all, and LOKI_SCAN_BYTES of them a read, each a parsed row on the event loop).
  const newestLines = async (fnId: string, limit: number, range: LokiRange, window: LogFilter) => {
    let read = await deps.meta.listFunctionLogs(fnId, limit, window);
    let logs = lokiEntries(read, limit, range).entries;
    const last = read.at(-1);
    if (logs.length < limit && read.length === limit && limit < LOKI_SCAN_MAX && last) {
      const more = Math.min(limit * 10, LOKI_SCAN_MAX) - limit;
      read = read.concat(await deps.meta.listFunctionLogs(fnId, more, { ...window, before: keyOf(last) }));
      logs = lokiEntries(read, limit, range).entries;
    }
    return logs;
  };

  // The store lists newest first: the oldest lines of a range are those of its calls read from
  // its end back to its start, within one read's caps. Past them some of the range is left
  // unread, and its oldest lines are not known: a 400 rather than lines that skip some.
  const oldestLines = async (fnId: string, limit: number, range: LokiRange, window: LogFilter) => {
    const read = await deps.meta.listFunctionLogs(fnId, LOKI_SCAN_MAX, window);
    const { entries, reachedStart } = lokiEntries(read, limit, range, true);
    const last = read.at(-1);
    if (!reachedStart && last) {
      const older = await deps.meta.listFunctionLogs(fnId, 1, { ...window, before: keyOf(last) });
      if (older.length > 0)
        throw invalid(
          'start',
          `direction=forward reads the range from its end back to its start, at most ${LOKI_SCAN_MAX} calls and ${LOKI_SCAN_BYTES / 1024 / 1024} MiB of their stored logs; this one holds more: give a later start or an earlier end`,
        );
    }
    return entries;
  };

  app.get(
    '/api/functions/:function_id/loki-logs',
    {
      config: { auth: scope.functionParam },
      schema: {
        tags: ['Logs'],
        summary: 'Lines the function printed, newest first (or oldest first), in Loki’s shape',
        params: FnParams,
        querystring: Type.Object({
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 5000, default: 100 })),
          start: Type.Optional(
            Type.String({
              maxLength: 64,
              description:
                'Lines whose timestamp is at or after this time, to the nanosecond, read as Loki reads it: an integer of up to 10 digits is seconds since the epoch, a longer one nanoseconds, a decimal seconds, else RFC 3339 with its UTC offset (`Z`, `+09:00`; none is a 400, not the server’s local time); empty is not given',
            }),
          ),
          end: Type.Optional(
            Type.String({
              maxLength: 64,
              description:
                'Lines whose timestamp is before this time (Loki’s half-open [start, end)), in the forms `start` takes: paging back with `end` set to the oldest timestamp answered goes on from it',
            }),
          ),
          direction: Type.Optional(
            Type.String({
              maxLength: 16,
              description:
                '`backward` (the default): the newest `limit` lines of the range, newest first; `forward`: the oldest `limit`, oldest first. Either case, as Loki takes it; empty is not given. Forward reads the range from its end back to its start: one that holds more than a read takes (5,000 calls, 4 MiB of stored logs) is a 400',
            }),
          ),
        }),
        response: {
          200: Type.Object({
            logs: Type.Array(
              Type.Object({
                timestamp: Type.String({ description: 'ns since the epoch' }),
                line: Type.String(),
              }),
            ),
            total: Type.Integer(),
            function_id: Type.String(),
          }),
          400: ErrorBody,
          404: ErrorBody,
        },
      },
    },
    async (req) => {
      const fn = await requireFn(req.params.function_id);
      const limit = req.query.limit ?? 100;
      const range = { start: lokiTime(req.query.start, 'start'), end: lokiTime(req.query.end, 'end') };
      if (range.start !== undefined && range.end !== undefined && range.start >= range.end)
        throw invalid('start', 'start must be before end');
      const forward = lokiDirection(req.query.direction);
      const window = { ...storeWindow(range), maxBytes: LOKI_SCAN_BYTES };
      const logs = forward
        ? await oldestLines(fn.id, limit, range, window)
        : await newestLines(fn.id, limit, range, window);
      return { logs, total: logs.length, function_id: fn.id };
    },
  );
}

const keyOf = (log: ExecutionLog): PageKey => ({ timestamp: log.timestamp, id: log.id });

/** direction, as Loki reads it (either case; empty is not given): whether it is forward. */
function lokiDirection(value: string | undefined): boolean {
  const d = value?.toLowerCase();
  if (d === undefined || d === '' || d === 'backward') return false;
  if (d === 'forward') return true;
  throw invalid('direction', 'direction must be forward or backward');
}

const NS_PER_MS = 1_000_000n;

/** a / b rounded down (BigInt division rounds toward zero). */
const floorDiv = (a: bigint, b: bigint): bigint => (a % b !== 0n && a < 0n !== b < 0n ? a / b - 1n : a / b);

const isoOfMs = (ms: bigint): string => new Date(Number(ms)).toISOString();

/**
 * The invocations (stamped to the millisecond) that can hold a line of `range`, as the store
 * selects them. A line's timestamp is its call's millisecond plus its index (a call keeps at most
 * 1,001 lines), lowered below the line before where they meet: a call from before start's
 * millisecond has only lines before `start`, while calls of the millisecond after end's can have
 * lines lowered below `end` (two calls that began in the same millisecond). Lowering reaches
 * further back only past a million lines begun in one millisecond.
 */
function storeWindow(range: LokiRange): { since?: string; until?: string } {
  const out: { since?: string; until?: string } = {};
  if (range.start !== undefined) out.since = isoOfMs(floorDiv(range.start, NS_PER_MS));
  if (range.end !== undefined) {
    const until = floorDiv(range.end - 1n, NS_PER_MS) + 2n;
    if (until <= BigInt(MAX_DATE_MS)) out.until = isoOfMs(until);
  }
  return out;
}

/**
 * A Loki time parameter in ns since the epoch, read as Loki reads it (pkg/loghttp/params.go):
 * empty is not given; an integer of at most 10 digits is seconds since the epoch and a longer one
 * nanoseconds; a decimal is seconds; else RFC 3339. Digits past the nanosecond round up: a
 * timestamp is whole nanoseconds, and one at or after 1.5 ns is at or after 2 ns, as one before
 * 1.5 ns is before 2 ns.
 */
function lokiTime(value: string | undefined, field: string): bigint | undefined {
  if (value === undefined || value === '') return undefined;
  let ns: bigint | undefined;
  if (/^\d{1,10}$/.test(value)) {
    ns = BigInt(value) * 1_000_000_000n;
  } else if (/^\d{11,19}$/.test(value)) {
    ns = BigInt(value);
  } else if (/^\d{0,10}\.\d*$/.test(value) && value !== '.') {
    // Digit by digit, not as a float: 1700000000.0015 is not 1700000000.00149999….
    const [s = '', frac = ''] = value.split('.');
    ns = BigInt(s || '0') * 1_000_000_000n + fraction(frac);
  } else {
    ns = rfc3339(value);
  }
  if (ns === undefined || floorDiv(ns, NS_PER_MS) > BigInt(MAX_DATE_MS) || ns < MIN_DATE_NS)
    throw invalid(
      field,
      `${field} must be seconds (up to 10 digits, or a decimal) or nanoseconds since the epoch, or an RFC 3339 time`,
    );
  return ns;
}

/** The digits of a decimal fraction of a second, in ns: rounded up past the ninth. */
function fraction(digits: string): bigint {
  return BigInt(digits.slice(0, 9).padEnd(9, '0')) + (/[1-9]/.test(digits.slice(9)) ? 1n : 0n);
}

const RFC3339 = /^(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}:\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$/;

/**
 * An RFC 3339 date-time in ns since the epoch, undefined when it is not one. The offset is
 * required (Loki refuses a time without one, as /logs?since= does): read without one, the time
 * was the server's local time.
 */
function rfc3339(value: string): bigint | undefined {
  const m = RFC3339.exec(value);
  if (!m) return undefined;
  const [, date = '', time = '', frac = '', zone = 'Z'] = m;
  const base = Date.parse(`${date}T${time}Z`);
  // Date.parse rolls impossible fields over (February 30th is March 2nd): the fields must survive.
  if (Number.isNaN(base) || new Date(base).toISOString().slice(0, 19) !== `${date}T${time}`) return undefined;
  let offsetMs = 0;
  if (zone.length > 1) {
    const [h, min] = [Number(zone.slice(1, 3)), Number(zone.slice(4, 6))];
    if (h > 23 || min > 59) return undefined;
    offsetMs = (zone.startsWith('-') ? -1 : 1) * (h * 60 + min) * 60_000;
  }
  return BigInt(base - offsetMs) * NS_PER_MS + fraction(frac);
}

// The last instant a Date holds in the four-digit years that keys compare as text.
const MAX_DATE_MS = Date.parse('9999-12-31T23:59:59.999Z');
const MIN_DATE_NS = BigInt(Date.parse('0000-01-01T00:00:00.000Z')) * NS_PER_MS;
