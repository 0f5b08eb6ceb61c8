/**
 * An agent's sessions, in its own SQLite. A session has one live refresh
 * token (rotated on refresh); access tokens name the session, so deleting it
 * revokes them too.
 */
import { signToken } from '../auth/jwt.ts'
import { XrpcError } from '../http/xrpc.ts'

const ACCESS_TTL_S = 2 * 60 * 60
const REFRESH_TTL_S = 90 * 24 * 60 * 60

export interface SessionTokens {
  accessJwt: string
  refreshJwt: string
}

function randomId(): string {
  const b = crypto.getRandomValues(new Uint8Array(16))
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join('')
}

export class Sessions {
  constructor(
    private readonly sql: SqlStorage,
    private readonly did: string,
  ) {}

  private async mint(key: CryptoKey, aud: string, sid: string, jti: string): Promise<SessionTokens> {
    const now = Math.floor(Date.now() / 1000)
    const base = { sub: this.did, aud, sid, iat: now }
    return {
      accessJwt: await signToken(key, {
        ...base,
        scope: 'com.atproto.access',
        exp: now + ACCESS_TTL_S,
        jti: randomId(),
      }),
      refreshJwt: await signToken(key, {
        ...base,
        scope: 'com.atproto.refresh',
        exp: now + REFRESH_TTL_S,
        jti,
      }),
    }
  }

  async open(key: CryptoKey, aud: string): Promise<SessionTokens> {
    const sid = randomId()
    const jti = randomId()
    const now = Math.floor(Date.now() / 1000)
    this.sql.exec(
      'INSERT INTO sessions (id, refresh_jti, created_at, expires_at) VALUES (?, ?, ?, ?)',
      sid,
      jti,
      new Date().toISOString(),
      now + REFRESH_TTL_S,
    )
    return this.mint(key, aud, sid, jti)
  }

  /** Rotate the refresh token; a reused (old) refresh token is refused. */
  async refresh(key: CryptoKey, aud: string, sid: string, jti: string): Promise<SessionTokens> {
    const row = this.sql
      .exec<{ refresh_jti: string }>('SELECT refresh_jti FROM sessions WHERE id = ?', sid)
      .toArray()[0]
    if (!row || row.refresh_jti !== jti) throw new XrpcError(400, 'ExpiredToken', 'Token has been revoked')
    const next = randomId()
    this.sql.exec('UPDATE sessions SET refresh_jti = ? WHERE id = ?', next, sid)
    return this.mint(key, aud, sid, next)
  }

  isLive(sid: string): boolean {
    return this.sql.exec('SELECT 1 FROM sessions WHERE id = ?', sid).toArray().length > 0
  }

  revoke(sid: string): void {
    this.sql.exec('DELETE FROM sessions WHERE id = ?', sid)
  }

  revokeAll(): void {
    this.sql.exec('DELETE FROM sessions')
  }
}
