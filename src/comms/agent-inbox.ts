/**
 * An agent's side of delivery, inside its AgentDO: a routed comms record is
 * accepted once it checks against the sender's repo (delivery.ts), filed in
 * the inbox (inbox.ts) and pushed to the agent's socket (inbox-push.ts).
 *
 * A handoff must also have every ref it cites check against the cited repo
 * (handoff.ts), or it is rejected: not filed, answered with a `rejected`
 * response from this agent's repo, and answered once however often it is
 * redelivered. A handoff already accepted is not checked again, so a cited
 * record changing later cannot turn it into a rejection.
 *
 * The answer is written by the host through the one write path; this module
 * never touches the repo.
 */
import type { Env } from '../env.ts'
import type { Delivery } from './deliveries.ts'
import { provenRecord, undeliverable } from './delivery.ts'
import { checkHandoff, HANDOFF, type HandoffProblem, rejectionResponse } from './handoff.ts'
import { type HandoffRejection, HandoffRejections } from './handoff-rejections.ts'
import { Inbox, type InboxItem } from './inbox.ts'
import { pushInboxItem } from './inbox-push.ts'
import { RESPONSE } from './tasks.ts'

/** What the AgentDO lends: its write lock, who it is, and a write of one record of its own. */
export interface InboxHost {
  readonly ctx: DurableObjectState
  readonly env: Env
  exclusive<T>(fn: () => Promise<T>): Promise<T>
  self(): Promise<{ did: string; status: string }>
  nextRkey(): string
  /**
   * Create `collection/rkey` in the agent's repo through the write path (call
   * under `exclusive`); `remember` runs inside the commit's transaction.
   */
  commitOwn(
    collection: string,
    rkey: string,
    record: Record<string, unknown>,
    remember: () => void,
  ): Promise<void>
  /**
   * Called in the same synchronous stretch as the item's acceptance (or for a
   * redelivered item), so what it records commits with the item; the returned
   * send runs after (the runtime's wake, src/agent/wake.ts).
   */
  wake(item: InboxItem): (() => Promise<void>) | null
}

export interface DeliveryResult {
  accepted: boolean
  rejected?: HandoffRejection
}

export class AgentInbox {
  readonly items: Inbox
  private readonly rejections: HandoffRejections

  constructor(private readonly host: InboxHost) {
    this.items = new Inbox(host.ctx.storage.sql)
    this.rejections = new HandoffRejections(host.ctx.storage.sql)
  }

  async deliver(d: Delivery): Promise<DeliveryResult> {
    const record = await provenRecord(this.host.env, d)
    if (d.collection === HANDOFF && !this.items.has(d.uri, d.cid)) {
      const earlier = this.rejections.get(d.uri, d.cid)
      if (earlier) return { accepted: false, rejected: earlier }
      const problem = await checkHandoff(this.host.env, record)
      if (problem) return { accepted: false, rejected: await this.reject(d, problem) }
    }
    const fields = { uri: d.uri, cid: d.cid, collection: d.collection, sender: d.sender, record }
    const item = this.items.accept(fields)
    const send = this.host.wake(item ?? { ...fields, receivedAt: '', verified: true, state: 'unread' })
    if (item) pushInboxItem(this.host.ctx, item)
    await send?.()
    return { accepted: item !== null }
  }

  /**
   * Write the `rejected` response under the write lock, and remember the
   * rejection in the commit's own transaction: a crash leaves both or
   * neither, so a redelivery never answers twice.
   */
  private reject(d: Delivery, problem: HandoffProblem): Promise<HandoffRejection> {
    return this.host.exclusive(async () => {
      // Another delivery of the same handoff may have rejected it while this one checked its refs.
      const earlier = this.rejections.get(d.uri, d.cid)
      if (earlier) return earlier
      const { did, status } = await this.host.self()
      if (status !== 'active')
        throw undeliverable(`handoff rejected (${problem.message}); ${did} is ${status} and cannot answer`)
      const rkey = this.host.nextRkey()
      const rejection = { ...problem, response: `at://${did}/${RESPONSE}/${rkey}` }
      const record = rejectionResponse(did, { uri: d.uri, cid: d.cid }, problem)
      await this.host.commitOwn(RESPONSE, rkey, record, () =>
        this.rejections.add(d.uri, d.cid, d.sender, rejection),
      )
      return rejection
    })
  }
}
