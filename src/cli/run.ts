// The `eunha` command: a client of a running Eunha server's REST API (architecture: "cli/ — api
// client only"). Reads its two settings, the server's URL and a key, from options or from
// EUNHA_URL / EUNHA_API_KEY. Exit codes: 0 done, 1 the server refused or could not be reached
// (its error code and message are printed), 2 a mistake in the command line (usage printed).

import { parseArgs } from 'node:util';
import { ApiClient, ApiError } from './client.js';
import * as commands from './commands.js';
import { UsageError, type Io, type Options } from './commands.js';

const USAGE = `usage: eunha [--url URL] [--key KEY] [--json] <command> …

  workspaces                          list workspaces (id, name)
  workspaces create NAME              create one; prints its id
  functions -w WS                     list a workspace's functions
  deploy FILE.py -w WS [--name N] [--memory MB] [--timeout S] [--env K=V …]
                                      create or update function N (default: the file's name)
                                      with this code, then build and deploy it
  invoke FN -w WS [--data JSON]       run FN (id or name) with a JSON body; prints its log and answer
  logs FN -w WS [--limit N] [--follow]
                                      its latest execution logs; --follow streams new ones
  deployments FN -w WS                its deployed versions
  rollback FN VERSION -w WS           make VERSION the active one again, without a rebuild

  --url   the server (default $EUNHA_URL, else http://127.0.0.1:8000)
  --key   an API key or the admin key (default $EUNHA_API_KEY)
  --json  the API's JSON instead of lines`;

type Command = (api: ApiClient, args: string[], o: Options, io: Io) => Promise<void>;

const COMMANDS: Record<string, Command> = {
  workspaces: commands.workspaces,
  functions: commands.functions,
  deploy: commands.deploy,
  invoke: commands.invoke,
  logs: commands.logs,
  deployments: commands.deployments,
  rollback: commands.rollback,
};

/** Runs one command line; resolves to the exit code. */
export async function run(
  argv: string[],
  env: Record<string, string | undefined>,
  io: Io & { err: (line: string) => void },
): Promise<number> {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
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
        data: { type: 'string' },
        limit: { type: 'string' },
        follow: { type: 'boolean', short: 'f' },
      },
    });
    const [name, ...args] = positionals;
    if (values.help || name === undefined || name === 'help') {
      io.out(USAGE);
      return name === undefined && !values.help ? 2 : 0;
    }
    const command = COMMANDS[name];
    if (!command) throw new UsageError(`unknown command '${name}'`);
    const url = values.url ?? env.EUNHA_URL ?? 'http://127.0.0.1:8000';
    try {
      new URL(url);
    } catch {
      throw new UsageError(`--url is not a URL: '${url}'`);
    }
    await command(new ApiClient(url, values.key ?? env.EUNHA_API_KEY), args, values, io);
    return 0;
  } catch (e) {
    if (e instanceof ApiError) {
      io.err(`eunha: ${e.code}${e.status ? ` (${e.status})` : ''}: ${e.message}`);
      if (e.traceback) io.err(e.traceback.trimEnd());
      return 1;
    }
    // parseArgs reports unknown or malformed options with a TypeError carrying this code.
    if (e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.err(`eunha: ${(e as Error).message}\n\n${USAGE}`);
      return 2;
    }
    throw e;
  }
}
