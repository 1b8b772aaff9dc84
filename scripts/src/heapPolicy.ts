import { setFlagsFromString } from 'node:v8'

/**
 * Caps how far V8 lets the JavaScript heap grow past what its last full collection kept alive,
 * in per cent. Left to itself V8 allows up to four times the live heap when a program allocates
 * fast, as a busy ingest does: about 100 MiB live became 200–330 MiB of heap. A tighter bound
 * costs more frequent full collections, which V8 runs mostly on its helper threads. 0 keeps V8's
 * own policy. The setting is process-wide and applies from the next collection on.
 */
export function limitHeapGrowth(percent: number): void {
  // V8 reads 0 as "not set": passing it restores its policy after an earlier bound.
  setFlagsFromString(`--heap-growing-percent=${percent}`)
}
