/** The writes that turn an agent's repo into a verified source repo (a CAR import). */
import { cidToString } from '../atproto/cid.ts'
import type { Repo, VerifiedRepo } from '../atproto/repo/index.ts'
import type { WriteOp } from './write-path.ts'

/** Updates for records that differ or are new, deletes for paths (`collection/rkey`) the source lacks. */
export function importOps(repo: Repo, source: VerifiedRepo, currentPaths: string[]): WriteOp[] {
  const incoming = new Set(source.records.map((r) => `${r.collection}/${r.rkey}`))
  const ops: WriteOp[] = []
  for (const r of source.records) {
    const current = repo.getRecordCid(r.collection, r.rkey)
    if (current && cidToString(current) === cidToString(r.cid)) continue
    ops.push({
      action: 'update',
      collection: r.collection,
      rkey: r.rkey,
      record: r.record as Record<string, unknown>,
    })
  }
  for (const path of currentPaths)
    if (!incoming.has(path)) {
      const slash = path.indexOf('/')
      ops.push({ action: 'delete', collection: path.slice(0, slash), rkey: path.slice(slash + 1) })
    }
  return ops
}
