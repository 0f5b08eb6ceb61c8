/**
 * The handoffs an agent rejected (its table is an AgentDO migration, schema.ts), so a
 * redelivered handoff is answered once: the row is written in the same
 * transaction as the rejecting response's commit (AgentDO.deliver).
 */
import type { HandoffProblem } from './handoff.ts'

export interface HandoffRejection extends HandoffProblem {
  /** The `agent.comms.response` (state `rejected`) the receiver wrote in its own repo. */
  response: string
}

type Row = { code: string; reason: string; response_uri: string }

export class HandoffRejections {
  constructor(private readonly sql: SqlStorage) {}

  get(uri: string, cid: string): HandoffRejection | null {
    const row = this.sql
      .exec<Row>(
        'SELECT code, reason, response_uri FROM handoff_rejections WHERE uri = ? AND cid = ?',
        uri,
        cid,
      )
      .toArray()[0]
    return row ? { code: row.code, message: row.reason, response: row.response_uri } : null
  }

  add(uri: string, cid: string, sender: string, rejection: HandoffRejection): void {
    this.sql.exec(
      `INSERT INTO handoff_rejections (uri, cid, sender, code, reason, response_uri, rejected_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
      uri,
      cid,
      sender,
      rejection.code,
      rejection.message,
      rejection.response,
      new Date().toISOString(),
    )
  }
}
