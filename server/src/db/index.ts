import Database from 'better-sqlite3';
import { CamelCasePlugin, Kysely, type Transaction } from 'kysely';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import type { Database as Schema } from './schema';
import { runMigrations } from './migrate';
import { OwnSchemaPostgresDialect } from './pg-introspector';
import { KefuSqliteDialect } from './sqlite-driver';

export type Dialect = 'sqlite' | 'postgres';
export type Db = Kysely<Schema>;
export type Tx = Transaction<Schema>;
/** Either the database or an open transaction: repos take this so callers decide the boundary. */
export type Queryable = Db | Tx;

export interface DbHandle {
  db: Db;
  dialect: Dialect;
  close(): Promise<void>;
}

/** PostgreSQL statements (exact text) run as named prepared statements: parsed once per connection. */
const PREPARED = new Map<string, string>();

/**
 * Marks a hot statement's text for preparation on PostgreSQL (SQLite prepares every statement
 * once anyway). Only fixed texts belong here: each is kept by every connection for its life.
 */
export function preparedStatement(text: string): string {
  if (!PREPARED.has(text)) PREPARED.set(text, `kefu_${PREPARED.size + 1}`);
  return text;
}

/** Routes a client's queries of a registered text through a named prepared statement. */
function prepareHotStatements(client: pg.PoolClient): void {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  (client as { query: unknown }).query = (...args: unknown[]) => {
    const [text, values] = args;
    const name = typeof text === 'string' ? PREPARED.get(text) : undefined;
    return name && args.length === 2 ? query({ name, text, values }) : query(...args);
  };
}

// int8 (bigint) columns hold epoch-ms timestamps and sequences, all well inside 2^53.
pg.types.setTypeParser(20, (v) => Number(v));

/**
 * Opens a SQLite file readable by Kefu's user only: the database holds password hashes, session
 * hashes and every customer's messages, so like secret.key it is 0600, in a 0700 folder when
 * Kefu creates that folder. The file gets its mode before SQLite opens it; SQLite gives the
 * -wal and -shm files the database file's mode, and the chmod below also tightens files an
 * older Kefu left 0644.
 */
function openPrivateSqlite(file: string): Database.Database {
  if (file !== ':memory:') {
    mkdirSync(path.dirname(path.resolve(file)), { recursive: true, mode: 0o700 });
    closeSync(openSync(file, 'a', 0o600));
    chmodSync(file, 0o600);
  }
  const sqlite = new Database(file);
  sqlite.pragma('journal_mode = WAL');
  if (file !== ':memory:') {
    // Reading the schema makes SQLite create -wal and -shm now, not at some later write.
    sqlite.prepare('SELECT count(*) FROM sqlite_master').get();
    for (const extra of ['-wal', '-shm'])
      if (existsSync(file + extra)) chmodSync(file + extra, 0o600);
  }
  return sqlite;
}

/** Opens SQLite (WAL) or PostgreSQL from one URL and brings the schema up to date. */
export async function openDatabase(opts: {
  url: string;
  dataDir: string;
  schema?: string | undefined;
  /** Name of the connections in pg_stat_activity (operators, and tests that cut them). */
  applicationName?: string;
  /** Told of errors on idle PostgreSQL connections (a restart, a network cut). */
  onPoolError?: (err: Error) => void;
  /** SQLite: how long a write waits for another process's lock before DB_BUSY (default 30 s). */
  sqliteBusyMs?: number;
  /** SQLite: `synchronous = FULL` (fsync at every commit) instead of NORMAL. */
  sqliteSyncFull?: boolean;
}): Promise<DbHandle> {
  const plugins = [new CamelCasePlugin()];
  if (/^postgres(ql)?:\/\//.test(opts.url)) {
    const pool = new pg.Pool({
      connectionString: opts.url,
      max: 10,
      ...(opts.applicationName ? { application_name: opts.applicationName } : {}),
      ...(opts.schema ? { options: `-c search_path=${opts.schema}` } : {}),
    });
    // A connection the server drops (a restart, pg_terminate_backend, a network cut) emits
    // 'error': on the pool while the connection is idle, on the client itself while a query or a
    // transaction holds it. Either one without a listener ends the process. The query in flight
    // fails (its caller handles that), the pool discards the dead client when it comes back,
    // and the next query gets a new one: logging is all there is to do.
    pool.on('error', (err) => opts.onPoolError?.(err));
    pool.on('connect', (client) => {
      client.on('error', (err) => opts.onPoolError?.(err));
      prepareHotStatements(client);
    });
    if (opts.schema) {
      const client = await pool.connect();
      try {
        await client.query(`CREATE SCHEMA IF NOT EXISTS ${opts.schema}`);
      } finally {
        client.release();
      }
    }
    const dialect = new OwnSchemaPostgresDialect({ pool }, opts.schema ?? null);
    const db = new Kysely<Schema>({ dialect, plugins });
    await runMigrations(db, 'postgres', opts.schema);
    return { db, dialect: 'postgres', close: () => db.destroy() };
  }
  const file = opts.url.replace(/^sqlite:/, '') || path.join(opts.dataDir, 'kefu.db');
  const sqlite = openPrivateSqlite(file);
  // NORMAL in WAL mode: a power cut may lose the last commits, never corrupt; FULL fsyncs each
  // commit (group commit makes that affordable: one fsync per batch of pushes).
  sqlite.pragma(`synchronous = ${opts.sqliteSyncFull ? 'FULL' : 'NORMAL'}`);
  sqlite.pragma('foreign_keys = ON');
  const dialect = new KefuSqliteDialect(sqlite, { busyMs: opts.sqliteBusyMs ?? 30_000 });
  const db = new Kysely<Schema>({ dialect, plugins });
  await runMigrations(db, 'sqlite');
  return { db, dialect: 'sqlite', close: () => db.destroy() };
}
