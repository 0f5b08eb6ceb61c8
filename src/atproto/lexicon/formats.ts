import {
  isAtIdentifier,
  isAtUri,
  isCidString,
  isDatetime,
  isDid,
  isHandle,
  isLanguage,
  isNsid,
  isRecordKey,
  isTid,
  isUri,
} from '../syntax/index.ts'
import type { LexStringFormat } from './types.ts'

/** String format checks used by `{type: 'string', format}` fields. */
export const FORMAT_CHECKS: Record<LexStringFormat, (s: string) => boolean> = {
  'at-identifier': isAtIdentifier,
  'at-uri': isAtUri,
  cid: isCidString,
  datetime: isDatetime,
  did: isDid,
  handle: isHandle,
  language: isLanguage,
  nsid: isNsid,
  'record-key': isRecordKey,
  tid: isTid,
  uri: isUri,
}

export const STRING_FORMATS: ReadonlySet<string> = new Set(Object.keys(FORMAT_CHECKS))

/** UTF-8 byte length without allocating. */
export function utf8Length(s: string): number {
  let n = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x80) n += 1
    else if (c < 0x800) n += 2
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const next = s.charCodeAt(i + 1)
      if (next >= 0xdc00 && next <= 0xdfff) {
        n += 4
        i++
      } else n += 3
    } else n += 3
  }
  return n
}

let segmenter: Intl.Segmenter | undefined

/** Extended grapheme cluster count (what users perceive as characters). */
export function graphemeLength(s: string): number {
  segmenter ??= new Intl.Segmenter()
  let n = 0
  for (const _ of segmenter.segment(s)) n++
  return n
}
