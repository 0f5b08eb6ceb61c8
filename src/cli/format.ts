/**
 * How the CLI prints: colour only on a terminal (and never with NO_COLOR),
 * short DIDs, times, and a one-line summary of any record.
 */
import { styleText } from 'node:util'

type Style = Parameters<typeof styleText>[0]

/** Colour for stdout: a TTY, and NO_COLOR unset (https://no-color.org). */
export function colorEnabled(stream: NodeJS.WriteStream = process.stdout): boolean {
  return Boolean(stream.isTTY) && !process.env.NO_COLOR
}

export type Paint = (style: Style, text: string) => string

export function painter(enabled: boolean): Paint {
  return enabled ? (style, text) => styleText(style, text) : (_style, text) => text
}

/** `did:cf:abcdefghijkl…` → `did:cf:abcdefgh…`: enough to tell agents apart. */
export function shortDid(did: string): string {
  const i = did.indexOf(':', 4)
  if (i < 0 || did.length - i <= 13) return did
  return `${did.slice(0, i + 9)}…`
}

/** One line, at most `max` characters. */
export function oneLine(text: string, max = 100): string {
  const flat = text.replace(/\s+/g, ' ').trim()
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat
}

/** HH:MM:SS, local time. */
export function clock(date: Date): string {
  return date.toTimeString().slice(0, 8)
}

/** A byte count for people: 1.2 MB. */
export function bytes(n: number): string {
  if (n < 1024) return `${n} B`
  const units = ['KB', 'MB', 'GB']
  let v = n / 1024
  let u = 0
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024
    u++
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`
}

/** Rows of cells, padded into columns (the last column is not padded). */
export function table(rows: string[][], gap = '  '): string {
  const widths: number[] = []
  for (const row of rows)
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, visibleLength(cell))
    })
  return rows
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell + ' '.repeat(widths[i]! - visibleLength(cell))))
        .join(gap)
        .trimEnd(),
    )
    .join('\n')
}

function visibleLength(s: string): number {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI colour codes are not visible.
  return s.replace(/\u001b\[[0-9;]*m/g, '').length
}

type Rec = Record<string, unknown>

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined)
const obj = (v: unknown): Rec | undefined =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Rec) : undefined

/** `agent.comms.defs#textContent` and its kin, as a line. */
export function contentText(content: unknown): string {
  const c = obj(content)
  if (!c) return ''
  switch (c.kind) {
    case 'text':
      return str(c.text) ?? ''
    case 'json':
      return JSON.stringify(c.data) ?? ''
    case 'ref':
      return `→ ${str(c.uri) ?? '?'}`
    case 'blob': {
      const blob = obj(c.blob)
      return `[blob ${str(blob?.mimeType) ?? ''}]`.replace(' ]', ']')
    }
    default:
      return JSON.stringify(c)
  }
}

/**
 * A short, human summary of a record, by collection. `name` turns a DID into
 * something readable (a handle).
 */
export function summarize(collection: string, record: unknown, name: (did: string) => string): string {
  const r = obj(record)
  if (!r) return ''
  const to = (v: unknown) => (typeof v === 'string' ? name(v) : '?')
  switch (collection) {
    case 'agent.comms.message':
      return `→ ${to(r.recipient)}: ${contentText(r.content)}`
    case 'agent.comms.request': {
      const who = r.assignee
        ? `→ ${to(r.assignee)}`
        : Array.isArray(r.audience)
          ? `→ [${r.audience.map(to).join(', ')}]`
          : '→ anyone'
      return `${who}: ${str(r.task) ?? ''}`
    }
    case 'agent.comms.response': {
      const err = obj(r.error)
      const detail = err ? `${str(err.code) ?? ''}: ${str(err.message) ?? ''}` : contentOrData(r.result)
      return `${str(r.state) ?? '?'}${detail ? ` ${detail}` : ''}`
    }
    case 'agent.comms.broadcast': {
      const topic = str(r.topic) ? `#${r.topic} ` : ''
      return `${topic}${contentText(r.content)}`
    }
    case 'agent.comms.handoff':
      return `→ ${to(r.recipient)}${str(r.state) ? ` (${r.state})` : ''}: ${str(r.summary) ?? ''}`
    case 'agent.memory.note':
      return str(r.text) ?? ''
    case 'agent.memory.summary':
      return str(r.text) ?? ''
    case 'agent.memory.fact':
      return `${str(r.subject) ?? '?'} / ${str(r.predicate) ?? '?'} / ${str(r.object) ?? '?'}`
    case 'agent.memory.decision':
      return `[${str(r.status) ?? '?'}] ${str(r.decision) ?? ''}`
    case 'agent.memory.profile':
      return [str(r.displayName), str(r.description), str(r.model)].filter(Boolean).join(' · ')
    case 'agent.discovery.card':
      return str(r.description) ?? ''
    default: {
      const { $type: _t, ...rest } = r
      return JSON.stringify(rest)
    }
  }
}

function contentOrData(v: unknown): string {
  const o = obj(v)
  if (!o) return ''
  if (typeof o.kind === 'string') return contentText(o)
  if (typeof o.schema === 'string') return `${o.schema} ${JSON.stringify(o.data)}`
  return JSON.stringify(o)
}
