/**
 * Turn ids and the record keys a turn writes at. A turn id is a TID minted when
 * the turn is prompted; it travels in the Queue message, so every attempt of a
 * turn knows it. The turn's note is written at the turn id itself, and its
 * tool writes at the TIDs just after it (same clock id, timestamp + step), so
 * each key is fixed before the first attempt runs and a retry lands on the same keys.
 */
import { formatTid, parseTid } from '../atproto/syntax/tid.ts'

/** A fresh turn id: now, in microseconds, with a random clock id so two Workers rarely meet. */
export function newTurnId(): string {
  const rand = crypto.getRandomValues(new Uint16Array(2))
  return formatTid(Date.now() * 1000 + (rand[0]! % 1000), rand[1]! % 1024)
}

/** The record key of the turn's `step`th write (1-based). */
export function stepRkey(turn: string, step: number): string {
  const { timestampUs, clockId } = parseTid(turn)
  return formatTid(timestampUs + step, clockId)
}
