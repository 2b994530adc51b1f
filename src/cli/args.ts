// The command line's own checks, shared by every command: the usage error (printed with the usage,
// exit 2), the options, and the readers of positional arguments, bounded numbers, the workspace and
// NAME=value pairs. Everything here is checked before anything is sent.

/** A mistake in the command line itself: the usage is printed with it (exit 2). */
export class UsageError extends Error {
  override name = 'UsageError';
}

export interface Io {
  out: (line: string) => void;
  err: (line: string) => void;
}

export interface Options {
  workspace?: string | undefined;
  name?: string | undefined;
  memory?: string | undefined;
  timeout?: string | undefined;
  env?: string[] | undefined;
  secret?: string[] | undefined;
  outbound?: string[] | undefined;
  data?: string | undefined;
  limit?: string | undefined;
  follow?: boolean | undefined;
  reconnect?: string | undefined;
  since?: string | undefined;
  errors?: boolean | undefined;
  delete?: string | undefined;
  json?: boolean | undefined;
}

/** The command's positional arguments, exactly `names.length` of them. */
export function positionals(args: string[], names: string[]): string[] {
  if (args.length < names.length) throw new UsageError(`missing ${names[args.length]}`);
  if (args.length > names.length) throw new UsageError(`unexpected argument '${args[names.length]}'`);
  return args;
}

export function intIn(raw: string | undefined, what: string, min: number, max: number): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < min || n > max)
    throw new UsageError(`${what} must be ${min}–${max}, got '${raw}'`);
  return n;
}

export function workspaceOf(o: Options): string {
  if (!o.workspace) throw new UsageError('missing --workspace (-w)');
  return o.workspace;
}

/** NAME=value pairs from repeated --env or --secret options. */
export function pairs(list: string[] | undefined, option: string): Record<string, string> | undefined {
  if (!list || list.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const p of list) {
    const i = p.indexOf('=');
    if (i <= 0) throw new UsageError(`${option} takes NAME=value, got '${p.slice(0, 40)}'`);
    out[p.slice(0, i)] = p.slice(i + 1);
  }
  return out;
}
