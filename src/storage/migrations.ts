/**
 * Versioned schema migrations. A store lists its migrations in order and
 * records each applied version as a row of `schema_migrations`. Never edit a
 * shipped migration: add the next one.
 */
export type Migration = readonly string[]

const TABLE =
  'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)'

/** Durable Object SQLite: synchronous, and the object is single-threaded, so no race. */
export function migrateSql(sql: SqlStorage, migrations: readonly Migration[]): void {
  sql.exec(TABLE)
  const current =
    sql.exec<{ v: number | null }>('SELECT max(version) AS v FROM schema_migrations').one().v ?? 0
  if (current > migrations.length) throw new Error(`schema version ${current} is newer than this code`)
  for (let v = current; v < migrations.length; v++) {
    for (const stmt of migrations[v]!) sql.exec(stmt)
    sql.exec(
      'INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)',
      v + 1,
      new Date().toISOString(),
    )
  }
}

/**
 * D1: several isolates may race. Each version is one batch (a transaction) that
 * starts by claiming its version row; a racer's batch fails on that primary
 * key and rolls back whole, and it moves on.
 */
export async function migrateD1(db: D1Database, migrations: readonly Migration[]): Promise<void> {
  await db.prepare(TABLE).run()
  const row = await db
    .prepare('SELECT max(version) AS v FROM schema_migrations')
    .first<{ v: number | null }>()
  const current = row?.v ?? 0
  if (current > migrations.length) throw new Error(`schema version ${current} is newer than this code`)
  for (let v = current; v < migrations.length; v++) {
    const claim = db
      .prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)')
      .bind(v + 1, new Date().toISOString())
    try {
      await db.batch([claim, ...migrations[v]!.map((s) => db.prepare(s))])
    } catch (err) {
      const applied = await db
        .prepare('SELECT 1 FROM schema_migrations WHERE version = ?')
        .bind(v + 1)
        .first()
      if (!applied) throw err
    }
  }
}
