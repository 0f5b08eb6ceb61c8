/**
 * AgentDO: one SQLite Durable Object per agent. It owns the agent's keys,
 * repo blocks, record index, head, outbox and sessions. Every repo change goes
 * through `commitWrites` (write-path.ts) under one per-agent lock.
 */
import { DurableObject } from 'cloudflare:workers'
import { ScheduleAlarm } from '../agent/schedule-alarm.ts'
import type { ScheduleCall, ScheduleReply } from '../agent/schedules.ts'
import { TurnSweep } from '../agent/turn-sweep.ts'
import { AgentTurns, type TurnCall, type TurnRow } from '../agent/turns.ts'
import { wakeFor } from '../agent/wake.ts'
import { cidToString, parseCid } from '../atproto/cid.ts'
import type { KeyType } from '../atproto/keys.ts'
import { Repo, verifyRepoCar } from '../atproto/repo/index.ts'
import { TidClock } from '../atproto/syntax/index.ts'
import { AgentInbox, type DeliveryResult } from '../comms/agent-inbox.ts'
import type { Delivery } from '../comms/deliveries.ts'
import { type InboxCall, type InboxReply, inboxCall } from '../comms/inbox-calls.ts'
import { acceptInboxSocket, closeInboxSocket } from '../comms/inbox-push.ts'
import type { Env } from '../env.ts'
import { authRequired, forbidden, type Outcome, outcome, XrpcError } from '../http/xrpc.ts'
import { AgentMemory, isMemoryWrite, type MemoryCall } from '../memory/agent-memory.ts'
import { PROFILE } from '../memory/memory-text.ts'
import { migrateSql } from '../storage/migrations.ts'
import { AgentBlobs } from './agent-blobs.ts'
import { openSigningKey, sealSigningKey } from './agent-keys.ts'
import { AgentReads } from './agent-reads.ts'
import { type SessionCall, type SessionHost, type SessionReply, sessionCall } from './agent-sessions.ts'
import type { AgentAuth, AgentRow, AgentStatus, CreateAgentInput, Loaded } from './agent-state.ts'
import { type BlobCall, type BlobReply, blobCall } from './blob-calls.ts'
import { accountEvent, identityEvent, nextEventRev, queueEvent } from './events.ts'
import { writeGenesis } from './genesis.ts'
import { importOps } from './import-ops.ts'
import { Outbox } from './outbox.ts'
import { AGENT_MIGRATIONS } from './schema.ts'
import { Sessions } from './sessions.ts'
import { SqlBlockStore } from './sql-block-store.ts'
import { type CommitSummary, commitWrites, type WriteOp, type WriteOptions } from './write-path.ts'

export type { AgentAuth, AgentStatus, CreateAgentInput } from './agent-state.ts'

export class AgentDO extends DurableObject<Env> {
  private readonly sql: SqlStorage
  private readonly store: SqlBlockStore
  private readonly clock = new TidClock()
  private loaded: Promise<Loaded> | null = null
  private writeLock: Promise<unknown> = Promise.resolve()
  readonly reads: AgentReads
  readonly outbox: Outbox
  readonly comms: AgentInbox
  readonly memories: AgentMemory
  private readonly blobTable: AgentBlobs
  private readonly turns: AgentTurns
  private readonly sweep: TurnSweep
  private readonly schedules = new ScheduleAlarm(this.ctx.storage, this.env)

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    this.sql = ctx.storage.sql
    this.store = new SqlBlockStore(this.sql)
    this.reads = new AgentReads(this.sql, this.store)
    this.outbox = new Outbox(ctx, env)
    this.blobTable = new AgentBlobs(this.sql)
    this.turns = new AgentTurns(this.sql)
    this.sweep = new TurnSweep(ctx.storage, env, this.turns)
    this.comms = new AgentInbox({
      ctx,
      env,
      exclusive: (fn) => this.exclusive(fn),
      self: () => this.agent(),
      nextRkey: () => this.clock.next(),
      commitOwn: (collection, rkey, record, remember) => this.commitOwn(collection, rkey, record, remember),
      wake: (item) => {
        const did = this.row()?.did ?? ''
        const hasProfile = () => this.reads.findRecord(did, PROFILE, 'self') !== null
        return wakeFor({ env, turns: this.turns, did, hasProfile, arm: () => this.sweep.arm() }, item)
      },
    })
    this.memories = new AgentMemory({
      ctx,
      env,
      sql: this.sql,
      exclusive: (fn) => this.exclusive(fn),
      did: async () => (await this.agent()).did,
      commit: async (ops) => {
        const summary = await commitWrites(this.writeContext(await this.agent()), ops)
        this.outbox.kick()
        return summary
      },
      record: (collection, rkey) => this.reads.findRecord(this.row()?.did ?? '', collection, rkey),
    })
    migrateSql(this.sql, AGENT_MIGRATIONS)
  }

  /**
   * Alarms only schedule or retry short work: the outbox push, due schedules' turns (queued), turns
   * whose Queue message was lost (queued again), memory upkeep.
   */
  override async alarm(): Promise<void> {
    await this.outbox.alarm()
    await this.schedules.alarm(this.row())
    await this.sweep.alarm(this.row())
    if (this.row()?.status === 'active') await this.memories.alarm()
  }

  private row(): AgentRow | undefined {
    return this.sql
      .exec<AgentRow & Record<string, SqlStorageValue>>('SELECT * FROM agent WHERE id = 1')
      .toArray()[0]
  }

  private secret(): string {
    if (!this.env.MURMUR_SECRET)
      throw new XrpcError(500, 'InternalServerError', 'The network secret is not configured')
    return this.env.MURMUR_SECRET
  }

  /** The agent's state, loaded once per object lifetime. */
  private agent(): Promise<Loaded> {
    if (!this.loaded) {
      this.loaded = this.load()
      this.loaded.catch(() => {
        this.loaded = null
      })
    }
    return this.loaded
  }

  private async load(): Promise<Loaded> {
    const row = this.row()
    if (!row?.root_cid) throw new XrpcError(400, 'RepoNotFound', 'Could not find repo')
    const keypair = await openSigningKey(
      this.secret(),
      row.did,
      row.key_type,
      new Uint8Array(row.signing_key),
    )
    const repo = Repo.load(this.store, parseCid(row.root_cid), { keypair, clock: this.clock })
    return {
      did: row.did,
      handle: row.handle,
      status: row.status,
      repo,
      sessions: new Sessions(this.sql, row.did),
    }
  }

  /** The rev for an #identity or #account event (inside its transaction): see nextEventRev. */
  private eventRev(): string {
    return nextEventRev(this.sql, this.clock)
  }

  /** Serialise repo changes: signing is async, so calls would otherwise interleave. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.writeLock.then(fn)
    this.writeLock = run.catch(() => undefined)
    return run
  }

  /** The agent for public reads: a deleted agent's repo is gone. */
  private async readable(): Promise<Loaded> {
    const agent = await this.agent()
    if (agent.status === 'deleted') throw new XrpcError(400, 'RepoNotFound', 'Repo has been deleted')
    return agent
  }

  private async authorize(auth: AgentAuth): Promise<Loaded> {
    const agent = await this.agent()
    if (auth.kind === 'session' && !agent.sessions.isLive(auth.sid))
      throw authRequired('Session has been revoked')
    return agent
  }

  private async writable(auth: AgentAuth): Promise<Loaded> {
    const agent = await this.authorize(auth)
    if (agent.status !== 'active') throw forbidden(`Account is ${agent.status}`)
    return agent
  }

  // ── lifecycle ────────────────────────────────────────────────────────────

  /** Initialise a new agent: sealed key, empty signed repo, identity and account events. */
  create(input: CreateAgentInput): Promise<Outcome<{ did: string; handle: string }>> {
    return outcome(() =>
      this.exclusive(async () => {
        if (this.row()) throw new XrpcError(400, 'AlreadyExists', `Agent ${input.did} already exists`)
        const repo = await writeGenesis(
          {
            sql: this.sql,
            store: this.store,
            clock: this.clock,
            secret: this.secret(),
            transactionSync: (fn) => this.ctx.storage.transactionSync(fn),
            eventRev: () => this.eventRev(),
          },
          input,
        )
        this.outbox.kick()
        this.loaded = Promise.resolve({
          did: input.did,
          handle: input.handle,
          status: 'active',
          repo,
          sessions: new Sessions(this.sql, input.did),
        })
        return { did: input.did, handle: input.handle }
      }),
    )
  }

  setStatus(status: AgentStatus): Promise<Outcome<{ status: AgentStatus }>> {
    return outcome(() =>
      this.exclusive(async () => {
        const agent = await this.agent()
        this.ctx.storage.transactionSync(() => {
          this.sql.exec('UPDATE agent SET status = ? WHERE id = 1', status)
          queueEvent(this.sql, 'account', this.eventRev(), accountEvent(agent.did, status))
          // As in atproto, sessions survive deactivation (so the agent can reactivate); deletion ends them.
          if (status === 'deleted') agent.sessions.revokeAll()
        })
        agent.status = status
        this.outbox.kick()
        return { status }
      }),
    )
  }

  /** Replace the signing key (after the directory recorded the rotation op). */
  setSigningKey(keyType: KeyType, privateKey: Uint8Array): Promise<Outcome<{ ok: true }>> {
    return outcome(() =>
      this.exclusive(async () => {
        const agent = await this.agent()
        const sealed = await sealSigningKey(this.secret(), agent.did, privateKey)
        this.ctx.storage.transactionSync(() => {
          this.sql.exec('UPDATE agent SET key_type = ?, signing_key = ? WHERE id = 1', keyType, sealed)
          queueEvent(this.sql, 'identity', this.eventRev(), identityEvent(agent.did, agent.handle))
        })
        this.outbox.kick()
        this.loaded = null
        return { ok: true as const }
      }),
    )
  }

  // ── sessions (src/pds/agent-sessions.ts) ─────────────────────────────────

  /** Every session call: log in, refresh, read the session, log out. */
  sessions(call: SessionCall): Promise<Outcome<SessionReply>> {
    const host: SessionHost = {
      credentials: () => this.row(),
      agent: () => this.agent(),
      authorize: (auth) => this.authorize(auth),
      secret: () => this.secret(),
    }
    return outcome(() => sessionCall(host, call))
  }

  /** One create of this agent's own (under the write lock); `remember` joins the commit's transaction. */
  private async commitOwn(
    collection: string,
    rkey: string,
    record: Record<string, unknown>,
    remember: () => void,
  ): Promise<void> {
    const ctx = this.writeContext(await this.agent())
    const transactionSync = <T>(fn: () => T) =>
      ctx.transactionSync(() => {
        const out = fn()
        remember()
        return out
      })
    await commitWrites({ ...ctx, transactionSync }, [{ action: 'create', collection, rkey, record }])
    this.outbox.kick()
  }

  private writeContext(agent: Loaded) {
    return {
      did: agent.did,
      repo: agent.repo,
      sql: this.sql,
      store: this.store,
      clock: this.clock,
      transactionSync: <T>(fn: () => T) => this.ctx.storage.transactionSync(fn),
    }
  }

  // ── the one write path ───────────────────────────────────────────────────

  write(auth: AgentAuth, ops: WriteOp[], opts: WriteOptions = {}): Promise<Outcome<CommitSummary>> {
    return outcome(() =>
      this.exclusive(async () => {
        const agent = await this.writable(auth)
        const summary = await commitWrites(this.writeContext(agent), ops, opts)
        this.outbox.kick()
        return summary
      }),
    )
  }

  /**
   * Restore or move a repo: the CAR's records become this agent's records in
   * one commit signed by this agent (the MST, and so the data CID, match the
   * source). The CAR must be a complete, well-formed repo. The firehose gets a
   * `#sync` for it, not a `#commit`: consumers resync the repo from the new
   * commit instead of applying what may be thousands of ops.
   */
  importCar(auth: AgentAuth, car: Uint8Array): Promise<Outcome<CommitSummary | { commit: null }>> {
    return outcome(() =>
      this.exclusive(async () => {
        const agent = await this.writable(auth)
        const ops = importOps(agent.repo, await verifyRepoCar(car), this.reads.paths())
        if (ops.length === 0) return { commit: null }
        const summary = await commitWrites(this.writeContext(agent), ops, {
          maxWrites: Number.POSITIVE_INFINITY,
          announce: 'sync',
        })
        this.outbox.kick()
        return summary
      }),
    )
  }

  // ── reads ────────────────────────────────────────────────────────────────

  async head(): Promise<
    Outcome<{ did: string; handle: string; status: AgentStatus; cid: string; rev: string }>
  > {
    return outcome(async () => {
      const a = await this.readable()
      return { did: a.did, handle: a.handle, status: a.status, cid: cidToString(a.repo.cid), rev: a.repo.rev }
    })
  }

  getRecord(collection: string, rkey: string, cid?: string) {
    return outcome(async () => this.reads.getRecord((await this.readable()).did, collection, rkey, cid))
  }

  listRecords(collection: string, opts: { limit: number; cursor?: string; reverse?: boolean }) {
    return outcome(async () => this.reads.listRecords((await this.readable()).did, collection, opts))
  }

  collections() {
    return outcome(async () => {
      await this.readable()
      return this.reads.collections()
    })
  }

  /** The repo as a CAR stream: whole, or only blocks written after `since` (a rev). */
  exportCar(since?: string): Promise<Outcome<ReadableStream<Uint8Array>>> {
    return outcome(async () => {
      const a = await this.readable()
      return this.reads.exportCar(a.repo.cid, since)
    })
  }

  getBlocks(cids: string[]) {
    return outcome(async () => {
      const a = await this.readable()
      return this.reads.blocksCar(a.repo.cid, cids)
    })
  }

  recordProof(collection: string, rkey: string) {
    return outcome(async () => {
      const a = await this.readable()
      return this.reads.recordProofCar(a.repo, collection, rkey)
    })
  }

  // ── memory (src/memory) ──────────────────────────────────────────────────

  /** Every memory call comes through here (src/memory/agent-memory.ts). */
  memory(auth: AgentAuth, call: MemoryCall): Promise<Outcome<unknown>> {
    return outcome(async () => {
      if (isMemoryWrite(call)) await this.writable(auth)
      else await this.authorize(auth)
      return this.memories.call(call)
    })
  }

  // ── turns (src/agent) ────────────────────────────────────────────────────

  /** The agent's turn rows (src/agent/turns.ts); a new turn needs an active agent. */
  turn(auth: AgentAuth, call: TurnCall): Promise<Outcome<TurnRow>> {
    return outcome(async () => {
      if (call.op !== 'create') await this.authorize(auth)
      else await this.writable(auth)
      const row = this.turns.call(call)
      if (call.op === 'create') await this.sweep.arm()
      return row
    })
  }

  /** The agent's schedules (src/agent/schedules.ts): firings queue turns from the alarm. */
  schedule(auth: AgentAuth, call: ScheduleCall): Promise<Outcome<ScheduleReply>> {
    return outcome(async () => {
      if (call.op === 'list') await this.authorize(auth)
      else await this.writable(auth)
      return this.schedules.call(call)
    })
  }

  // ── inbox (src/comms) ────────────────────────────────────────────────────

  /** A routed comms record for this agent (src/comms/agent-inbox.ts). */
  deliver(d: Delivery): Promise<Outcome<DeliveryResult>> {
    return outcome(async () => {
      await this.readable()
      return this.comms.deliver(d)
    })
  }

  /** The agent's own inbox calls (src/comms/inbox-calls.ts): may it subscribe, list, ack. */
  inbox(auth: AgentAuth, call: InboxCall): Promise<Outcome<InboxReply>> {
    return outcome(async () => {
      await this.authorize(auth)
      return inboxCall(this.comms.items, call)
    })
  }

  /** The inbox push socket (`agent.comms.subscribeInbox`), forwarded here once authorised. */
  override async fetch(request: Request): Promise<Response> {
    return acceptInboxSocket(this.ctx, request)
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    closeInboxSocket(ws, code)
  }

  // ── blobs (src/pds/blob-calls.ts) ────────────────────────────────────────

  /** Blob metadata: register an upload (an active agent's), read one, list them. */
  blobs(call: BlobCall): Promise<Outcome<BlobReply>> {
    return outcome(async () => {
      if (call.op === 'register') await this.writable(call.auth)
      else if (call.op === 'list') await this.agent()
      return blobCall(this.blobTable, call)
    })
  }
}
