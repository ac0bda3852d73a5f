/**
 * The snapshot signature, on its own so the matcher can recognise a snapshot without loading the
 * reader: `\x89HWSNAP\n` — the high byte and the newline catch transfers that mangle binary files,
 * as PNG's signature does.
 */
export const SNAPSHOT_MAGIC: Readonly<Uint8Array> = Uint8Array.of(0x89, 0x48, 0x57, 0x53, 0x4e, 0x41, 0x50, 0x0a);
