/**
 * The extractive summary retention writes when the agent has no model to
 * write one: the sentences that carry the chunk's most frequent words (and
 * its most important notes), in the order they were written. Deterministic.
 */

export interface NoteForSummary {
  text: string
  importance: number
  createdAt: number
  tags: readonly string[]
}

export interface Summarizer {
  /** Names what wrote the summary (kept in the summary's text for readers). */
  readonly label: string
  summarize(notes: readonly NoteForSummary[]): Promise<string>
}

const BUDGET = 2000
const WORD = /[\p{L}\p{N}]{3,}/gu

function sentences(text: string): string[] {
  return text
    .split(/(?<=[.!?])\s+|\n+/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
}

const day = (ms: number) => new Date(ms).toISOString().slice(0, 10)

export function extractiveSummary(notes: readonly NoteForSummary[]): string {
  if (notes.length === 0) return ''
  const freq = new Map<string, number>()
  for (const n of notes)
    for (const w of new Set(n.text.toLowerCase().match(WORD) ?? [])) freq.set(w, (freq.get(w) ?? 0) + 1)
  const candidates = notes.flatMap((n, ni) =>
    sentences(n.text).map((s, si) => {
      const words = s.toLowerCase().match(WORD) ?? []
      const centrality = words.reduce((sum, w) => sum + (freq.get(w) ?? 0), 0) / Math.sqrt(words.length + 1)
      return { s, order: ni * 1000 + si, score: centrality * (0.6 + 0.2 * n.importance) }
    }),
  )
  const seen = new Set<string>()
  const picked: typeof candidates = []
  let used = 0
  for (const c of [...candidates].sort((a, b) => b.score - a.score || a.order - b.order)) {
    const key = c.s.toLowerCase()
    if (seen.has(key) || used + c.s.length > BUDGET) continue
    seen.add(key)
    picked.push(c)
    used += c.s.length + 1
  }
  picked.sort((a, b) => a.order - b.order)
  const first = Math.min(...notes.map((n) => n.createdAt))
  const last = Math.max(...notes.map((n) => n.createdAt))
  const tagCounts = new Map<string, number>()
  for (const n of notes) for (const t of n.tags) tagCounts.set(t, (tagCounts.get(t) ?? 0) + 1)
  const tags = [...tagCounts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 8)
  const head = `${notes.length} notes, ${day(first)} to ${day(last)} (extractive summary).`
  const tagLine = tags.length ? `\nTags: ${tags.map(([t]) => t).join(', ')}.` : ''
  return `${head}${tagLine}\n${picked.map((c) => c.s).join(' ')}`
}

export const extractiveSummarizer: Summarizer = {
  label: 'extractive',
  summarize: async (notes) => extractiveSummary(notes),
}
