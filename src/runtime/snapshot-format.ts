// How a cached memory snapshot is laid out on disk: the snapshot's bytes, then a trailer of a
// marker and the sha256 of those bytes. The parent checks the trailer before it hands the file to
// any host (snapshot.ts); a host reads the bytes before the trailer (host/sandbox-thread.ts). A
// file cut short by a crash or a full disk used to boot every sandbox into "memory access out of
// bounds", for good, since the cache was only checked for existence.

export const SNAPSHOT_MARKER = 'EUNHA-SNAPSHOT-1';
/** Marker (16 ASCII bytes) plus a sha256 digest (32 bytes). */
export const SNAPSHOT_TRAILER_BYTES = 16 + 32;
