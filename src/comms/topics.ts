/**
 * Topic subscriptions, in the router's SQLite: an agent names the topic tags
 * it wants (`agent.comms.setTopics`), and a broadcast whose `audience` holds
 * a tag (an entry that is not a DID), or whose `topic` is one, reaches them.
 */
import type { Migration } from '../storage/migrations.ts'

export const TOPIC_MIGRATION: Migration = [
  `CREATE TABLE topic_subs (
    topic TEXT NOT NULL,
    did TEXT NOT NULL,
    PRIMARY KEY (topic, did)
  ) WITHOUT ROWID`,
  'CREATE INDEX topic_subs_did ON topic_subs (did)',
]

export const MAX_TOPICS = 100
/** As long as a broadcast's `topic` may be (bytes; graphemes are fewer). */
export const MAX_TOPIC_BYTES = 640

/** Why `topics` cannot be an agent's subscription list, or null. */
export function topicsProblem(topics: unknown): string | null {
  if (!Array.isArray(topics)) return 'topics must be a list of strings'
  if (topics.length > MAX_TOPICS) return `at most ${MAX_TOPICS} topics`
  for (const t of topics) {
    if (typeof t !== 'string' || t.length === 0) return 'each topic must be a non-empty string'
    if (t.startsWith('did:')) return 'a topic is a tag, not a DID'
    if (new TextEncoder().encode(t).length > MAX_TOPIC_BYTES)
      return `a topic is at most ${MAX_TOPIC_BYTES} bytes`
  }
  return null
}

export class TopicStore {
  constructor(private readonly sql: SqlStorage) {}

  /** Replace an agent's subscriptions. */
  set(did: string, topics: string[]): void {
    this.sql.exec('DELETE FROM topic_subs WHERE did = ?', did)
    for (const t of new Set(topics))
      this.sql.exec('INSERT INTO topic_subs (topic, did) VALUES (?, ?)', t, did)
  }

  of(did: string): string[] {
    return this.sql
      .exec<{ topic: string }>('SELECT topic FROM topic_subs WHERE did = ? ORDER BY topic', did)
      .toArray()
      .map((r) => r.topic)
  }

  subscribers(topic: string): string[] {
    return this.sql
      .exec<{ did: string }>('SELECT did FROM topic_subs WHERE topic = ?', topic)
      .toArray()
      .map((r) => r.did)
  }
}
