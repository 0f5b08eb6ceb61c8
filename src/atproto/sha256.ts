/**
 * Synchronous SHA-256 (FIPS 180-4) in plain JS. WebCrypto's digest is async and
 * pays a promise (and in Node a thread-pool hop) per call; the MST hashes many
 * small inputs (keys, nodes, records), where this is both faster and lets the
 * whole tree stay synchronous over a synchronous block store.
 */

const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
  0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
  0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
  0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
  0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
  0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
  0xc67178f2,
])

const W = new Int32Array(64)
const H = new Int32Array(8)
const TAIL = new Uint8Array(128)

/** Compress the 64-byte blocks of `data` in [off, end) into H. */
function compress(data: Uint8Array, off: number, end: number): void {
  const w = W
  const k = K
  let h0 = H[0]!
  let h1 = H[1]!
  let h2 = H[2]!
  let h3 = H[3]!
  let h4 = H[4]!
  let h5 = H[5]!
  let h6 = H[6]!
  let h7 = H[7]!
  while (off < end) {
    for (let i = 0; i < 16; i++, off += 4) {
      w[i] = (data[off]! << 24) | (data[off + 1]! << 16) | (data[off + 2]! << 8) | data[off + 3]!
    }
    for (let i = 16; i < 64; i++) {
      const x = w[i - 15]!
      const y = w[i - 2]!
      const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3)
      const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10)
      w[i] = (w[i - 16]! + s0 + w[i - 7]! + s1) | 0
    }
    let a = h0
    let b = h1
    let c = h2
    let d = h3
    let e = h4
    let f = h5
    let g = h6
    let h = h7
    let t1 = 0
    let t2 = 0
    // Eight rounds per pass, rotating the roles of a..h instead of moving values.
    for (let i = 0; i < 64; i += 8) {
      t1 =
        (h +
          (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))) +
          (g ^ (e & (f ^ g))) +
          k[i + 0]! +
          w[i + 0]!) |
        0
      t2 =
        ((((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) +
          ((a & b) ^ (c & (a ^ b)))) |
        0
      d = (d + t1) | 0
      h = (t1 + t2) | 0
      t1 =
        (g +
          (((d >>> 6) | (d << 26)) ^ ((d >>> 11) | (d << 21)) ^ ((d >>> 25) | (d << 7))) +
          (f ^ (d & (e ^ f))) +
          k[i + 1]! +
          w[i + 1]!) |
        0
      t2 =
        ((((h >>> 2) | (h << 30)) ^ ((h >>> 13) | (h << 19)) ^ ((h >>> 22) | (h << 10))) +
          ((h & a) ^ (b & (h ^ a)))) |
        0
      c = (c + t1) | 0
      g = (t1 + t2) | 0
      t1 =
        (f +
          (((c >>> 6) | (c << 26)) ^ ((c >>> 11) | (c << 21)) ^ ((c >>> 25) | (c << 7))) +
          (e ^ (c & (d ^ e))) +
          k[i + 2]! +
          w[i + 2]!) |
        0
      t2 =
        ((((g >>> 2) | (g << 30)) ^ ((g >>> 13) | (g << 19)) ^ ((g >>> 22) | (g << 10))) +
          ((g & h) ^ (a & (g ^ h)))) |
        0
      b = (b + t1) | 0
      f = (t1 + t2) | 0
      t1 =
        (e +
          (((b >>> 6) | (b << 26)) ^ ((b >>> 11) | (b << 21)) ^ ((b >>> 25) | (b << 7))) +
          (d ^ (b & (c ^ d))) +
          k[i + 3]! +
          w[i + 3]!) |
        0
      t2 =
        ((((f >>> 2) | (f << 30)) ^ ((f >>> 13) | (f << 19)) ^ ((f >>> 22) | (f << 10))) +
          ((f & g) ^ (h & (f ^ g)))) |
        0
      a = (a + t1) | 0
      e = (t1 + t2) | 0
      t1 =
        (d +
          (((a >>> 6) | (a << 26)) ^ ((a >>> 11) | (a << 21)) ^ ((a >>> 25) | (a << 7))) +
          (c ^ (a & (b ^ c))) +
          k[i + 4]! +
          w[i + 4]!) |
        0
      t2 =
        ((((e >>> 2) | (e << 30)) ^ ((e >>> 13) | (e << 19)) ^ ((e >>> 22) | (e << 10))) +
          ((e & f) ^ (g & (e ^ f)))) |
        0
      h = (h + t1) | 0
      d = (t1 + t2) | 0
      t1 =
        (c +
          (((h >>> 6) | (h << 26)) ^ ((h >>> 11) | (h << 21)) ^ ((h >>> 25) | (h << 7))) +
          (b ^ (h & (a ^ b))) +
          k[i + 5]! +
          w[i + 5]!) |
        0
      t2 =
        ((((d >>> 2) | (d << 30)) ^ ((d >>> 13) | (d << 19)) ^ ((d >>> 22) | (d << 10))) +
          ((d & e) ^ (f & (d ^ e)))) |
        0
      g = (g + t1) | 0
      c = (t1 + t2) | 0
      t1 =
        (b +
          (((g >>> 6) | (g << 26)) ^ ((g >>> 11) | (g << 21)) ^ ((g >>> 25) | (g << 7))) +
          (a ^ (g & (h ^ a))) +
          k[i + 6]! +
          w[i + 6]!) |
        0
      t2 =
        ((((c >>> 2) | (c << 30)) ^ ((c >>> 13) | (c << 19)) ^ ((c >>> 22) | (c << 10))) +
          ((c & d) ^ (e & (c ^ d)))) |
        0
      f = (f + t1) | 0
      b = (t1 + t2) | 0
      t1 =
        (a +
          (((f >>> 6) | (f << 26)) ^ ((f >>> 11) | (f << 21)) ^ ((f >>> 25) | (f << 7))) +
          (h ^ (f & (g ^ h))) +
          k[i + 7]! +
          w[i + 7]!) |
        0
      t2 =
        ((((b >>> 2) | (b << 30)) ^ ((b >>> 13) | (b << 19)) ^ ((b >>> 22) | (b << 10))) +
          ((b & c) ^ (d & (b ^ c)))) |
        0
      e = (e + t1) | 0
      a = (t1 + t2) | 0
    }
    h0 = (h0 + a) | 0
    h1 = (h1 + b) | 0
    h2 = (h2 + c) | 0
    h3 = (h3 + d) | 0
    h4 = (h4 + e) | 0
    h5 = (h5 + f) | 0
    h6 = (h6 + g) | 0
    h7 = (h7 + h) | 0
  }
  H[0] = h0
  H[1] = h1
  H[2] = h2
  H[3] = h3
  H[4] = h4
  H[5] = h5
  H[6] = h6
  H[7] = h7
}

const IV = Int32Array.of(
  0x6a09e667,
  0xbb67ae85 | 0,
  0x3c6ef372,
  0xa54ff53a | 0,
  0x510e527f,
  0x9b05688c | 0,
  0x1f83d9ab,
  0x5be0cd19,
)

/** Pad and compress the last partial block of `data` (`full` bytes already done), write the digest. */
function finish(data: Uint8Array, full: number, out: Uint8Array, outOffset: number): void {
  const len = data.length
  // Padding: the remaining bytes, 0x80, zeros, then the bit length (big-endian, 64-bit).
  const rem = len - full
  const tail = TAIL
  tail.fill(0)
  for (let i = 0; i < rem; i++) tail[i] = data[full + i]!
  tail[rem] = 0x80
  const tailLen = rem < 56 ? 64 : 128
  const bitsHi = Math.floor(len / 0x20000000)
  const bitsLo = (len << 3) >>> 0
  tail[tailLen - 8] = bitsHi >>> 24
  tail[tailLen - 7] = bitsHi >>> 16
  tail[tailLen - 6] = bitsHi >>> 8
  tail[tailLen - 5] = bitsHi
  tail[tailLen - 4] = bitsLo >>> 24
  tail[tailLen - 3] = bitsLo >>> 16
  tail[tailLen - 2] = bitsLo >>> 8
  tail[tailLen - 1] = bitsLo
  compress(tail, 0, tailLen)
  for (let i = 0; i < 8; i++) {
    const v = H[i]!
    const o = outOffset + i * 4
    out[o] = v >>> 24
    out[o + 1] = v >>> 16
    out[o + 2] = v >>> 8
    out[o + 3] = v
  }
}

/**
 * SHA-256 of `data`, written into `out` at `outOffset` (32 bytes). Returns `out`.
 * Uses module-level scratch state: fine, as JS runs one call at a time.
 */
export function sha256Into(data: Uint8Array, out: Uint8Array, outOffset = 0): Uint8Array {
  H.set(IV)
  const full = data.length - (data.length % 64)
  compress(data, 0, full)
  finish(data, full, out, outOffset)
  return out
}

/** A saved SHA-256 state: the state before 64-byte block `block` of some input. */
export interface HashMidstate {
  block: number
  state: Int32Array
}

/**
 * SHA-256 of `data` into `out`, optionally resuming from `resume` (the state
 * before block `resume.block` of an earlier input whose bytes up to there are
 * identical: the caller checked), and saving the state before block
 * `saveBlock` for a later resume. Returns the saved state (or null).
 */
export function sha256Resume(
  data: Uint8Array,
  out: Uint8Array,
  outOffset: number,
  resume: HashMidstate | null,
  saveBlock: number,
): HashMidstate | null {
  const blocks = (data.length - (data.length % 64)) / 64
  let k = 0
  if (resume !== null && resume.block <= blocks) {
    k = resume.block
    H.set(resume.state)
  } else H.set(IV)
  let saved: HashMidstate | null = null
  const save = Math.min(saveBlock, blocks)
  if (save >= k) {
    compress(data, 64 * k, 64 * save)
    saved = { block: save, state: H.slice() }
    k = save
  }
  compress(data, 64 * k, 64 * blocks)
  finish(data, 64 * blocks, out, outOffset)
  return saved
}

/** SHA-256 digest of `data` (32 bytes). */
export function sha256(data: Uint8Array): Uint8Array {
  return sha256Into(data, new Uint8Array(32))
}
