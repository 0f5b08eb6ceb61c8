/**
 * Event stream frames (atproto "event stream" wire format): each WebSocket
 * message is two concatenated DAG-CBOR values, a header `{op, t}` and a body.
 * `op: 1` is a message of type `t` (`#commit`, `#info`, …); `op: -1` is an
 * error, after which the server closes the stream.
 */
import { decodeCbor, decodeCborFirst, encodeCborTrusted } from '../atproto/cbor.ts'

export type FrameHeader = { op: 1; t: string } | { op: -1 }

/** The kinds of event the relay sequences, and the frame type each becomes. */
export const EVENT_TYPES = {
  commit: '#commit',
  identity: '#identity',
  account: '#account',
  sync: '#sync',
} as const
export type EventKind = keyof typeof EVENT_TYPES

export function isEventKind(kind: string): kind is EventKind {
  return Object.hasOwn(EVENT_TYPES, kind)
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(a.length + b.length)
  out.set(a, 0)
  out.set(b, a.length)
  return out
}

export function encodeFrame(header: FrameHeader, body: Record<string, unknown>): Uint8Array<ArrayBuffer> {
  return concat(encodeCborTrusted(header), encodeCborTrusted(body))
}

/**
 * The stored frame for an event: the agent's body (DAG-CBOR, without `seq`)
 * with `seq` added. Done once per event, at sequencing time.
 */
export function sequencedFrame(kind: EventKind, seq: number, body: Record<string, unknown>) {
  return encodeFrame({ op: 1, t: EVENT_TYPES[kind] }, { ...body, seq })
}

export function infoFrame(name: string, message?: string): Uint8Array<ArrayBuffer> {
  return encodeFrame({ op: 1, t: '#info' }, message === undefined ? { name } : { name, message })
}

export function errorFrame(error: string, message?: string): Uint8Array<ArrayBuffer> {
  return encodeFrame({ op: -1 }, message === undefined ? { error } : { error, message })
}

/** Split a frame back into header and body (for tests and for following other relays). */
export function decodeFrame<B = Record<string, unknown>>(
  frame: Uint8Array,
): { header: FrameHeader; body: B } {
  const [header, rest] = decodeCborFirst<FrameHeader>(frame)
  return { header, body: decodeCbor<B>(rest) }
}
