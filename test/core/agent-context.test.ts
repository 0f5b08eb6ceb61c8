/**
 * The turn's bounded context (src/agent/context.ts `boundMessages`): a turn
 * under budget is untouched; over budget, the oldest tool results and answers
 * are compacted first, the prompt and the latest exchanges stay whole, no
 * message is dropped and every tool call keeps its result.
 */
import type { AgentMessage } from '@mariozechner/pi-agent-core'
import type { AssistantMessage, Message, ToolCall, ToolResultMessage, UserMessage } from '@mariozechner/pi-ai'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { boundMessages, messageSize, TURN_BUDGET } from '../../src/agent/context.ts'
import { emptyUsage } from '../../src/agent/usage.ts'

const usage = emptyUsage()

const user = (text: string): UserMessage => ({ role: 'user', content: text, timestamp: 0 })

function assistant(text: string, calls: { id: string; name: string; args?: Record<string, unknown> }[] = []) {
  const content: AssistantMessage['content'] = []
  if (text) content.push({ type: 'text', text })
  for (const c of calls)
    content.push({ type: 'toolCall', id: c.id, name: c.name, arguments: c.args ?? {} } satisfies ToolCall)
  const m: AssistantMessage = {
    role: 'assistant',
    content,
    api: 'faux',
    provider: 'offline',
    model: 'scripted',
    usage,
    stopReason: calls.length ? 'toolUse' : 'stop',
    timestamp: 0,
  }
  return m
}

const result = (id: string, name: string, text: string): ToolResultMessage => ({
  role: 'toolResult',
  toolCallId: id,
  toolName: name,
  content: [{ type: 'text', text }],
  details: { n: text.length },
  isError: false,
  timestamp: 0,
})

const size = messageSize
const total = (ms: AgentMessage[]) => (ms as Message[]).reduce((n, m) => n + size(m), 0)

/** A turn: the prompt, then `steps` tool calls each with its result, then the answer. */
function turn(steps: number, resultChars: number, answerChars = 50): AgentMessage[] {
  const out: Message[] = [user('Remember everything about the launch')]
  for (let i = 1; i <= steps; i++) {
    out.push(
      assistant(`step ${i}: ${'t'.repeat(300)}`, [{ id: `call_${i}`, name: 'recall', args: { q: i } }]),
    )
    out.push(result(`call_${i}`, 'recall', `${i}:${'r'.repeat(resultChars)}`))
  }
  out.push(assistant('a'.repeat(answerChars)))
  return out
}

/** Every tool call in the assistant messages has exactly one result with its id, after it. */
function pairs(ms: AgentMessage[]): [string, string][] {
  const msgs = ms as Message[]
  const out: [string, string][] = []
  msgs.forEach((m, i) => {
    if (m.role !== 'assistant') return
    for (const c of m.content) {
      if (c.type !== 'toolCall') continue
      const results = msgs.filter((r) => r.role === 'toolResult' && r.toolCallId === c.id)
      expect(results).toHaveLength(1)
      expect(msgs.indexOf(results[0]!)).toBeGreaterThan(i)
      out.push([c.id, (results[0] as ToolResultMessage).toolName])
    }
  })
  return out
}

const textOf = (m: AgentMessage) => {
  const msg = m as Message
  return typeof msg.content === 'string'
    ? msg.content
    : msg.content.map((c) => (c.type === 'text' ? c.text : '')).join('')
}

describe('boundMessages', () => {
  it('leaves a turn under the budget untouched (the very same array)', () => {
    const msgs = turn(3, 1000)
    expect(total(msgs)).toBeLessThan(TURN_BUDGET)
    expect(boundMessages(msgs)).toBe(msgs)
    expect(boundMessages(msgs, total(msgs))).toBe(msgs)
    expect(boundMessages([])).toEqual([])
  })

  it('compacts the oldest tool results and answers first, keeping the prompt and the last four whole', () => {
    const msgs = turn(10, 5000)
    const before = structuredClone(msgs)
    const budget = 30_000
    expect(total(msgs)).toBeGreaterThan(budget)
    const out = boundMessages(msgs, budget)
    // Nothing was written back into the turn's own messages.
    expect(msgs).toEqual(before)
    expect(out).not.toBe(msgs)
    // No message dropped, none reordered, roles kept.
    expect(out).toHaveLength(msgs.length)
    expect(out.map((m) => (m as Message).role)).toEqual(msgs.map((m) => (m as Message).role))
    // The prompt and the last four exchanges are the originals.
    expect(out[0]).toBe(msgs[0])
    for (let i = msgs.length - 4; i < msgs.length; i++) expect(out[i]).toBe(msgs[i])
    // Within budget, and by compacting a prefix of the middle: oldest first.
    expect(total(out)).toBeLessThanOrEqual(budget)
    const changed = out.map((m, i) => m !== msgs[i])
    const last = changed.lastIndexOf(true)
    expect(last).toBeGreaterThan(0)
    for (let i = 1; i <= last; i++) expect(changed[i], `message ${i}`).toBe(true)
    expect(changed.slice(last + 1).every((c) => !c)).toBe(true)
    // A compacted result says what it stood for; a compacted answer is clipped, its calls kept.
    const r = out[2] as ToolResultMessage
    expect(r).toMatchObject({ role: 'toolResult', toolCallId: 'call_1', toolName: 'recall', isError: false })
    expect(textOf(r)).toBe('[compacted: 5002 characters of recall output]')
    const a = out[1] as AssistantMessage
    expect(textOf(a)).toBe(`step 1: ${'t'.repeat(192)}…`)
    expect(a.content.find((c) => c.type === 'toolCall')).toEqual(
      (msgs[1] as AssistantMessage).content.find((c) => c.type === 'toolCall'),
    )
    expect(pairs(out)).toEqual(pairs(msgs))
  })

  it('never compacts the prompt or the last four, even when that leaves the turn over budget', () => {
    const msgs: AgentMessage[] = [
      user('p'.repeat(10_000)),
      assistant('one', [{ id: 'c1', name: 'get_record' }]),
      result('c1', 'get_record', 'x'.repeat(10_000)),
      assistant('two', [{ id: 'c2', name: 'get_record' }]),
      result('c2', 'get_record', 'y'.repeat(10_000)),
      assistant('three'),
    ]
    const out = boundMessages(msgs, 1000)
    expect(out).toHaveLength(6)
    expect(out[0]).toBe(msgs[0])
    expect(out.slice(2)).toEqual(msgs.slice(2))
    // Only message 1 may be compacted, and it is already short.
    expect(total(out)).toBeGreaterThan(1000)
    expect(pairs(out)).toEqual([
      ['c1', 'get_record'],
      ['c2', 'get_record'],
    ])
  })

  it('empties old thinking and leaves user messages in the middle as they are', () => {
    const think: AssistantMessage = {
      ...assistant('', [{ id: 'c1', name: 'recall' }]),
      content: [
        { type: 'thinking', thinking: 'h'.repeat(5000) },
        { type: 'toolCall', id: 'c1', name: 'recall', arguments: { q: 'x' } },
      ],
    }
    const steer = user('s'.repeat(3000))
    const msgs: AgentMessage[] = [
      user('go'),
      think,
      result('c1', 'recall', 'r'.repeat(5000)),
      steer,
      ...turn(2, 10).slice(1),
    ]
    const out = boundMessages(msgs, 4000)
    expect((out[1] as AssistantMessage).content).toEqual([
      { type: 'thinking', thinking: '' },
      { type: 'toolCall', id: 'c1', name: 'recall', arguments: { q: 'x' } },
    ])
    expect(out[3]).toBe(steer)
    expect(pairs(out).map(([id]) => id)).toEqual(['c1', 'call_1', 'call_2'])
  })

  it('never makes a message bigger: a tiny result is left whole, and the turn fits when it can', () => {
    // Ten one-character results before a large one: their stubs would be longer than they are.
    const msgs: Message[] = [user('go')]
    for (let i = 0; i < 10; i++) {
      msgs.push(assistant('', [{ id: `t${i}`, name: 'recall' }]), result(`t${i}`, 'recall', 'x'))
    }
    msgs.push(
      assistant('', [{ id: 'big', name: 'get_record' }]),
      result('big', 'get_record', 'b'.repeat(5000)),
    )
    msgs.push(...(turn(2, 10).slice(1) as Message[]))
    const bigSize = 5000
    // A budget only the big result's compaction can meet, with little room to spare.
    const budget = total(msgs) - bigSize + 60
    const out = boundMessages(msgs, budget) as Message[]
    out.forEach((m, i) => {
      expect(size(m), `message ${i}`).toBeLessThanOrEqual(size(msgs[i]!))
    })
    expect(textOf(out[22]!)).toBe('[compacted: 5000 characters of get_record output]')
    expect(total(out)).toBeLessThanOrEqual(budget)
  })

  it('keeps every property on any turn (generated)', () => {
    const step = fc.record({
      text: fc.nat(800),
      calls: fc.array(fc.record({ name: fc.constantFrom('recall', 'get_record'), chars: fc.nat(6000) }), {
        maxLength: 3,
      }),
    })
    fc.assert(
      fc.property(
        fc.nat(3000),
        fc.array(step, { maxLength: 12 }),
        fc.integer({ min: 0, max: 40_000 }),
        (prompt, steps, budget) => {
          const msgs: Message[] = [user('p'.repeat(prompt))]
          let id = 0
          for (const s of steps) {
            const calls = s.calls.map((c) => ({ id: `c${++id}`, name: c.name, args: { n: c.chars } }))
            msgs.push(assistant('t'.repeat(s.text), calls))
            for (const [i, c] of s.calls.entries())
              msgs.push(result(calls[i]!.id, c.name, 'r'.repeat(c.chars)))
          }
          const out = boundMessages(msgs, budget) as Message[]
          expect(out).toHaveLength(msgs.length)
          if (total(msgs) <= budget) expect(out).toBe(msgs)
          expect(out[0]).toBe(msgs[0])
          for (let i = Math.max(1, msgs.length - 4); i < msgs.length; i++) expect(out[i]).toBe(msgs[i])
          out.forEach((m, i) => {
            expect(m.role).toBe(msgs[i]!.role)
            expect(size(m)).toBeLessThanOrEqual(size(msgs[i]!))
          })
          expect(pairs(out)).toEqual(pairs(msgs))
          // What compacting every middle message would leave: if that fits, the result fits.
          const floor = msgs.reduce((n, m, i) => {
            if (i === 0 || i >= msgs.length - 4) return n + size(m)
            if (m.role === 'toolResult')
              return (
                n + Math.min(size(m), `[compacted: ${size(m)} characters of ${m.toolName} output]`.length)
              )
            if (m.role === 'assistant')
              return (
                n +
                m.content.reduce(
                  (k, c) =>
                    k +
                    (c.type === 'text'
                      ? Math.min(c.text.length, 201)
                      : c.type === 'toolCall'
                        ? JSON.stringify(c.arguments).length
                        : 0),
                  0,
                )
              )
            return n + size(m)
          }, 0)
          if (floor <= budget) expect(total(out)).toBeLessThanOrEqual(budget)
        },
      ),
      { numRuns: 300 },
    )
  })
})
