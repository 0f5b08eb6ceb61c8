/**
 * The offline scripted model: a pi-ai faux provider whose every reply is a
 * pure function of what woke the turn and the tool results so far
 * (scripted-roles.ts), so a network with no model provider still runs real
 * turns (tools, writes, notes), the demo plays out, and tests are exact.
 */
import {
  type AssistantMessage,
  type Context,
  fauxAssistantMessage,
  fauxText,
  fauxToolCall,
  type Message,
  registerFauxProvider,
  type ToolResultMessage,
} from '@mariozechner/pi-ai'
import { nextStep, type ScriptInput, type ToolOutcome } from './scripted-roles.ts'

/** Model calls one turn can make on the script (the longest play makes 7; spares for safety). */
const STEPS = 12

function textOf(m: Message): string {
  if (typeof m.content === 'string') return m.content
  return m.content.map((c) => (c.type === 'text' ? c.text : '')).join('')
}

function outcomes(context: Context): ToolOutcome[] {
  return context.messages
    .filter((m): m is ToolResultMessage => m.role === 'toolResult')
    .map((m) => ({
      name: m.toolName,
      text: textOf(m),
      details: m.details && typeof m.details === 'object' ? (m.details as Record<string, unknown>) : {},
      isError: m.isError,
    }))
}

function reply(input: ScriptInput, context: Context): AssistantMessage {
  const results = outcomes(context)
  const step = nextStep(input, results)
  if ('say' in step) return fauxAssistantMessage(fauxText(step.say))
  // A fixed call id per step: a retried turn makes exactly the same calls.
  const id = `call_${results.length + 1}`
  return fauxAssistantMessage([fauxToolCall(step.call, step.args, { id })], { stopReason: 'toolUse' })
}

/** Register the script as a provider for one turn; `unregister()` it when the turn ends. */
export function registerScriptedModel(input: ScriptInput) {
  // Each registration gets its own api id, so concurrent turns in one isolate never share one.
  const faux = registerFauxProvider({ provider: 'offline', models: [{ id: 'scripted' }] })
  faux.setResponses(Array.from({ length: STEPS }, () => (ctx: Context) => reply(input, ctx)))
  return faux
}
