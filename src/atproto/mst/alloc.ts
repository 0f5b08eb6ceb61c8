/**
 * Small-buffer allocation from shared slabs. V8 allocates typed arrays over 64
 * bytes off-heap, at a cost of over a microsecond each; MST nodes are a few
 * hundred bytes and a commit makes several, so they are carved from slabs.
 * A slab stays alive while any buffer carved from it does, so long-lived
 * holders should copy out (see `isSlabView` and the MST's node promotion).
 */
const SLAB_SIZE = 256 * 1024
const MAX_SLAB_ALLOC = 16 * 1024

let slab = new Uint8Array(SLAB_SIZE)
let offset = 0

/** A zeroed buffer of `size` bytes (a view into a shared slab when small). */
export function allocBytes(size: number): Uint8Array {
  if (size > MAX_SLAB_ALLOC) return new Uint8Array(size)
  if (offset + size > SLAB_SIZE) {
    slab = new Uint8Array(SLAB_SIZE)
    offset = 0
  }
  const out = slab.subarray(offset, offset + size)
  // Keep views 8-byte aligned so neighbours never share a word.
  offset += (size + 7) & ~7
  return out
}

/** Was `buf` carved from a slab (rather than allocated on its own)? */
export function isSlabView(buf: Uint8Array): boolean {
  return buf.buffer.byteLength === SLAB_SIZE && buf.byteLength < SLAB_SIZE
}
