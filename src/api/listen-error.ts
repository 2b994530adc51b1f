// The socket could not be had: an address in use, not on this machine, a port that needs
// privileges, a name that does not resolve. Each is the operator's to fix in EUNHA_HOST or
// EUNHA_PORT, so main.ts refuses the start (exit 2) in one line naming them, not a stack.

const LISTEN_CODES: Record<string, string> = {
  EADDRINUSE: 'another process has this port',
  EADDRNOTAVAIL: 'it is not an address of this machine',
  EACCES: 'this user may not listen on this port',
  ENOTFOUND: 'the host name does not resolve',
  EAI_AGAIN: 'the host name could not be resolved now',
};

export class ListenError extends Error {
  override name = 'ListenError';
  constructor(host: string, port: number, cause: Error, why: string) {
    super(
      `cannot listen on ${host} port ${port}: ${why} (${cause.message}); check EUNHA_HOST and EUNHA_PORT`,
      {
        cause,
      },
    );
  }
}

/** A ListenError for a failure with one of the causes above; anything else unchanged. */
export function listenError(err: unknown, host: string, port: number): unknown {
  const code = (err as { code?: unknown } | undefined)?.code;
  const why = typeof code === 'string' ? LISTEN_CODES[code] : undefined;
  return err instanceof Error && why !== undefined ? new ListenError(host, port, err, why) : err;
}
