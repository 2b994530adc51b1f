// Places held per key (a workspace's open tails, its builds on their way into the queue): taken
// one at a time, each given back by the release function it came with, which counts once however
// often it is called.

export class KeyedCount {
  private readonly counts = new Map<string, number>();

  count(key: string): number {
    return this.counts.get(key) ?? 0;
  }

  /** Holds one more place for `key`; the returned function gives it back. */
  take(key: string): () => void {
    this.counts.set(key, this.count(key) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = this.count(key) - 1;
      if (left > 0) this.counts.set(key, left);
      else this.counts.delete(key);
    };
  }
}
