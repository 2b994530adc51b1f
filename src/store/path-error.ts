// A start-up I/O failure that names the file it is about. SQLite's messages name none ("unable to
// open database file", "file is not a database"), so an operator could not tell which of the data
// directory's files, or which directory, the server had failed on.

/** `err` with `path` in front of its message, unless it names it already; its code is kept. */
export function namingPath(err: unknown, path: string): unknown {
  if (!(err instanceof Error) || err.message.includes(path)) return err;
  const named = new Error(`${path}: ${err.message}`, { cause: err });
  const code = (err as { code?: unknown }).code;
  if (code !== undefined) Object.assign(named, { code });
  return named;
}

/** Runs `open`; what it throws names `path`. */
export function openingPath<T>(path: string, open: () => T): T {
  try {
    return open();
  } catch (err) {
    throw namingPath(err, path);
  }
}
