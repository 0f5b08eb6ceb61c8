/**
 * The Workers AI provider's contract, against a recording stand-in for the
 * `AI` binding (Workers AI has no local implementation): what it sends, how it
 * reads each answer shape, errors and aborts, a real Agent's tool round trip,
 * and where turnModel puts it among the providers.
 */
import { Agent, type AgentTool } from '@mariozechner/pi-agent-core'
import {
  type AssistantMessage,
  type AssistantMessageEvent,
  type Context,
  streamSimple,
  Type,
} from '@mariozechner/pi-ai'
import { afterEach, describe, expect, it } from 'vitest'
import { OFFLINE_LABEL, turnModel } from '../../src/agent/models.ts'
import { emptyUsage } from '../../src/agent/usage.ts'
import { registerWorkersAiModel, WORKERS_AI_DEFAULT_MODEL } from '../../src/agent/workers-ai.ts'
import type { Env } from '../../src/env.ts'
import type { AiBinding } from '../../src/memory/embedder.ts'

interface Recorded {
  model: string
  input: Record<string, unknown>
  signal?: AbortSignal
}

/** A binding whose `run` records its inputs and answers from `answers` in turn (a function may throw or hang). */
function recordingAi(...answers: (unknown | ((input: Record<string, unknown>) => unknown))[]) {
  const calls: Recorded[] = []
  const ai: AiBinding = {
    async run(model, input, options) {
      calls.push({
        model,
        input: input as Record<string, unknown>,
        ...(options?.signal ? { signal: options.signal } : {}),
      })
      const a = answers.shift()
      return typeof a === 'function' ? await a(input as Record<string, unknown>) : a
    },
  }
  return { ai, calls }
}

const releases: (() => void)[] = []
afterEach(() => {
  for (const r of releases.splice(0)) r()
})

function register(ai: AiBinding, id?: string) {
  const r = registerWorkersAiModel(ai, id)
  releases.push(r.unregister)
  return r.model
}

async function run(ai: AiBinding, context: Context, signal?: AbortSignal) {
  const s = streamSimple(register(ai), context, signal ? { signal } : {})
  const events: AssistantMessageEvent[] = []
  for await (const e of s) events.push(e)
  return { events, types: events.map((e) => e.type), message: await s.result() }
}

const ASK: Context = { messages: [{ role: 'user', content: 'hi', timestamp: 1 }] }

const tool = {
  name: 'remember',
  description: 'Keep a note.',
  parameters: Type.Object({ text: Type.String({ description: 'the note' }) }),
}

describe('Workers AI provider: what it sends', () => {
  it('converts the system prompt, user text, assistant tool calls and tool results, and the tools', async () => {
    const { ai, calls } = recordingAi({ response: 'ok' })
    const assistant = (content: AssistantMessage['content'], stopReason: AssistantMessage['stopReason']) =>
      ({
        role: 'assistant',
        content,
        api: 'x',
        provider: 'x',
        model: 'x',
        usage: emptyUsage(),
        stopReason,
        timestamp: 1,
      }) as AssistantMessage
    await run(ai, {
      systemPrompt: 'Be brief.',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Remember ' },
            { type: 'text', text: 'tea' },
          ],
          timestamp: 1,
        },
        // A failed step is never replayed.
        assistant([{ type: 'text', text: 'half an answ' }], 'error'),
        assistant(
          [
            { type: 'thinking', thinking: 'hmm' },
            { type: 'text', text: 'Saving.' },
            { type: 'toolCall', id: 'call_1', name: 'remember', arguments: { text: 'tea' } },
          ],
          'toolUse',
        ),
        {
          role: 'toolResult',
          toolCallId: 'call_1',
          toolName: 'remember',
          content: [{ type: 'text', text: 'saved' }],
          isError: false,
          timestamp: 1,
        },
        assistant([{ type: 'text', text: 'Saved tea.' }], 'stop'),
        { role: 'user', content: 'thanks', timestamp: 1 },
      ],
      tools: [tool],
    })
    expect(calls).toHaveLength(1)
    expect(calls[0]!.model).toBe(WORKERS_AI_DEFAULT_MODEL)
    expect(calls[0]!.input).toEqual({
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Remember tea' },
        {
          role: 'assistant',
          content: 'Saving.',
          tool_calls: [
            { id: 'call_1', type: 'function', function: { name: 'remember', arguments: '{"text":"tea"}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'call_1', content: 'saved' },
        { role: 'assistant', content: 'Saved tea.' },
        { role: 'user', content: 'thanks' },
      ],
      tools: [
        {
          type: 'function',
          function: {
            name: 'remember',
            description: 'Keep a note.',
            parameters: {
              type: 'object',
              properties: { text: { type: 'string', description: 'the note' } },
              required: ['text'],
            },
          },
        },
      ],
      max_tokens: 2048,
    })
  })

  it('sends no tools when there are none, and the model named', async () => {
    const { ai, calls } = recordingAi({ response: 'ok' })
    const s = streamSimple(register(ai, '@cf/qwen/qwen3-30b-a3b-fp8'), ASK, { maxTokens: 100 })
    await s.result()
    expect(calls[0]!.model).toBe('@cf/qwen/qwen3-30b-a3b-fp8')
    expect(calls[0]!.input).toEqual({ messages: [{ role: 'user', content: 'hi' }], max_tokens: 100 })
  })
})

describe('Workers AI provider: what it reads', () => {
  it('a text answer: start, text events, done, with usage', async () => {
    const { ai } = recordingAi({
      response: 'Hello there.',
      usage: { prompt_tokens: 12, completion_tokens: 3, total_tokens: 15 },
    })
    const { types, events, message } = await run(ai, ASK)
    expect(types).toEqual(['start', 'text_start', 'text_delta', 'text_end', 'done'])
    expect(events[2]).toMatchObject({ delta: 'Hello there.' })
    expect(message.stopReason).toBe('stop')
    expect(message.content).toEqual([{ type: 'text', text: 'Hello there.' }])
    expect(message.provider).toBe('workers-ai')
    expect(message.usage).toMatchObject({ input: 12, output: 3, totalTokens: 15 })
  })

  it('a bare string answer is text', async () => {
    const { ai } = recordingAi('just text')
    const { message } = await run(ai, ASK)
    expect(message.content).toEqual([{ type: 'text', text: 'just text' }])
  })

  it('tool calls as {name, arguments} with object arguments', async () => {
    const { ai } = recordingAi({
      response: '',
      tool_calls: [{ name: 'remember', arguments: { text: 'tea' } }],
    })
    const { types, message } = await run(ai, ASK)
    expect(types).toEqual(['start', 'toolcall_start', 'toolcall_delta', 'toolcall_end', 'done'])
    expect(message.stopReason).toBe('toolUse')
    expect(message.content).toEqual([
      { type: 'toolCall', id: 'call_1', name: 'remember', arguments: { text: 'tea' } },
    ])
  })

  it('tool calls in the OpenAI shape with string arguments, ids kept, beside text', async () => {
    const { ai } = recordingAi({
      response: 'Let me check.',
      tool_calls: [
        { id: 'abc', type: 'function', function: { name: 'recall', arguments: '{"query":"tea"}' } },
        { type: 'function', function: { name: 'remember', arguments: '{"text":"x"}' } },
        { name: 'remember', arguments: '' },
        { arguments: {} }, // no name: nothing to call
      ],
    })
    const { types, message } = await run(ai, ASK)
    expect(types).toEqual([
      'start',
      'text_start',
      'text_delta',
      'text_end',
      ...Array(3).fill(['toolcall_start', 'toolcall_delta', 'toolcall_end']).flat(),
      'done',
    ])
    expect(message.content).toEqual([
      { type: 'text', text: 'Let me check.' },
      { type: 'toolCall', id: 'abc', name: 'recall', arguments: { query: 'tea' } },
      { type: 'toolCall', id: 'call_2', name: 'remember', arguments: { text: 'x' } },
      { type: 'toolCall', id: 'call_3', name: 'remember', arguments: {} },
    ])
  })

  it('the chat-completion envelope some models use', async () => {
    const { ai } = recordingAi({
      choices: [
        {
          message: {
            content: null,
            tool_calls: [
              { id: 't1', type: 'function', function: { name: 'recall', arguments: '{"query":"q"}' } },
            ],
          },
          finish_reason: 'tool_calls',
        },
      ],
      usage: { prompt_tokens: 5, completion_tokens: 2 },
    })
    const { message } = await run(ai, ASK)
    expect(message.content).toEqual([
      { type: 'toolCall', id: 't1', name: 'recall', arguments: { query: 'q' } },
    ])
    expect(message.usage).toMatchObject({ input: 5, output: 2, totalTokens: 7 })
  })

  it('tool call ids continue from the calls already in the conversation', async () => {
    const { ai } = recordingAi({ tool_calls: [{ name: 'recall', arguments: {} }] })
    const { message } = await run(ai, {
      messages: [
        ...ASK.messages,
        {
          role: 'assistant',
          content: [{ type: 'toolCall', id: 'call_1', name: 'recall', arguments: {} }],
          api: 'x',
          provider: 'x',
          model: 'x',
          usage: emptyUsage(),
          stopReason: 'toolUse',
          timestamp: 1,
        },
        {
          role: 'toolResult',
          toolCallId: 'call_1',
          toolName: 'recall',
          content: [],
          isError: false,
          timestamp: 1,
        },
      ],
    })
    expect(message.content).toMatchObject([{ id: 'call_2' }])
  })
})

describe('Workers AI provider: failures', () => {
  it('an error from run ends the stream with stopReason error and the message', async () => {
    const { ai } = recordingAi(() => {
      throw new Error('3040: Capacity temporarily exceeded')
    })
    const { types, message } = await run(ai, ASK)
    expect(types).toEqual(['error'])
    expect(message.stopReason).toBe('error')
    expect(message.errorMessage).toBe(
      `Workers AI ${WORKERS_AI_DEFAULT_MODEL}: 3040: Capacity temporarily exceeded`,
    )
  })

  it('a malformed answer is an error', async () => {
    const { ai } = recordingAi({ result: 'no' }, null)
    expect((await run(ai, ASK)).message).toMatchObject({
      stopReason: 'error',
      errorMessage: expect.stringMatching(/malformed/),
    })
    expect((await run(ai, ASK)).message).toMatchObject({
      stopReason: 'error',
      errorMessage: expect.stringMatching(/malformed/),
    })
  })

  it('an already aborted signal: no call, stopReason aborted', async () => {
    const { ai, calls } = recordingAi({ response: 'late' })
    const ctrl = new AbortController()
    ctrl.abort()
    const { types, message } = await run(ai, ASK, ctrl.signal)
    expect(calls).toHaveLength(0)
    expect(types).toEqual(['error'])
    expect(message.stopReason).toBe('aborted')
  })

  it('an abort mid-call ends the stream even if the binding never answers; the signal is handed to run', async () => {
    const { ai, calls } = recordingAi(() => new Promise(() => {}))
    const ctrl = new AbortController()
    const pending = run(ai, ASK, ctrl.signal)
    await new Promise((r) => setTimeout(r, 5))
    expect(calls[0]!.signal).toBe(ctrl.signal)
    ctrl.abort()
    const { message } = await pending
    expect(message.stopReason).toBe('aborted')
  })

  it('unregister removes the provider', async () => {
    const { ai } = recordingAi()
    const r = registerWorkersAiModel(ai)
    r.unregister()
    expect(() => streamSimple(r.model, ASK)).toThrow(/No API provider/)
  })
})

describe('Workers AI provider under a real Agent', () => {
  it('runs a full tool-call round trip', async () => {
    const saved: string[] = []
    const remember: AgentTool<typeof tool.parameters> = {
      ...tool,
      label: 'remember',
      async execute(_id, params) {
        saved.push(params.text)
        return { content: [{ type: 'text', text: `saved "${params.text}"` }], details: {} }
      },
    }
    const { ai, calls } = recordingAi(
      { response: '', tool_calls: [{ name: 'remember', arguments: '{"text":"the demo is on Friday"}' }] },
      (input: Record<string, unknown>) => {
        const last = (input.messages as { role: string; content: string }[]).at(-1)!
        return { response: `Done: ${last.content}` }
      },
    )
    const agent = new Agent({
      initialState: {
        systemPrompt: 'You are a test agent.',
        model: register(ai),
        tools: [remember],
        thinkingLevel: 'off',
      },
      toolExecution: 'sequential',
    })
    await agent.prompt('Remember that the demo is on Friday')
    expect(saved).toEqual(['the demo is on Friday'])
    expect(calls).toHaveLength(2)
    expect(calls[1]!.input.messages).toEqual([
      { role: 'system', content: 'You are a test agent.' },
      { role: 'user', content: 'Remember that the demo is on Friday' },
      {
        role: 'assistant',
        content: '',
        tool_calls: [
          {
            id: 'call_1',
            type: 'function',
            function: { name: 'remember', arguments: '{"text":"the demo is on Friday"}' },
          },
        ],
      },
      { role: 'tool', tool_call_id: 'call_1', content: 'saved "the demo is on Friday"' },
    ])
    const last = agent.state.messages.at(-1) as AssistantMessage
    expect(last.stopReason).toBe('stop')
    expect(last.content).toEqual([{ type: 'text', text: 'Done: saved "the demo is on Friday"' }])
  })
})

describe('turnModel and Workers AI', () => {
  const env = (e: Partial<Record<string, unknown>>) => e as unknown as Env
  const pick = (e: Partial<Record<string, unknown>>, profileModel?: string) => {
    const m = turnModel(env(e), profileModel)
    releases.push(m.release)
    return m
  }
  const { ai } = recordingAi()

  it('picks Workers AI when AI is bound and nothing else is', () => {
    const m = pick({ AI: ai })
    expect(m.label).toBe(`workers-ai:${WORKERS_AI_DEFAULT_MODEL}`)
    expect(m.model.provider).toBe('workers-ai')
    expect(m.apiKey).toBeUndefined()
    expect(pick({ AI: ai, MURMUR_MODEL: '@cf/x/y' }).label).toBe('workers-ai:@cf/x/y')
  })

  it('keys and OPENAI_BASE_URL win over the binding; offline profiles and no binding stay scripted', () => {
    expect(pick({ AI: ai, OPENAI_BASE_URL: 'http://127.0.0.1:1/v1' }).label).toBe('openai-compatible:default')
    expect(pick({ AI: ai, ANTHROPIC_API_KEY: 'k' }).label).toMatch(/^anthropic:/)
    expect(pick({ AI: ai, OPENAI_API_KEY: 'k' }).label).toMatch(/^openai:/)
    expect(pick({ AI: ai }, 'offline').label).toBe(OFFLINE_LABEL)
    expect(pick({}).label).toBe(OFFLINE_LABEL)
  })

  it('each turn registers its own provider, and release removes it', async () => {
    const a = turnModel(env({ AI: ai }))
    const b = turnModel(env({ AI: ai }))
    expect(a.model.api).not.toBe(b.model.api)
    a.release()
    expect(() => streamSimple(a.model, ASK)).toThrow(/No API provider/)
    b.release()
  })
})
