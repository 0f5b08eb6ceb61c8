/** Max generic URI length (8 KiB). */
export const MAX_URI_LENGTH = 8192

// RFC 3986 scheme, then a non-empty remainder without whitespace (not starting with `/` after an
// optional `//`). Deliberately loose: the `uri` lexicon format is any absolute URI.
const URI_RE = /^[a-zA-Z][a-zA-Z0-9+.-]*:(\/\/)?[^\s/][^\s]*$/

export function isUri(s: string): boolean {
  return typeof s === 'string' && s.length <= MAX_URI_LENGTH && URI_RE.test(s)
}
