/**
 * Notes the network signs into a task's view, such as "the deadline passed
 * without a terminal state". The network never writes records on an agent's
 * behalf, so what it says about a task is a signed statement beside the
 * records, checkable by anyone: a P-256 signature (compact, low-S, as atproto
 * signs commits) by a key derived from MURMUR_SECRET with HKDF for this one
 * purpose, named in the note as a did:key.
 *
 * Verify: DAG-CBOR-encode `{$type: 'agent.comms.taskNote', task, cid, state,
 * text, at}` (task: the request's at-uri, cid: its cid, state: the state the
 * view reports), and check `sig` (base64url) over those bytes against `key`,
 * which must be the network's task-note key (`taskNoteKey`).
 */
import { fromBase64Url, toBase64Url } from '@atcute/multibase'
import { encodeCbor } from '../atproto/cbor.ts'
import { importKeypair, type Keypair, verifySignature } from '../atproto/keys.ts'

export const NOTE_TYPE = 'agent.comms.taskNote'

export interface TaskNote {
  text: string
  /** When the network's judgement took effect (for a deadline: the deadline itself, so the note is stable). */
  at: string
  /** The signing key, as a did:key. */
  key: string
  /** base64url compact P-256 signature over the note's DAG-CBOR (see above). */
  sig: string
}

export interface NoteSubject {
  task: string
  cid: string
  state: string
}

const keys = new Map<string, Promise<Keypair>>()

/** The network's task-note key (cached per secret). */
export function taskNoteKey(secret: string): Promise<Keypair> {
  let key = keys.get(secret)
  if (!key) {
    key = derive(secret)
    key.catch(() => keys.delete(secret))
    keys.set(secret, key)
  }
  return key
}

async function derive(secret: string): Promise<Keypair> {
  if (secret.length < 32) throw new Error('MURMUR_SECRET must be at least 32 characters')
  const enc = new TextEncoder()
  const base = await crypto.subtle.importKey('raw', enc.encode(secret), 'HKDF', false, ['deriveBits'])
  for (let i = 0; ; i++) {
    const info = enc.encode(`task-notes/${i}`)
    const bits = await crypto.subtle.deriveBits(
      { name: 'HKDF', hash: 'SHA-256', salt: enc.encode('murmur/v1'), info },
      base,
      256,
    )
    // A 32-byte string is a valid P-256 scalar with overwhelming odds; try the next on the rare miss.
    try {
      return await importKeypair('p256', new Uint8Array(bits))
    } catch (err) {
      if (i > 8) throw err
    }
  }
}

/** The bytes a note's signature covers. */
export function noteBytes(subject: NoteSubject, text: string, at: string): Uint8Array {
  return encodeCbor({
    $type: NOTE_TYPE,
    task: subject.task,
    cid: subject.cid,
    state: subject.state,
    text,
    at,
  })
}

export async function signNote(
  secret: string,
  subject: NoteSubject,
  text: string,
  at: string,
): Promise<TaskNote> {
  const key = await taskNoteKey(secret)
  const sig = await key.sign(noteBytes(subject, text, at))
  return { text, at, key: key.did, sig: toBase64Url(sig) }
}

/** Whether `note` is a valid signature about `subject` by `key` (a did:key). */
export async function verifyNote(note: TaskNote, subject: NoteSubject, key: string): Promise<boolean> {
  if (note.key !== key) return false
  let sig: Uint8Array
  try {
    sig = fromBase64Url(note.sig)
  } catch {
    return false
  }
  return verifySignature(key, noteBytes(subject, note.text, note.at), sig)
}
