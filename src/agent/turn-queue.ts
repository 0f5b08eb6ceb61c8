/**
 * The turns Queue's consumer. Each message is one turn of one agent: mark it
 * running, run it (turn.ts), write its note, mark it done. A turn whose model
 * failed or timed out is retried with backoff; after MAX_TURN_ATTEMPTS it is
 * marked failed, with the error, and acked. Delivery is at least once, so
 * every step is idempotent: a finished turn is not run again, and the note
 * (at the turn id) and tool writes (turn-ids.ts) are written once.
 */
import type { Env } from '../env.ts'
import { unwrap } from '../http/xrpc.ts'
import { NOTE } from '../memory/memory-text.ts'
import { agentStub } from '../pds/agents.ts'
import { runTurn, type TurnOutcome } from './turn.ts'
import type { TurnCall, TurnRow, TurnSource } from './turns.ts'

/** The inbox item that woke the agent, by reference (the record is fetched, proven, by the turn). */
export interface InboxTrigger {
  uri: string
  cid: string
  collection: string
  sender: string
}

export interface TurnMessage {
  did: string
  turn: string
  /** The prompt: the operator's text, the schedule's text, or the inbox item rendered (wake.ts). */
  text: string
  /** Absent on messages queued before sources existed: a prompt. */
  source?: TurnSource
  item?: InboxTrigger
}

/** Attempts before a turn is failed for good (the queue's max_retries leaves one spare). */
export const MAX_TURN_ATTEMPTS = 3

const ADMIN = { kind: 'admin' } as const

/** 2, 4, 8... seconds, capped at a minute: a flaky provider gets room to recover. */
const backoff = (attempts: number) => Math.min(60, 2 ** attempts)

async function turnCall(env: Env, did: string, call: TurnCall): Promise<TurnRow> {
  return unwrap(await agentStub(env, did).turn(ADMIN, call))
}

/** The note a finished turn leaves in the agent's memory. */
function noteText(text: string, out: TurnOutcome): string {
  const calls = out.calls.map((c) => {
    const wrote = c.uris.length ? ` → ${c.uris.join(', ')}` : ''
    const failed = c.error ? ` (failed: ${c.error})` : ''
    return `- ${c.tool} ${JSON.stringify(c.args)}${wrote}${failed}`
  })
  return [
    `Asked: ${text}`,
    `Answer: ${out.answer}`,
    `Tool calls:${calls.length ? `\n${calls.join('\n')}` : ' none'}`,
    `Model: ${out.label}`,
  ].join('\n')
}

/** Write the turn's note at the turn id, unless an earlier attempt already did. */
async function writeNote(env: Env, m: TurnMessage, out: TurnOutcome): Promise<string> {
  const stub = agentStub(env, m.did)
  const uri = `at://${m.did}/${NOTE}/${m.turn}`
  if ((await stub.getRecord(NOTE, m.turn)).ok) return uri
  const record = {
    $type: NOTE,
    text: noteText(m.text, out),
    tags: ['turn'],
    createdAt: new Date().toISOString(),
  }
  unwrap(
    await stub.write(ADMIN, [{ action: 'create', collection: NOTE, rkey: m.turn, record, swapRecord: null }]),
  )
  return uri
}

async function runOne(env: Env, msg: Message<TurnMessage>): Promise<void> {
  const m = msg.body
  // The row counts attempts across Queue messages (the sweep may send a turn again, turn-sweep.ts).
  let attempt = msg.attempts
  try {
    const row = await turnCall(env, m.did, { op: 'start', id: m.turn, attempts: msg.attempts })
    if (row.state === 'done' || row.state === 'failed') return msg.ack()
    attempt = row.attempts
    // A previous attempt wrote the note but died before marking the turn done.
    if ((await agentStub(env, m.did).getRecord(NOTE, m.turn)).ok) {
      await turnCall(env, m.did, {
        op: 'finish',
        id: m.turn,
        state: 'done',
        note: `at://${m.did}/${NOTE}/${m.turn}`,
      })
      return msg.ack()
    }
    const out = await runTurn(env, m)
    const note = await writeNote(env, m, out)
    await turnCall(env, m.did, { op: 'finish', id: m.turn, state: 'done', note })
    console.log('turn done', m.turn, `${out.ms} ms`, out.label)
    msg.ack()
  } catch (err) {
    const error = err instanceof Error ? err.message : String(err)
    const last = attempt >= MAX_TURN_ATTEMPTS
    console.error('turn failed', m.turn, `attempt ${attempt}`, error)
    try {
      await turnCall(env, m.did, { op: 'finish', id: m.turn, state: last ? 'failed' : 'queued', error })
    } catch (e) {
      // The agent's object is unreachable: leave the turn to the queue's own retries.
      console.error('turn: could not record failure', m.turn, e instanceof Error ? e.message : String(e))
      return msg.retry({ delaySeconds: backoff(attempt) })
    }
    if (last) msg.ack()
    else msg.retry({ delaySeconds: backoff(attempt) })
  }
}

export async function runTurns(batch: MessageBatch<TurnMessage>, env: Env): Promise<void> {
  // Turns of different agents are independent; each waits mostly on its model.
  await Promise.all(batch.messages.map((msg) => runOne(env, msg)))
}
