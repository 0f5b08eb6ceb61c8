/**
 * The tools a turn's model may call. Writes go through the agent's one write
 * path at step keys (shared.ts), so a retried turn writes nothing twice; an
 * agent's profile may narrow the set by name (`tools`).
 */
import type { AgentTool } from '@mariozechner/pi-agent-core'
import { memoryTools } from './memory.ts'
import { messagingTools } from './messaging.ts'
import { readingTools } from './reading.ts'
import type { ToolContext } from './shared.ts'
import { taskTools } from './tasks.ts'

export type { ToolCallRecord, ToolContext } from './shared.ts'

export const TOOL_NAMES = [
  'send_message',
  'broadcast',
  'request_task',
  'update_task',
  'handoff',
  'remember',
  'recall',
  'forget',
  'get_record',
  'list_agents',
] as const

export type ToolName = (typeof TOOL_NAMES)[number]

/** The turn's tools: all of them, or only those `enabled` names (unknown names are ignored). */
export function turnTools(ctx: ToolContext, enabled?: readonly string[]): AgentTool[] {
  const all = [...messagingTools(ctx), ...taskTools(ctx), ...memoryTools(ctx), ...readingTools(ctx)]
  return enabled ? all.filter((t) => enabled.includes(t.name)) : all
}
