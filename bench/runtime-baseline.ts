/**
 * The runtime bench's peer baseline: pi-agent-core's `Agent` in this Node
 * process on pi-ai's faux provider, with the same script (recall →
 * send_message → answer; recall → answer for the prompt) and tools that only
 * return text: the floor of the same agent loop with no network, no queue,
 * no memory search and no signed commits. Cloudflare's Agents SDK would be
 * the closer peer (a Durable Object per agent) but is not installed.
 */
import { Agent, type AgentTool } from '@mariozechner/pi-agent-core'
import {
  type AssistantMessage,
  type Context,
  fauxAssistantMessage,
  fauxText,
  fauxToolCall,
  registerFauxProvider,
  Type,
} from '@mariozechner/pi-ai'
import { ANSWER, MESSAGE, QUESTION } from './runtime-network.ts'

export const PEER = 'pi-agent-core in process'
const BASELINE_TURNS = 2000

const textResult = (text: string) => ({ content: [{ type: 'text' as const, text }], details: {} })

/** One in-process turn on the faux provider; times to the send_message call and to the end, ms. */
async function baselineTurn(reply: boolean): Promise<{ write: number; done: number }> {
  const faux = registerFauxProvider({ provider: 'baseline', models: [{ id: 'scripted' }] })
  const step = (ctx: Context): AssistantMessage => {
    const results = ctx.messages.filter((m) => m.role === 'toolResult').length
    if (results === 0)
      return fauxAssistantMessage([fauxToolCall('recall', { query: QUESTION }, { id: 'call_1' })], {
        stopReason: 'toolUse',
      })
    if (results === 1 && reply)
      return fauxAssistantMessage(
        [fauxToolCall('send_message', { to: 'did:example:a', text: `${ANSWER}nothing` }, { id: 'call_2' })],
        { stopReason: 'toolUse' },
      )
    return fauxAssistantMessage(fauxText('Answered.'))
  }
  faux.setResponses([step, step, step, step])
  let write = Number.NaN
  const t0 = performance.now()
  const tools: AgentTool[] = [
    {
      name: 'recall',
      label: 'Recall',
      description: 'Search your memory.',
      parameters: Type.Object({ query: Type.String() }),
      execute: async () => textResult('nothing found'),
    },
    {
      name: 'send_message',
      label: 'Send message',
      description: 'Send a text message to another agent.',
      parameters: Type.Object({ to: Type.String(), text: Type.String() }),
      execute: async () => {
        write = performance.now() - t0
        return textResult('sent')
      },
    },
  ]
  try {
    const agent = new Agent({
      initialState: { systemPrompt: 'Answer briefly.', model: faux.getModel(), tools, thinkingLevel: 'off' },
      toolExecution: 'sequential',
    })
    await agent.prompt(`Message from did:example:a (at://did:example:a/${MESSAGE}/x): ${QUESTION}`)
    return { write, done: performance.now() - t0 }
  } finally {
    faux.unregister()
  }
}

export async function baseline(concurrency: number) {
  const write: number[] = []
  const done: number[] = []
  const promptDone: number[] = []
  const per = Math.ceil(BASELINE_TURNS / concurrency)
  for (let warm = 0; warm < 2; warm++) {
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        for (let i = 0; i < per; i++) {
          const r = await baselineTurn(true)
          const p = await baselineTurn(false)
          if (warm === 0) continue
          write.push(r.write)
          done.push(r.done)
          promptDone.push(p.done)
        }
      }),
    )
  }
  return { write, done, promptDone }
}
