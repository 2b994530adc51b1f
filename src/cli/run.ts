// The `eunha` command line: options, dispatch to a command (commands.ts), and what is printed when
// something goes wrong. A client of a running server's REST API only (architecture: "cli/ — api
// client only"); its two settings, the server's URL and a key, come from options or from
// EUNHA_URL / EUNHA_API_KEY. Exit codes: 0 done; 1 the server refused, could not be reached or
// answered something unexpected (its code and message are printed, never a stack); 2 a mistake in
// the command line, an option the command does not take included (the usage follows); 3 `invoke`
// ran a function that raised, timed out or crashed.

import { parseArgs } from 'node:util';
import { ApiClient, ApiError } from './client.js';
import { UsageError, type Io, type Options } from './args.js';
import * as commands from './commands.js';
import { deploy } from './deploy.js';
import { printable } from './terminal-text.js';

const USAGE = `usage: eunha [--url URL] [--key KEY] [--json] <command> …

  workspaces                          list workspaces (id, name)
  workspaces create NAME              create one; prints its id
  functions -w WS                     list a workspace's functions
  deploy FILE.py -w WS [--name N] [--memory MB] [--timeout S] [--env K=V …] [--secret K=V …]
                    [--outbound URL …]
                                      create or update function N (default: the file's name;
                                      an id names that function) with this code, then build and
                                      deploy it; --env replaces all plain variables, --secret
                                      adds or replaces secret ones, --outbound replaces the hosts
                                      it may call (https://api.example.com; none: no host)
  invoke FN -w WS [--data JSON]       run FN (id or name) with a JSON body; prints its execution
                                      log and its answer as logged; exit 3 if it raised, timed
                                      out or crashed
  logs FN -w WS [--limit N] [--since T] [--errors] [--follow [--reconnect S]]
                                      its latest execution logs, oldest first (N ≤ 1000, default
                                      20); --since: only those of the last T (15m, 2h, 7d) or
                                      since an RFC 3339 time with its offset (…T09:00:00Z);
                                      --errors: only failed ones;
                                      --follow then streams each new one until Ctrl-C; when the
                                      server is down or the stream is cut off it says so, keeps
                                      trying and resumes exactly where it was (--reconnect S:
                                      give up after S seconds of trying; 0: at once)
  deployments FN -w WS                its deployed versions
  deployments FN -w WS --delete VERSION
                                      delete an inactive version (and its artifact, if nothing
                                      else names it): what makes room at the storage quota
  storage -w WS                       what the workspace stores, against its quota
  keys -w WS                          the workspace's API keys (id, name, prefix, created, last used)
  keys create NAME -w WS              a new key for the workspace's team; the key alone on stdout,
                                      shown this once
  keys revoke KEY_ID -w WS            revoke a key: it stops working at once
  rollback FN VERSION -w WS           make VERSION (3 or v3) the active one again, without a rebuild

  --url   the server (default $EUNHA_URL, else http://127.0.0.1:8000)
  --key   an API key or the admin key (default $EUNHA_API_KEY)
  --json  JSON instead of lines (logs: a list, oldest first; --follow: one log per line)`;

type Command = (api: ApiClient, args: string[], o: Options, io: Io) => Promise<number | void>;

/** Options every command takes. */
const GLOBAL = ['url', 'key', 'json', 'help'];

/**
 * Each command and the options it takes besides the global ones: one it does not take is refused
 * rather than ignored (`functions --delete app` listed functions and exited 0).
 */
const COMMANDS: Record<string, { run: Command; options: string[] }> = {
  workspaces: { run: commands.workspaces, options: [] },
  functions: { run: commands.functions, options: ['workspace'] },
  deploy: {
    run: deploy,
    options: ['workspace', 'name', 'memory', 'timeout', 'env', 'secret', 'outbound'],
  },
  invoke: { run: commands.invoke, options: ['workspace', 'data'] },
  logs: { run: commands.logs, options: ['workspace', 'limit', 'since', 'errors', 'follow', 'reconnect'] },
  deployments: { run: commands.deployments, options: ['workspace', 'delete'] },
  rollback: { run: commands.rollback, options: ['workspace'] },
  storage: { run: commands.storage, options: ['workspace'] },
  keys: { run: commands.keys, options: ['workspace'] },
};

/**
 * The server's address: http(s), and no credentials in it (they would be printed in messages), nor
 * a query or fragment: paths are appended to it, so `http://h:8000?x=1` sent every request to `/`
 * with a query of `x=1/api/…`.
 */
function serverUrl(raw: string, from: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`${from} is not a URL: '${raw}' (e.g. http://127.0.0.1:8000)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new UsageError(`${from} must be an http:// or https:// URL, got '${raw}'`);
  if (url.username || url.password) throw new UsageError(`${from} must not hold credentials: use --key`);
  // The raw text too: an empty query (`http://h:8000?`) leaves `search` empty.
  if (/[?#]/.test(raw))
    throw new UsageError(`${from} must be the server's address without a query or fragment, got '${raw}'`);
  return raw;
}

/** Runs one command line; resolves to the exit code. */
export async function run(
  argv: string[],
  env: Record<string, string | undefined>,
  terminal: Io,
): Promise<number> {
  const io: Io = { out: (l) => terminal.out(printable(l)), err: (l) => terminal.err(printable(l)) };
  try {
    const { values, positionals, tokens } = parseArgs({
      // `-w=ws-…` means what `--workspace=ws-…` does (parseArgs would read the value as '=ws-…').
      args: argv.flatMap((a) => (a.startsWith('-w=') ? ['-w', a.slice(3)] : [a])),
      allowPositionals: true,
      tokens: true,
      options: {
        url: { type: 'string' },
        key: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        workspace: { type: 'string', short: 'w' },
        name: { type: 'string' },
        memory: { type: 'string' },
        timeout: { type: 'string' },
        env: { type: 'string', multiple: true },
        secret: { type: 'string', multiple: true },
        outbound: { type: 'string', multiple: true },
        data: { type: 'string' },
        limit: { type: 'string' },
        follow: { type: 'boolean', short: 'f' },
        reconnect: { type: 'string' },
        since: { type: 'string' },
        errors: { type: 'boolean' },
        delete: { type: 'string' },
      },
    });
    const [name, ...args] = positionals;
    if (values.help || name === 'help') {
      io.out(USAGE);
      return 0;
    }
    if (name === undefined) throw new UsageError('no command');
    // Own entries only: `eunha toString` is no command.
    const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
    if (!command) throw new UsageError(`unknown command '${name}'`);
    // As typed (`-f` or `--follow`), so the message names what the user wrote.
    const stray = new Set(
      tokens.flatMap((t) =>
        t.kind === 'option' && !GLOBAL.includes(t.name) && !command.options.includes(t.name)
          ? [t.rawName]
          : [],
      ),
    );
    if (stray.size > 0) throw new UsageError(`${name} does not take ${[...stray].join(', ')}`);
    const url = serverUrl(
      values.url ?? env.EUNHA_URL ?? 'http://127.0.0.1:8000',
      values.url !== undefined ? '--url' : env.EUNHA_URL !== undefined ? 'EUNHA_URL' : 'the URL',
    );
    // A key read from a file ($(cat key)) may end with a newline; no key has white space.
    if (values.key !== undefined && values.key.trim() === '') throw new UsageError('--key is empty');
    const key = (values.key ?? env.EUNHA_API_KEY)?.trim() || undefined;
    // Never echoed: a key that cannot go in a header is refused without quoting it.
    if (key !== undefined && !/^[\x21-\x7e]+$/.test(key))
      throw new UsageError('the key must be printable ASCII without spaces (as Eunha issues them)');
    return (await command.run(new ApiClient(url, key), args, values, io)) ?? 0;
  } catch (e) {
    if (e instanceof ApiError) {
      io.err(`eunha: ${e.line}`);
      if (e.traceback) io.err(e.traceback.trimEnd());
      for (const note of e.notes) io.err(`eunha: ${note}`);
      return 1;
    }
    // parseArgs reports unknown or malformed options with errors carrying these codes.
    if (e instanceof UsageError || String((e as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS')) {
      io.err(`eunha: ${(e as Error).message}\n\n${USAGE}`);
      return 2;
    }
    // A bug, or an answer shaped unlike Eunha's: one line, no stack.
    io.err(`eunha: unexpected error: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
}
