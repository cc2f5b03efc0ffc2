import Database from 'better-sqlite3';
import path from 'node:path';
import pg from 'pg';
import type { Config } from '../src/config';

/**
 * Reads another process's database from the outside (crash tests): SQLite opened read-only, or a
 * PostgreSQL connection on the same schema. Plain SQL with `?` placeholders, snake_case names.
 */
export interface DbProbe {
  all<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  close(): Promise<void>;
}

export async function openProbe(config: Config): Promise<DbProbe> {
  if (/^postgres(ql)?:\/\//.test(config.databaseUrl)) {
    const client = new pg.Client({
      connectionString: config.databaseUrl,
      ...(config.databaseSchema ? { options: `-c search_path=${config.databaseSchema}` } : {}),
    });
    await client.connect();
    return {
      async all<T>(sql: string, params: unknown[] = []) {
        let n = 0;
        const res = await client.query(
          sql.replace(/\?/g, () => `$${++n}`),
          params,
        );
        return res.rows as T[];
      },
      close: () => client.end(),
    };
  }
  const file = config.databaseUrl.replace(/^sqlite:/, '') || path.join(config.dataDir, 'kefu.db');
  const db = new Database(file, { readonly: true, fileMustExist: true });
  return {
    async all<T>(sql: string, params: unknown[] = []) {
      return db.prepare(sql).all(...params) as T[];
    },
    async close() {
      db.close();
    },
  };
}
