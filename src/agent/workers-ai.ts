/**
 * Workers AI chat models through the Worker's `AI` binding, as a pi-ai API
 * provider. pi-ai's own `cloudflare-workers-ai` provider calls Cloudflare's
 * REST API with an account id and token; a Worker already holds the binding
 * and needs neither.
 *
 * One call per model step, not streamed: `AI.run(model, {messages, tools,
 * max_tokens})` answers whole, and the answer is replayed as pi-ai's event
 * sequence (start, text/toolcall events, done) so pi-agent-core sees an
 * ordinary provider.
 */
import {
  type AssistantMessage,
  type AssistantMessageEventStream,
  type Context,
  createAssistantMessageEventStream,
  type Message,
  type Model,
  parseStreamingJson,
  registerApiProvider,
  type SimpleStreamOptions,
  type StopReason,
  type ToolCall,
  unregisterApiProviders,
} from '@mariozechner/pi-ai'
import type { AiBinding } from '../memory/embedder.ts'
import { emptyUsage } from './usage.ts'

export const WORKERS_AI_DEFAULT_MODEL = '@cf/meta/llama-3.3-70b-instruct-fp8-fast'

/** A chat message as Workers AI takes it (OpenAI's chat shape, content always a string). */
export interface WorkersAiMessage {
  role: 'system' | 'user' | 'assistant' | 'tool'
  content: string
  tool_calls?: { id: string; type: 'function'; function: { name: string; arguments: string } }[]
  tool_call_id?: string
}

export interface WorkersAiTool {
  type: 'function'
  function: { name: string; description: string; parameters: unknown }
}

let registrations = 0

function textOf(content: Message['content']): string {
  if (typeof content === 'string') return content
  return content
    .map((c) => (c.type === 'text' ? c.text : c.type === 'image' ? '(image omitted)' : ''))
    .join('')
}

/** pi-ai's conversation as Workers AI messages. */
export function toWorkersAiMessages(context: Context): WorkersAiMessage[] {
  const out: WorkersAiMessage[] = []
  if (context.systemPrompt) out.push({ role: 'system', content: context.systemPrompt })
  for (const m of context.messages) {
    if (m.role === 'user') out.push({ role: 'user', content: textOf(m.content) })
    else if (m.role === 'toolResult')
      out.push({ role: 'tool', tool_call_id: m.toolCallId, content: textOf(m.content) })
    else {
      // A failed or aborted step is not replayed (pi-ai's own providers drop it too).
      if (m.stopReason === 'error' || m.stopReason === 'aborted') continue
      const text = m.content.map((c) => (c.type === 'text' ? c.text : '')).join('')
      const calls = m.content.filter((c): c is ToolCall => c.type === 'toolCall')
      if (!text && calls.length === 0) continue
      out.push({
        role: 'assistant',
        // Workers AI's schemas want a string, never null.
        content: text,
        ...(calls.length
          ? {
              tool_calls: calls.map((c) => ({
                id: c.id,
                type: 'function' as const,
                function: { name: c.name, arguments: JSON.stringify(c.arguments) },
              })),
            }
          : {}),
      })
    }
  }
  return out
}

export function toWorkersAiTools(context: Context): WorkersAiTool[] | undefined {
  if (!context.tools?.length) return undefined
  return context.tools.map((t) => ({
    type: 'function',
    // A JSON round trip: TypeBox schemas carry symbol keys the binding has no use for.
    function: {
      name: t.name,
      description: t.description,
      parameters: JSON.parse(JSON.stringify(t.parameters)),
    },
  }))
}

function objectArgs(raw: unknown): Record<string, unknown> {
  // Same tolerance as pi-ai's OpenAI provider for slightly malformed JSON.
  const v = typeof raw === 'string' ? parseStreamingJson(raw) : raw
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {}
}

interface Answer {
  text: string
  calls: { id?: string; name: string; arguments: Record<string, unknown> }[]
  usage?: { prompt_tokens?: number; completion_tokens?: number; total_tokens?: number }
  length: boolean
}

/** Workers AI's answer, in any of the shapes its chat models use; throws on anything else. */
export function parseWorkersAiAnswer(res: unknown): Answer {
  if (typeof res === 'string') return { text: res, calls: [], length: false }
  if (!res || typeof res !== 'object') throw new Error('malformed response: not an object')
  let r = res as Record<string, unknown>
  let length = false
  // Some newer models answer in OpenAI's chat-completion envelope.
  const choice = Array.isArray(r.choices) ? (r.choices[0] as Record<string, unknown> | undefined) : undefined
  if (choice && typeof choice.message === 'object' && choice.message) {
    length = choice.finish_reason === 'length'
    const msg = choice.message as Record<string, unknown>
    r = { response: msg.content ?? '', tool_calls: msg.tool_calls, usage: r.usage }
  }
  if (!('response' in r) && !('tool_calls' in r))
    throw new Error('malformed response: no response or tool_calls')
  const text =
    typeof r.response === 'string' ? r.response : r.response == null ? '' : JSON.stringify(r.response)
  const calls: Answer['calls'] = []
  for (const raw of Array.isArray(r.tool_calls) ? r.tool_calls : []) {
    if (!raw || typeof raw !== 'object') continue
    const c = raw as Record<string, unknown>
    const fn = c.function && typeof c.function === 'object' ? (c.function as Record<string, unknown>) : c
    if (typeof fn.name !== 'string' || !fn.name) continue
    calls.push({
      ...(typeof c.id === 'string' && c.id ? { id: c.id } : {}),
      name: fn.name,
      arguments: objectArgs(fn.arguments),
    })
  }
  const usage = r.usage && typeof r.usage === 'object' ? (r.usage as Answer['usage']) : undefined
  return { text, calls, length, ...(usage ? { usage } : {}) }
}

class AbortError extends Error {}

/** `call`, or an AbortError as soon as `signal` fires: a binding that ignores the signal must not hold the turn. */
function abortable<T>(call: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return call
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new AbortError())
    signal.addEventListener('abort', onAbort, { once: true })
    call.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
  })
}

/** One model step on the binding, as a pi-ai event stream. */
function streamOn(ai: AiBinding) {
  return (
    model: Model<string>,
    context: Context,
    options?: SimpleStreamOptions,
  ): AssistantMessageEventStream => {
    const stream = createAssistantMessageEventStream()
    const message: AssistantMessage = {
      role: 'assistant',
      content: [],
      api: model.api,
      provider: model.provider,
      model: model.id,
      usage: emptyUsage(),
      stopReason: 'stop',
      timestamp: Date.now(),
    }
    const end = (stopReason: 'error' | 'aborted', errorMessage: string) => {
      const m = { ...message, stopReason, errorMessage }
      stream.push({ type: 'error', reason: stopReason, error: m })
      stream.end(m)
    }
    const signal = options?.signal
    void (async () => {
      try {
        if (signal?.aborted) throw new AbortError()
        const input = {
          messages: toWorkersAiMessages(context),
          max_tokens: options?.maxTokens ?? model.maxTokens,
          ...(options?.temperature !== undefined ? { temperature: options.temperature } : {}),
          ...(context.tools?.length ? { tools: toWorkersAiTools(context) } : {}),
        }
        const res = await abortable(ai.run(model.id, input, signal ? { signal } : undefined), signal)
        const answer = parseWorkersAiAnswer(res)
        if (answer.usage) {
          const input = answer.usage.prompt_tokens ?? 0
          const output = answer.usage.completion_tokens ?? 0
          message.usage = {
            ...emptyUsage(),
            input,
            output,
            totalTokens: answer.usage.total_tokens ?? input + output,
          }
        }
        stream.push({ type: 'start', partial: { ...message, content: [] } })
        if (answer.text) {
          const i = message.content.length
          message.content.push({ type: 'text', text: answer.text })
          stream.push({
            type: 'text_start',
            contentIndex: i,
            partial: { ...message, content: [...message.content] },
          })
          stream.push({ type: 'text_delta', contentIndex: i, delta: answer.text, partial: { ...message } })
          stream.push({ type: 'text_end', contentIndex: i, content: answer.text, partial: { ...message } })
        }
        // Ids unique within the conversation and the same on a retry: counted from the calls before.
        let n = context.messages.reduce(
          (k, m) => k + (m.role === 'assistant' ? m.content.filter((c) => c.type === 'toolCall').length : 0),
          0,
        )
        for (const c of answer.calls) {
          n++
          const toolCall: ToolCall = {
            type: 'toolCall',
            id: c.id ?? `call_${n}`,
            name: c.name,
            arguments: c.arguments,
          }
          const i = message.content.length
          message.content.push(toolCall)
          stream.push({
            type: 'toolcall_start',
            contentIndex: i,
            partial: { ...message, content: [...message.content] },
          })
          stream.push({
            type: 'toolcall_delta',
            contentIndex: i,
            delta: JSON.stringify(c.arguments),
            partial: { ...message },
          })
          stream.push({ type: 'toolcall_end', contentIndex: i, toolCall, partial: { ...message } })
        }
        const reason: Extract<StopReason, 'stop' | 'length' | 'toolUse'> = answer.calls.length
          ? 'toolUse'
          : answer.length
            ? 'length'
            : 'stop'
        message.stopReason = reason
        stream.push({ type: 'done', reason, message })
        stream.end(message)
      } catch (err) {
        if (err instanceof AbortError || signal?.aborted) end('aborted', 'Request was aborted')
        // The binding's errors carry no credentials (it has none to leak); the model id helps.
        else end('error', `Workers AI ${model.id}: ${err instanceof Error ? err.message : String(err)}`)
      }
    })()
    return stream
  }
}

/**
 * Register a provider bound to `ai` under an api id of its own and return the
 * model for `id`; `unregister()` it when the turn ends. Per registration, not
 * per isolate: the binding is the `env` of one invocation.
 */
export function registerWorkersAiModel(ai: AiBinding, id: string = WORKERS_AI_DEFAULT_MODEL) {
  registrations++
  const api = `workers-ai-binding-${registrations}-${Math.random().toString(36).slice(2, 8)}`
  const stream = streamOn(ai)
  registerApiProvider({ api, stream, streamSimple: stream }, api)
  const model: Model<string> = {
    id,
    name: id,
    api,
    provider: 'workers-ai',
    baseUrl: '',
    reasoning: false,
    input: ['text'],
    cost: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 },
    // Llama 3.3 70B fp8-fast's window; Workers AI's own default max_tokens (256) is too short for turns.
    contextWindow: 24_000,
    maxTokens: 2048,
  }
  return { model, unregister: () => unregisterApiProviders(api) }
}
