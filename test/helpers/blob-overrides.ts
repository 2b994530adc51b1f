// A blob store whose methods are the real store's except those given: how tests slow one write
// down, fail it halfway, or count the reads, without a mock of the rest.

import type { BlobStore } from '../../src/store/ports.js';

export function overriding(inner: BlobStore, parts: Partial<BlobStore>): BlobStore {
  return {
    put: (key, data, known) => inner.put(key, data, known),
    get: (key) => inner.get(key),
    size: (key) => inner.size(key),
    delete: (key) => inner.delete(key),
    deletePrefix: (prefix) => inner.deletePrefix(prefix),
    list: (prefix) => inner.list(prefix),
    usage: (prefix) => inner.usage(prefix),
    close: () => inner.close(),
    ...parts,
  };
}
