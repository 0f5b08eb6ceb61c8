/**
 * The directory (D1): handle ↔ DID, agent status, and each DID's signed
 * operation log. Agents are addressed by DID (one AgentDO per DID), so the
 * directory is only consulted for handles, listings and identity.
 */
import type { AuditEntry } from '../identity/audit.ts'
import type { SignedOperation } from '../identity/operation.ts'
import { type Migration, migrateD1 } from '../storage/migrations.ts'

export type AgentStatus = 'active' | 'deactivated' | 'deleted'

export interface AgentRow {
  did: string
  handle: string
  status: AgentStatus
  createdAt: string
}

const MIGRATIONS: readonly Migration[] = [
  [
    `CREATE TABLE agents (
      did TEXT PRIMARY KEY,
      handle TEXT NOT NULL UNIQUE,
      status TEXT NOT NULL DEFAULT 'active',
      created_at TEXT NOT NULL
    )`,
    `CREATE TABLE did_ops (
      did TEXT NOT NULL,
      idx INTEGER NOT NULL,
      cid TEXT NOT NULL,
      operation TEXT NOT NULL,
      nullified INTEGER NOT NULL DEFAULT 0,
      created_at TEXT NOT NULL,
      PRIMARY KEY (did, idx)
    )`,
  ],
]

const ready = new WeakMap<D1Database, Promise<void>>()

export class Directory {
  constructor(private readonly db: D1Database) {}

  /** Migrations run once per isolate and database. */
  private init(): Promise<void> {
    let p = ready.get(this.db)
    if (!p) {
      p = migrateD1(this.db, MIGRATIONS)
      p.catch(() => ready.delete(this.db))
      ready.set(this.db, p)
    }
    return p
  }

  /** Register a new agent with its genesis op; false if the handle is taken. */
  async register(did: string, handle: string, genesis: AuditEntry): Promise<boolean> {
    await this.init()
    try {
      await this.db.batch([
        this.db
          .prepare('INSERT INTO agents (did, handle, status, created_at) VALUES (?, ?, ?, ?)')
          .bind(did, handle, 'active', genesis.createdAt),
        this.insertOp(did, 0, genesis),
      ])
      return true
    } catch (err) {
      if (String(err).includes('UNIQUE')) return false
      throw err
    }
  }

  private insertOp(did: string, idx: number, e: AuditEntry) {
    return this.db
      .prepare('INSERT INTO did_ops (did, idx, cid, operation, created_at) VALUES (?, ?, ?, ?, ?)')
      .bind(did, idx, e.cid, JSON.stringify(e.operation), e.createdAt)
  }

  async appendOp(did: string, entry: AuditEntry): Promise<void> {
    await this.init()
    const row = await this.db
      .prepare('SELECT count(*) AS n FROM did_ops WHERE did = ?')
      .bind(did)
      .first<{ n: number }>()
    await this.insertOp(did, row?.n ?? 0, entry).run()
  }

  async auditLog(did: string): Promise<AuditEntry[]> {
    await this.init()
    const { results } = await this.db
      .prepare('SELECT cid, operation, nullified, created_at FROM did_ops WHERE did = ? ORDER BY idx')
      .bind(did)
      .all<{ cid: string; operation: string; nullified: number; created_at: string }>()
    return results.map((r) => ({
      did,
      operation: JSON.parse(r.operation) as SignedOperation,
      cid: r.cid,
      nullified: r.nullified === 1,
      createdAt: r.created_at,
    }))
  }

  /** The operation in force (the last one not nullified). */
  async currentOp(did: string): Promise<SignedOperation | null> {
    await this.init()
    const row = await this.db
      .prepare('SELECT operation FROM did_ops WHERE did = ? AND nullified = 0 ORDER BY idx DESC LIMIT 1')
      .bind(did)
      .first<{ operation: string }>()
    return row ? (JSON.parse(row.operation) as SignedOperation) : null
  }

  async byHandle(handle: string): Promise<AgentRow | null> {
    return this.one('SELECT * FROM agents WHERE handle = ?', handle.toLowerCase())
  }

  async byDid(did: string): Promise<AgentRow | null> {
    return this.one('SELECT * FROM agents WHERE did = ?', did)
  }

  private async one(sql: string, arg: string): Promise<AgentRow | null> {
    await this.init()
    const r = await this.db
      .prepare(sql)
      .bind(arg)
      .first<{ did: string; handle: string; status: AgentStatus; created_at: string }>()
    return r ? { did: r.did, handle: r.handle, status: r.status, createdAt: r.created_at } : null
  }

  /** Agents ordered by DID, after `cursor` (a DID). */
  async list(limit: number, cursor?: string): Promise<AgentRow[]> {
    await this.init()
    const { results } = await this.db
      .prepare('SELECT * FROM agents WHERE did > ? ORDER BY did LIMIT ?')
      .bind(cursor ?? '', limit)
      .all<{ did: string; handle: string; status: AgentStatus; created_at: string }>()
    return results.map((r) => ({ did: r.did, handle: r.handle, status: r.status, createdAt: r.created_at }))
  }

  async setStatus(did: string, status: AgentStatus): Promise<void> {
    await this.init()
    await this.db.prepare('UPDATE agents SET status = ? WHERE did = ?').bind(status, did).run()
  }
}
