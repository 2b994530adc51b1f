// One-at-a-time work per key (a function id) inside this process: each piece of work starts when
// the one before it for the same key has settled, and keys never wait for each other. One server
// owns a data directory (store/data-dir-lock.ts), so in-process order is the only order needed.

export class KeyedLock {
  private readonly lines = new Map<string, Promise<void>>();

  async run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const before = this.lines.get(key) ?? Promise.resolve();
    let done!: () => void;
    const mine = before.then(() => new Promise<void>((resolve) => (done = resolve)));
    this.lines.set(key, mine);
    await before;
    try {
      return await work();
    } finally {
      done();
      if (this.lines.get(key) === mine) this.lines.delete(key);
    }
  }
}
