/**
 * The AgentDO's session calls, one entry (`AgentDO.sessions`): log in with
 * the password, rotate a refresh token, read the session (and whether the
 * account is active), log out. The tokens and their rows are sessions.ts.
 */
import { verifyPassword } from '../auth/password.ts'
import { tokenKey } from '../auth/secret.ts'
import { type Outcome, unwrap, XrpcError } from '../http/xrpc.ts'
import type { AgentAuth } from './agent-state.ts'
import type { Sessions, SessionTokens } from './sessions.ts'

export type SessionCall =
  | { op: 'login'; password: string; aud: string }
  | { op: 'refresh'; sid: string; jti: string; aud: string }
  /** The caller's view of the account; a revoked session fails. */
  | { op: 'get'; auth: AgentAuth }
  | { op: 'logout'; sid: string }

export type SessionGrant = SessionTokens & { did: string; handle: string }
export type SessionView = { did: string; handle: string; active: boolean; status?: string }

export type SessionReply<C extends SessionCall = SessionCall> = C extends { op: 'login' | 'refresh' }
  ? SessionGrant
  : C extends { op: 'get' }
    ? SessionView
    : { ok: true }

interface SessionAgent {
  did: string
  handle: string
  status: string
  sessions: Sessions
}

/** What the AgentDO lends. */
export interface SessionHost {
  /** The stored password hash and status, read before the agent loads. */
  credentials(): { password_hash: string | null; status: string } | undefined
  agent(): Promise<SessionAgent>
  authorize(auth: AgentAuth): Promise<SessionAgent>
  secret(): string
}

export async function sessionCall(host: SessionHost, call: SessionCall): Promise<SessionReply> {
  switch (call.op) {
    case 'login': {
      const row = host.credentials()
      const ok = row?.password_hash ? await verifyPassword(call.password, row.password_hash) : false
      if (!row || !ok) throw new XrpcError(401, 'AuthenticationRequired', 'Invalid identifier or password')
      if (row.status === 'deleted') throw new XrpcError(400, 'AccountTakedown', 'Account has been deleted')
      const agent = await host.agent()
      const tokens = await agent.sessions.open(await tokenKey(host.secret()), call.aud)
      return { ...tokens, did: agent.did, handle: agent.handle }
    }
    case 'refresh': {
      const agent = await host.agent()
      const key = await tokenKey(host.secret())
      const tokens = await agent.sessions.refresh(key, call.aud, call.sid, call.jti)
      return { ...tokens, did: agent.did, handle: agent.handle }
    }
    case 'get': {
      const agent = await host.authorize(call.auth)
      const active = agent.status === 'active'
      return { did: agent.did, handle: agent.handle, active, ...(active ? {} : { status: agent.status }) }
    }
    case 'logout':
      ;(await host.agent()).sessions.revoke(call.sid)
      return { ok: true as const }
  }
}

/** A session call through an AgentDO stub, unwrapped; the stub's type loses which reply the call gets. */
export async function callSessions<C extends SessionCall>(
  stub: { sessions(call: SessionCall): Promise<Outcome<SessionReply>> },
  call: C,
): Promise<SessionReply<C>> {
  return unwrap(await stub.sessions(call)) as SessionReply<C>
}
