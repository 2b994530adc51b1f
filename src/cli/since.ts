// `--since` of `eunha logs`: an age back from now or an RFC 3339 instant, checked as the server
// checks it, so that a bad one is a usage error here rather than the server's 400.

import { UsageError } from './args.js';

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
/** An RFC 3339 date-time as the server's schema takes it (ajv-formats' `date-time`): an offset is required. */
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-](\d{2}):?(\d{2}))$/;
const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Whether the server's `since` takes this text: a real day and time, with its offset. */
function isRfc3339(raw: string): boolean {
  const m = RFC3339.exec(raw);
  if (!m) return false;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const days = month === 2 && leap ? 29 : DAYS[month - 1];
  // No leap second (:60): the server takes one only at 23:59 UTC, and no log is stamped with one.
  return (
    days !== undefined &&
    day >= 1 &&
    day <= days &&
    hour <= 23 &&
    minute <= 59 &&
    second <= 59 &&
    (m[9] === undefined || (Number(m[9]) <= 23 && Number(m[10]) <= 59))
  );
}

/**
 * `--since`: an RFC 3339 instant as it is, or an age (`90s`, `15m`, `2h`, `7d`) back from `now`.
 * Checked here as the server checks it, so a bad one is a usage error (exit 2), not its 400: a
 * time without an offset (whose zone would be a guess), or an age reaching back before the year 1
 * (`999999d`), which has no four-digit year to send.
 */
export function sinceOf(raw: string, now: number): string {
  const age = /^(\d{1,6})([smhd])$/.exec(raw);
  if (age) {
    const at = new Date(now - Number(age[1]) * UNIT_MS[age[2]!]!).toISOString();
    if (!isRfc3339(at)) throw new UsageError(`--since ${raw} reaches back too far (before the year 1)`);
    return at;
  }
  if (isRfc3339(raw)) return raw;
  if (/^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(raw))
    throw new UsageError(
      `--since ${raw} has no UTC offset (its zone would be a guess): write it as 2026-11-27T09:00:00Z (UTC) or 2026-11-27T09:00:00+09:00`,
    );
  throw new UsageError(
    `--since takes an age (15m, 2h, 7d) or an RFC 3339 time with its offset (2026-11-27T09:00:00Z), got '${raw.slice(0, 40)}'`,
  );
}
