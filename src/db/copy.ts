import {PlatformError} from '../core/index.js'
import type {Db} from './types.js'

/** The platform's tables, parents first (goals, plans and tasks refer to agents). */
const TABLES = ['agents', 'goals', 'plans', 'tasks'] as const
const BATCH = 1000

export interface CopyResult {
  rows: Record<(typeof TABLES)[number], number>
}

/**
 * Copies every row of the platform's tables from one database into another that is
 * migrated and empty, keeping ids, timestamps and the newest-first order (seq), in one
 * transaction on the target: a copy that fails leaves the target as it was.
 */
export async function copyData(from: Db, to: Db, onTable: (table: string, rows: number) => void = () => {}): Promise<CopyResult> {
  for (const t of TABLES) {
    const n = (await to.query<{n: number}>(`SELECT count(*)::int AS n FROM mcp_documents.${t}`)).rows[0]!.n
    if (n > 0) {
      throw new PlatformError('CONFLICT', `the target database already holds ${n} ${t}`, {
        suggestion: 'copy into an empty database (`platform db reset --force` on the target empties it)',
      })
    }
  }
  const rows = {agents: 0, goals: 0, plans: 0, tasks: 0}
  await to.transaction(async (tx) => {
    for (const t of TABLES) {
      // Row by row as JSON: both drivers give and take JSON text the same way.
      for (let after = -1; ; ) {
        const page = await from.query<{seq: string; j: string}>(
          `SELECT seq::text AS seq, to_jsonb(r)::text AS j FROM mcp_documents.${t} r WHERE seq > $1 ORDER BY seq LIMIT ${BATCH}`,
          [after],
        )
        if (page.rows.length === 0) break
        await tx.query(
          `INSERT INTO mcp_documents.${t} OVERRIDING SYSTEM VALUE
           SELECT (jsonb_populate_record(NULL::mcp_documents.${t}, j::jsonb)).* FROM unnest($1::text[]) AS j`,
          [page.rows.map((r) => r.j)],
        )
        rows[t] += page.rows.length
        after = Number(page.rows.at(-1)!.seq)
      }
      // New rows continue after the copied ones.
      await tx.query(
        `SELECT setval(pg_get_serial_sequence('mcp_documents.${t}', 'seq'), coalesce((SELECT max(seq) FROM mcp_documents.${t}), 0) + 1, ` +
          `false)`,
      )
      onTable(t, rows[t])
    }
  })
  return {rows}
}
