// A client that sends a request head and then a chunked body that never ends (64 KiB chunks as
// fast as the socket takes them), to see whether the server answers and closes, or goes on
// reading. It gives up once `giveUpAfter` bytes are sent.

import { connect } from 'node:net';

export interface EndlessOutcome {
  /** What the server sent back, as Latin-1. */
  answer: string;
  /** Body bytes sent before the connection ended (or the client gave up). */
  sent: number;
  /** The server closed the connection (false: the client gave up first). */
  closed: boolean;
}

/** `head` ends with its last header line; `first` is the body's first chunk (a part's header). */
export function endlessBody(
  port: number,
  head: string,
  giveUpAfter: number,
  first?: string,
): Promise<EndlessOutcome> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    let sent = 0;
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearInterval(pump);
      socket.destroy();
      resolve({ answer, sent, closed });
    };
    socket.on('data', (d: Buffer) => (answer += d.toString('latin1')));
    socket.on('close', () => finish(true));
    socket.on('error', () => finish(true));
    socket.write(`${head}Transfer-Encoding: chunked\r\n\r\n`);
    const chunk = (data: string) => socket.write(`${Buffer.byteLength(data).toString(16)}\r\n${data}\r\n`);
    if (first !== undefined) chunk(first);
    const block = '#'.repeat(64 * 1024);
    const pump = setInterval(() => {
      if (sent > giveUpAfter) return finish(false);
      for (let i = 0; i < 8 && !socket.destroyed; i++) {
        chunk(block);
        sent += block.length;
      }
    }, 1);
  });
}
