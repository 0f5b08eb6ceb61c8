/** A model message's usage when no tokens were counted (a timed-out or failed call, an unreported one). */
import type { AssistantMessage } from '@mariozechner/pi-ai'

export function emptyUsage(): AssistantMessage['usage'] {
  return {
    input: 0,
    output: 0,
    cacheRead: 0,
    cacheWrite: 0,
    totalTokens: 0,
    cost: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0, total: 0 },
  }
}
