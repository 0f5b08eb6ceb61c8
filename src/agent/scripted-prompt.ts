/**
 * The offline scripted model's reading of a prompt, for any agent:
 *   "Remember (that) X"           → remember {text: X}
 *   "Tell|Message|Send <who> X"   → send_message {to: who, text: X}
 *   a question (ends in ?, or starts with who/what/when/where/why/how/which/do/does/is/are/can)
 *                                 → recall {query: prompt}
 *   anything else                 → no tool: a one-line acknowledgement
 */

const QUESTION = /^(who|what|when|where|why|how|which|do|does|did|is|are|can|could|should)\b/i

/** The tool call the script makes for a prompt, or null to answer directly. */
export function scriptedCall(prompt: string): { name: string; args: Record<string, string> } | null {
  const p = prompt.trim()
  const remember = /^remember\s+(?:that\s+)?(.+)$/is.exec(p)
  if (remember) return { name: 'remember', args: { text: remember[1]!.trim() } }
  // The name is a DID (colons inside) or a handle; a colon after it starts the message.
  const tell =
    /^(?:tell|message|send)\s+(did:[a-z0-9]+(?::[^\s:]+)+|[^\s:]+)\s*(?:that\s+|:\s*)?(.*)$/is.exec(p)
  if (tell) return { name: 'send_message', args: { to: tell[1]!, text: tell[2]!.trim() || 'hello' } }
  if (p.endsWith('?') || QUESTION.test(p)) return { name: 'recall', args: { query: p } }
  return null
}
