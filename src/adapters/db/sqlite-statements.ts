/**
 * A prepared-statement cache for Kysely's SQLite driver. The driver prepares every query anew
 * (`db.prepare(sql)` per execution); compiling the SQL costs about as much as running a small
 * query, and a file transfer runs some twenty of them. Kysely always produces the same SQL text for
 * the same query shape (values are parameters), so statements are kept by their text.
 *
 * Contract: a cached statement is handed out only when it is not executing (`busy` is false — an
 * open iterator of a streamed query); otherwise a fresh one is prepared for that call. The cache is
 * bounded (least recently used statements are dropped first), so shapes built from many
 * different lists (IN with N parameters) cannot grow it without limit.
 */
import type SQLite from 'better-sqlite3';

const MAX_STATEMENTS = 512;

export interface StatementCachingDatabase {
  prepare(sql: string): SQLite.Statement;
  close(): void;
}

export function withStatementCache(db: SQLite.Database, max = MAX_STATEMENTS): StatementCachingDatabase {
  const cache = new Map<string, SQLite.Statement>();
  return {
    prepare(sql) {
      const hit = cache.get(sql);
      if (hit !== undefined && !hit.busy) {
        // Re-inserted: Map keeps insertion order, so the first key is the least recently used.
        cache.delete(sql);
        cache.set(sql, hit);
        return hit;
      }
      const stmt = db.prepare(sql);
      if (hit === undefined) {
        cache.set(sql, stmt);
        if (cache.size > max) cache.delete(cache.keys().next().value as string);
      }
      return stmt;
    },
    close() {
      cache.clear();
      db.close();
    },
  };
}
