/**
 * The offline scripted model: a pi-ai faux provider whose every reply is a
 * pure function of the conversation so far, so a network with no model
 * provider still runs real turns (tools, writes, notes) and tests are exact.
 *
 * The script, on the prompt (the first user message):
 *   "Remember (that) X"           → remember {text: X}
 *   "Tell|Message|Send <who> X"   → send_message {to: who, text: X}
 *   a question (ends in ?, or starts with who/what/when/where/why/how/which/do/does/is/are/can)
 *                                 → recall {query: prompt}
 *   anything else                 → a one-line acknowledgement, no tools
 * and once a tool has answered, a final text that says what the tool did.
 */
import {
  type AssistantMessage,
  type Context,
  fauxAssistantMessage,
  fauxText,
  fauxToolCall,
  type Message,
  registerFauxProvider,
} from '@mariozechner/pi-ai'

/** Model calls one turn can make on the script: a tool call, then the answer (one spare). */
const STEPS = 3

const QUESTION = /^(who|what|when|where|why|how|which|do|does|did|is|are|can|could|should)\b/i

function textOf(m: Message | undefined): string {
  if (!m) return ''
  if (typeof m.content === 'string') return m.content
  return m.content.map((c) => (c.type === 'text' ? c.text : '')).join('')
}

/** The tool call the script makes for a prompt, or null to answer directly. */
export function scriptedCall(prompt: string): { name: string; args: Record<string, string> } | null {
  const p = prompt.trim()
  const remember = /^remember\s+(?:that\s+)?(.+)$/is.exec(p)
  if (remember) return { name: 'remember', args: { text: remember[1]!.trim() } }
  const tell = /^(?:tell|message|send)\s+(\S+)\s*(?:that\s+|:\s*)?(.*)$/is.exec(p)
  if (tell) return { name: 'send_message', args: { to: tell[1]!, text: tell[2]!.trim() || 'hello' } }
  if (p.endsWith('?') || QUESTION.test(p)) return { name: 'recall', args: { query: p } }
  return null
}

function reply(context: Context): AssistantMessage {
  const msgs = context.messages
  const last = msgs[msgs.length - 1]
  if (last?.role === 'toolResult') {
    const out = textOf(last)
    if (last.isError) return fauxAssistantMessage(fauxText(`The ${last.toolName} tool failed: ${out}`))
    if (last.toolName === 'recall') return fauxAssistantMessage(fauxText(`From memory: ${out}`))
    return fauxAssistantMessage(fauxText(`Done: ${out}`))
  }
  const prompt = textOf([...msgs].reverse().find((m) => m.role === 'user'))
  const call = scriptedCall(prompt)
  if (!call) return fauxAssistantMessage(fauxText(`Noted: ${prompt.trim()}`))
  // A fixed call id: a retried turn makes exactly the same calls.
  return fauxAssistantMessage([fauxToolCall(call.name, call.args, { id: 'call_1' })], {
    stopReason: 'toolUse',
  })
}

/** Register the script as a provider for one turn; `unregister()` it when the turn ends. */
export function registerScriptedModel() {
  // Each registration gets its own api id, so concurrent turns in one isolate never share one.
  const faux = registerFauxProvider({ provider: 'offline', models: [{ id: 'scripted' }] })
  faux.setResponses(Array.from({ length: STEPS }, () => reply))
  return faux
}
