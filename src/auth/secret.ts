/**
 * Keys derived from the network secret (MURMUR_SECRET) with HKDF, one per
 * purpose, so a leak of one derived key exposes nothing else.
 */
const enc = new TextEncoder()

async function baseKey(secret: string): Promise<CryptoKey> {
  if (secret.length < 32) throw new Error('MURMUR_SECRET must be at least 32 characters')
  return crypto.subtle.importKey('raw', enc.encode(secret), 'HKDF', false, ['deriveKey'])
}

function hkdf(info: string) {
  return { name: 'HKDF', hash: 'SHA-256', salt: enc.encode('murmur/v1'), info: enc.encode(info) }
}

/** AES-256-GCM key for wrapping private keys at rest. */
export async function wrappingKey(secret: string): Promise<CryptoKey> {
  return crypto.subtle.deriveKey(
    hkdf('key-wrap'),
    await baseKey(secret),
    { name: 'AES-GCM', length: 256 },
    false,
    ['encrypt', 'decrypt'],
  )
}

/** HMAC-SHA-256 key for signing session tokens. */
export async function tokenKey(secret: string): Promise<CryptoKey> {
  return crypto.subtle.deriveKey(
    hkdf('session-tokens'),
    await baseKey(secret),
    { name: 'HMAC', hash: 'SHA-256', length: 256 },
    false,
    ['sign', 'verify'],
  )
}

/** Encrypt `plain` with AES-GCM; output is iv (12 bytes) || ciphertext. `label` binds it to its use. */
export async function seal(key: CryptoKey, plain: Uint8Array, label: string): Promise<Uint8Array> {
  const iv = crypto.getRandomValues(new Uint8Array(12))
  const ct = new Uint8Array(
    await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: enc.encode(label) }, key, plain),
  )
  const out = new Uint8Array(12 + ct.length)
  out.set(iv)
  out.set(ct, 12)
  return out
}

/** Decrypt what `seal` made; throws if the bytes or the label do not match. */
export async function open(key: CryptoKey, sealed: Uint8Array, label: string): Promise<Uint8Array> {
  if (sealed.length < 12 + 16) throw new Error('sealed value too short')
  return new Uint8Array(
    await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: sealed.subarray(0, 12), additionalData: enc.encode(label) },
      key,
      sealed.subarray(12),
    ),
  )
}
