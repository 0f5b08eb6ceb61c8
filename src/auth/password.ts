/**
 * Password hashing with PBKDF2-SHA-256 (the slow KDF WebCrypto offers in
 * Workers; 100,000 iterations is the Workers maximum). Stored as
 * `pbkdf2-sha256$<iterations>$<salt b64>$<hash b64>`.
 */
import { fromBase64, toBase64 } from '@atcute/multibase'
import { timingSafeEquals } from '@atcute/uint8array'

const ITERATIONS = 100_000

async function derive(password: string, salt: Uint8Array, iterations: number): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(password), 'PBKDF2', false, [
    'deriveBits',
  ])
  return new Uint8Array(
    await crypto.subtle.deriveBits({ name: 'PBKDF2', hash: 'SHA-256', salt, iterations }, key, 256),
  )
}

export async function hashPassword(password: string): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(16))
  const hash = await derive(password, salt, ITERATIONS)
  return `pbkdf2-sha256$${ITERATIONS}$${toBase64(salt)}$${toBase64(hash)}`
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, iter, salt, hash] = stored.split('$')
  if (scheme !== 'pbkdf2-sha256' || !iter || !salt || !hash) return false
  const actual = await derive(password, fromBase64(salt), Number(iter))
  return timingSafeEquals(actual, fromBase64(hash))
}
