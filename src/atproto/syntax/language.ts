import { fail } from '../errors.ts'
import { preview } from './did.ts'

/** RFC 5646 grandfathered tags (irregular and regular), matched case-insensitively. */
const GRANDFATHERED = new Set([
  'en-gb-oed',
  'i-ami',
  'i-bnn',
  'i-default',
  'i-enochian',
  'i-hak',
  'i-klingon',
  'i-lux',
  'i-mingo',
  'i-navajo',
  'i-pwn',
  'i-tao',
  'i-tay',
  'i-tsu',
  'sgn-be-fr',
  'sgn-be-nl',
  'sgn-ch-de',
  'art-lojban',
  'cel-gaulish',
  'no-bok',
  'no-nyn',
  'zh-guoyu',
  'zh-hakka',
  'zh-min',
  'zh-min-nan',
  'zh-xiang',
])

export interface ParsedLanguage {
  tag: string
  grandfathered: boolean
  /** Primary language subtag (lowercase as required); absent for private-use-only tags. */
  language?: string
  extlang: string[]
  script?: string
  region?: string
  variants: string[]
  extensions: { singleton: string; subtags: string[] }[]
  privateUse: string[]
}

const PRIMARY = /^([a-z]{2,3}|[a-z]{5,8})$/
const EXTLANG = /^[a-zA-Z]{3}$/
const SCRIPT = /^[a-zA-Z]{4}$/
const REGION = /^([a-zA-Z]{2}|\d{3})$/
const VARIANT = /^([a-zA-Z0-9]{5,8}|\d[a-zA-Z0-9]{3})$/
const SINGLETON = /^[0-9a-wyzA-WYZ]$/
const EXT_SUBTAG = /^[a-zA-Z0-9]{2,8}$/
const PRIVATE_SUBTAG = /^[a-zA-Z0-9]{1,8}$/

/** Well-formedness per the RFC 5646 grammar (primary language subtag must be lowercase). */
function wellFormed(tag: string): ParsedLanguage | undefined {
  if (typeof tag !== 'string') return undefined
  const base = { tag, extlang: [], variants: [], extensions: [], privateUse: [] }
  if (GRANDFATHERED.has(tag.toLowerCase())) return { ...base, grandfathered: true }
  const t = tag.split('-')
  const out: ParsedLanguage = { ...base, grandfathered: false }
  let i = 0
  const at = (re: RegExp) => i < t.length && re.test(t[i]!)
  if (!/^[xX]$/.test(t[0]!)) {
    if (!at(PRIMARY)) return undefined
    out.language = t[i++]!
    while (out.language.length <= 3 && out.extlang.length < 3 && at(EXTLANG)) out.extlang.push(t[i++]!)
    if (at(SCRIPT)) out.script = t[i++]!
    if (at(REGION)) out.region = t[i++]!
    while (at(VARIANT)) out.variants.push(t[i++]!)
    while (at(SINGLETON)) {
      const ext = { singleton: t[i++]!, subtags: [] as string[] }
      while (at(EXT_SUBTAG)) ext.subtags.push(t[i++]!)
      if (ext.subtags.length === 0) return undefined
      out.extensions.push(ext)
    }
  }
  if (i < t.length && /^[xX]$/.test(t[i]!)) {
    i++
    while (at(PRIVATE_SUBTAG)) out.privateUse.push(t[i++]!)
    if (out.privateUse.length === 0) return undefined
  }
  return i === t.length ? out : undefined
}

/** BCP 47 language tag syntax (well-formed; duplicate variants/extensions are not checked). */
export function isLanguage(s: string): boolean {
  return wellFormed(s) !== undefined
}

export function assertLanguage(s: unknown): asserts s is string {
  if (!isLanguage(s as string)) fail('InvalidSyntax', `Invalid language tag: ${preview(s)}`)
}

function hasDuplicate(items: string[]): boolean {
  return new Set(items.map((x) => x.toLowerCase())).size !== items.length
}

/** Parse a "valid" tag: well-formed, and no variant or extension singleton repeated (RFC 5646 §2.2.9). */
export function parseLanguage(s: string): ParsedLanguage {
  const parsed = wellFormed(s)
  if (!parsed) fail('InvalidSyntax', `Invalid language tag: ${preview(s)}`)
  if (hasDuplicate(parsed.variants) || hasDuplicate(parsed.extensions.map((e) => e.singleton))) {
    fail('InvalidSyntax', `Language tag repeats a variant or extension: ${preview(s)}`)
  }
  return parsed
}
