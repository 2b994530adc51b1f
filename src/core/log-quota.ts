// What a function's stored execution logs count against its quota, the same for every metadata
// adapter: the UTF-8 bytes of a log's JSON plus a fixed overhead for its keys and index entries.
// Retention alone bounded logs by age, not by size, so a tenant whose function printed its 64 KiB
// on every call could fill the disk every tenant's records share long before a week was out.
// Past its quota a function's oldest logs go; its statistics do not change (they are per-minute
// sums kept apart from the logs, see store/ports.ts).

/** The default per-function quota (EUNHA_LOG_MAX_BYTES). */
export const DEFAULT_LOG_MAX_BYTES = 256 * 1024 * 1024;
/** Keys, secondary key and index entries of one stored log, roughly; keeps tiny logs from being free. */
export const LOG_ENTRY_OVERHEAD = 256;
export const logEntryBytes = (json: string): number => Buffer.byteLength(json) + LOG_ENTRY_OVERHEAD;
