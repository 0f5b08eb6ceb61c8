/**
 * Vector arithmetic for the local index: float32 unit vectors, stored as
 * little-endian bytes, and an int8 copy (one scale per vector) that the
 * in-memory scan reads. Pure functions, no runtime dependencies.
 */

/** The cosine similarity of two unit vectors. */
export function dot(a: Float32Array, b: Float32Array): number {
  let s = 0
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!
  return s
}

/** Float32 vector as bytes for a SQLite BLOB (little-endian on every platform we run on). */
export function vectorBytes(v: Float32Array): Uint8Array {
  return new Uint8Array(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength))
}

export function bytesVector(bytes: ArrayBuffer | Uint8Array): Float32Array {
  const b = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes)
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength))
}

export interface Quantized {
  q: Int8Array
  /** value ≈ q / scale */
  scale: number
}

/** Symmetric int8 quantization, scaled so the largest component maps to ±127. */
export function quantize(v: Float32Array): Quantized {
  let max = 0
  for (let i = 0; i < v.length; i++) max = Math.max(max, Math.abs(v[i]!))
  const scale = max === 0 ? 1 : 127 / max
  const q = new Int8Array(v.length)
  for (let i = 0; i < v.length; i++) q[i] = Math.round(v[i]! * scale)
  return { q, scale }
}

/**
 * Approximate dot products of `query` with every row of `matrix` (rows of
 * `dims` int8 values, `scales` per row), written into `out`. Rows whose
 * `keep` is 0 score -Infinity.
 */
export function scanInt8(
  query: Quantized,
  matrix: Int8Array,
  scales: Float32Array,
  rows: number,
  dims: number,
  keep: Uint8Array,
  out: Float32Array,
): void {
  const q = query.q
  for (let r = 0, base = 0; r < rows; r++, base += dims) {
    if (keep[r] === 0) {
      out[r] = Number.NEGATIVE_INFINITY
      continue
    }
    let s0 = 0
    let s1 = 0
    let s2 = 0
    let s3 = 0
    let i = 0
    for (; i + 3 < dims; i += 4) {
      s0 += q[i]! * matrix[base + i]!
      s1 += q[i + 1]! * matrix[base + i + 1]!
      s2 += q[i + 2]! * matrix[base + i + 2]!
      s3 += q[i + 3]! * matrix[base + i + 3]!
    }
    for (; i < dims; i++) s0 += q[i]! * matrix[base + i]!
    out[r] = (s0 + s1 + s2 + s3) / (query.scale * scales[r]!)
  }
}

/** Indices of the `k` largest finite scores, best first. */
export function topK(scores: Float32Array, rows: number, k: number): number[] {
  if (k <= 0) return []
  // A bounded min-heap of (score, index): O(n log k).
  const heapS = new Float64Array(k)
  const heapI = new Int32Array(k)
  let size = 0
  const sift = (i: number) => {
    for (;;) {
      const l = 2 * i + 1
      const r = l + 1
      let m = i
      if (l < size && heapS[l]! < heapS[m]!) m = l
      if (r < size && heapS[r]! < heapS[m]!) m = r
      if (m === i) return
      ;[heapS[i], heapS[m]] = [heapS[m]!, heapS[i]!]
      ;[heapI[i], heapI[m]] = [heapI[m]!, heapI[i]!]
      i = m
    }
  }
  for (let r = 0; r < rows; r++) {
    const s = scores[r]!
    if (s === Number.NEGATIVE_INFINITY) continue
    if (size < k) {
      let i = size++
      heapS[i] = s
      heapI[i] = r
      while (i > 0) {
        const p = (i - 1) >> 1
        if (heapS[p]! <= heapS[i]!) break
        ;[heapS[i], heapS[p]] = [heapS[p]!, heapS[i]!]
        ;[heapI[i], heapI[p]] = [heapI[p]!, heapI[i]!]
        i = p
      }
    } else if (s > heapS[0]!) {
      heapS[0] = s
      heapI[0] = r
      sift(0)
    }
  }
  const out = Array.from({ length: size }, (_, i) => i)
  out.sort((a, b) => heapS[b]! - heapS[a]!)
  return out.map((i) => heapI[i]!)
}
