/**
 * Session tokens: compact HS256 JWTs signed with a key derived from the network
 * secret. Access and refresh tokens differ by `scope`, and each names its
 * session (`sid`) so that deleting the session revokes both.
 */
import { fromBase64Url, toBase64Url } from '@atcute/multibase'

export type TokenScope = 'com.atproto.access' | 'com.atproto.refresh'

export interface TokenClaims {
  scope: TokenScope
  sub: string
  aud: string
  sid: string
  iat: number
  exp: number
  jti: string
}

const enc = new TextEncoder()
const HEADER = toBase64Url(enc.encode(JSON.stringify({ alg: 'HS256', typ: 'JWT' })))

export async function signToken(key: CryptoKey, claims: TokenClaims): Promise<string> {
  const body = `${HEADER}.${toBase64Url(enc.encode(JSON.stringify(claims)))}`
  const sig = new Uint8Array(await crypto.subtle.sign('HMAC', key, enc.encode(body)))
  return `${body}.${toBase64Url(sig)}`
}

export type TokenProblem = 'malformed' | 'bad-signature' | 'expired' | 'wrong-scope'

/** Verify signature, expiry and scope. Returns the claims, or why the token fails. */
export async function verifyToken(
  key: CryptoKey,
  token: string,
  scope: TokenScope,
  now = Math.floor(Date.now() / 1000),
): Promise<TokenClaims | TokenProblem> {
  const parts = token.split('.')
  if (parts.length !== 3 || parts[0] !== HEADER) return 'malformed'
  let sig: Uint8Array
  let claims: TokenClaims
  try {
    sig = fromBase64Url(parts[2]!)
    claims = JSON.parse(new TextDecoder().decode(fromBase64Url(parts[1]!)))
  } catch {
    return 'malformed'
  }
  const ok = await crypto.subtle.verify(
    'HMAC',
    key,
    sig as Uint8Array<ArrayBuffer>,
    enc.encode(`${parts[0]}.${parts[1]}`),
  )
  if (!ok) return 'bad-signature'
  if (typeof claims !== 'object' || claims === null || typeof claims.sub !== 'string') return 'malformed'
  if (typeof claims.exp !== 'number' || claims.exp <= now) return 'expired'
  if (claims.scope !== scope) return 'wrong-scope'
  return claims
}
