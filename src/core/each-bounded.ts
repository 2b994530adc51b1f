// Work over many items a few at a time: one by one, a remote store's round trips add up (999
// artifact files on S3, one PUT each); all at once, they would open as many requests. After the
// first failure no more start, and the ones running are waited for before it is thrown: the
// caller's clean-up (removing what was half written) must not race writes still landing.

export async function eachBounded<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failed: { err: unknown } | undefined;
  const lane = async (): Promise<void> => {
    while (failed === undefined && next < items.length) {
      const item = items[next++] as T;
      try {
        await work(item);
      } catch (err) {
        failed ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, lane));
  if (failed) throw failed.err;
}
