/**
 * A per-call timer around a pi-agent-core StreamFn. pi-ai has no timeout of its
 * own, and a provider that accepts the request and never answers would hold
 * the turn until the Queue's wall clock. On timeout the inner call is aborted
 * and the stream ends with an error message, which ends the agent's run (a
 * provider that ignores the abort signal is cut loose all the same).
 */
import type { StreamFn } from '@mariozechner/pi-agent-core'
import { type AssistantMessage, createAssistantMessageEventStream } from '@mariozechner/pi-ai'
import { emptyUsage } from './usage.ts'

export function withTimeout(inner: StreamFn, ms: number): StreamFn {
  return (model, context, options) => {
    const out = createAssistantMessageEventStream()
    const ctrl = new AbortController()
    const parent = options?.signal
    const onParentAbort = () => ctrl.abort(parent?.reason)
    if (parent?.aborted) ctrl.abort(parent.reason)
    else parent?.addEventListener('abort', onParentAbort, { once: true })
    let settled = false
    const fail = (stopReason: 'error' | 'aborted', errorMessage: string) => {
      if (settled) return
      settled = true
      const msg: AssistantMessage = {
        role: 'assistant',
        content: [],
        api: model.api,
        provider: model.provider,
        model: model.id,
        usage: emptyUsage(),
        stopReason,
        errorMessage,
        timestamp: Date.now(),
      }
      out.push({ type: 'error', reason: stopReason, error: msg })
      out.end(msg)
    }
    const timer = setTimeout(() => {
      ctrl.abort(new Error('timeout'))
      fail('error', `model call timed out after ${ms} ms`)
    }, ms)
    // The agent was aborted (the turn's cap) and the provider ignores the signal: settle anyway.
    ctrl.signal.addEventListener('abort', () => setTimeout(() => fail('aborted', 'Request was aborted'), 0), {
      once: true,
    })
    void (async () => {
      try {
        const s = await inner(model, context, { ...options, signal: ctrl.signal })
        for await (const ev of s) {
          if (settled) break
          if (ev.type === 'done' || ev.type === 'error') settled = true
          out.push(ev)
        }
        if (!settled) {
          settled = true
          out.end(await s.result())
        } else out.end()
      } catch (e) {
        fail('error', e instanceof Error ? e.message : String(e))
      } finally {
        clearTimeout(timer)
        parent?.removeEventListener('abort', onParentAbort)
      }
    })()
    return out
  }
}
