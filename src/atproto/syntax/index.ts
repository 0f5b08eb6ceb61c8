export { assertAtIdentifier, isAtIdentifier } from './at-identifier.ts'
export {
  assertAtUri,
  formatAtUri,
  isAtUri,
  MAX_AT_URI_LENGTH,
  type ParsedAtUri,
  parseAtUri,
} from './at-uri.ts'
export { isCidString } from './cid.ts'
export {
  assertDatetime,
  isDatetime,
  isDatetimeSyntax,
  MAX_DATETIME_LENGTH,
  parseDatetime,
} from './datetime.ts'
export { assertDid, isDid, MAX_DID_LENGTH } from './did.ts'
export {
  assertHandle,
  isHandle,
  MAX_HANDLE_LENGTH,
  normalizeAndAssertHandle,
  normalizeHandle,
} from './handle.ts'
export { assertLanguage, isLanguage, type ParsedLanguage, parseLanguage } from './language.ts'
export { assertNsid, isNsid, MAX_NSID_LENGTH, type ParsedNsid, parseNsid } from './nsid.ts'
export { assertRecordKey, isRecordKey } from './record-key.ts'
export {
  assertTid,
  formatTid,
  isTid,
  MAX_TID_CLOCK_ID,
  MAX_TID_TIMESTAMP,
  type ParsedTid,
  parseTid,
} from './tid.ts'
export { TidClock } from './tid-clock.ts'
export { isUri, MAX_URI_LENGTH } from './uri.ts'
