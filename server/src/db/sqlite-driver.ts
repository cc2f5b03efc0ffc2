/**
 * Kysely's SQLite driver, reshaped for a server (better-sqlite3 is synchronous):
 * - every statement is prepared once and reused (preparing was ~14 % of a push's CPU);
 * - transactions start with BEGIN IMMEDIATE, so the write lock is taken at BEGIN or not at all
 *   and a busy database can never fail a transaction halfway through;
 * - a lock held by another process (a backup, the sqlite3 shell, `kefu migrate`) is waited for
 *   asynchronously: SQLite's own busy_timeout sleeps on the event loop's thread (a 14 s lock
 *   froze every socket for 14 s), so it is kept tiny and BEGIN and autocommit statements are
 *   retried with a timer instead, with the connection released meanwhile so reads go on.
 */
import type Database from 'better-sqlite3';
import {
  CompiledQuery,
  SelectQueryNode,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type Kysely,
  type QueryResult,
} from 'kysely';
import { AppError } from '../errors';

/** How long one BEGIN or autocommit statement waits for another process's lock, in all. */
export interface SqliteDriverOptions {
  busyMs: number;
}

const STATEMENT_CACHE_MAX = 2000;

function isBusy(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY');
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

class Mutex {
  #held: Promise<void> | null = null;
  #release: (() => void) | null = null;

  async lock(): Promise<void> {
    while (this.#held) await this.#held;
    this.#held = new Promise((resolve) => (this.#release = resolve));
  }

  unlock(): void {
    const release = this.#release;
    this.#held = null;
    this.#release = null;
    release?.();
  }
}

class Connection implements DatabaseConnection {
  readonly #db: Database.Database;
  readonly #cache = new Map<string, Database.Statement>();
  readonly #mutex: Mutex;
  readonly #busyMs: number;
  inTransaction = false;

  constructor(db: Database.Database, mutex: Mutex, busyMs: number) {
    this.#db = db;
    this.#mutex = mutex;
    this.#busyMs = busyMs;
  }

  #prepare(text: string): Database.Statement {
    let stmt = this.#cache.get(text);
    if (!stmt) {
      // Statements built from user input never reach here as text (always parameters), so the
      // cache holds the application's own statement shapes; the bound is a backstop.
      if (this.#cache.size >= STATEMENT_CACHE_MAX) this.#cache.clear();
      stmt = this.#db.prepare(text);
      this.#cache.set(text, stmt);
    }
    return stmt;
  }

  #run(query: CompiledQuery): QueryResult<unknown> {
    const stmt = this.#prepare(query.sql);
    const params = query.parameters as unknown[];
    if (stmt.reader) return { rows: stmt.all(params) };
    const { changes, lastInsertRowid } = stmt.run(params);
    return { numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid), rows: [] };
  }

  /**
   * Runs a statement; outside a transaction (or for BEGIN/COMMIT) a busy database is waited for
   * on a timer, the connection released meanwhile. Inside BEGIN IMMEDIATE we hold the write
   * lock, so a busy error there is real and goes up.
   */
  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    if (this.inTransaction && !/^commit$/i.test(query.sql))
      return this.#run(query) as QueryResult<R>;
    const deadline = Date.now() + this.#busyMs;
    for (let wait = 2; ; wait = Math.min(wait * 2, 100)) {
      try {
        return this.#run(query) as QueryResult<R>;
      } catch (err) {
        if (!isBusy(err)) throw err;
        if (Date.now() >= deadline)
          throw new AppError('DB_BUSY', undefined, { sql: query.sql.slice(0, 40) });
      }
      // COMMIT keeps the transaction (and so the connection); anything else lets others run.
      const release = !this.inTransaction;
      if (release) this.#mutex.unlock();
      await sleep(wait);
      if (release) await this.#mutex.lock();
    }
  }

  async *streamQuery<R>(query: CompiledQuery): AsyncIterableIterator<QueryResult<R>> {
    if (!SelectQueryNode.is(query.query)) throw new Error('only SELECT queries can be streamed');
    const stmt = this.#prepare(query.sql);
    for (const row of stmt.iterate(query.parameters)) yield { rows: [row as R] };
  }
}

class KefuSqliteDriver implements Driver {
  readonly #mutex = new Mutex();
  readonly #db: Database.Database;
  readonly #connection: Connection;

  constructor(db: Database.Database, opts: SqliteDriverOptions) {
    this.#db = db;
    // SQLite's own wait blocks the thread: a few milliseconds at most, the rest on a timer.
    db.pragma('busy_timeout = 5');
    this.#connection = new Connection(db, this.#mutex, opts.busyMs);
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    await this.#mutex.lock();
    return this.#connection;
  }

  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
    (connection as Connection).inTransaction = true;
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('commit'));
    (connection as Connection).inTransaction = false;
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    (connection as Connection).inTransaction = false;
    // A failed COMMIT or statement may already have ended the transaction.
    if (this.#db.inTransaction) await connection.executeQuery(CompiledQuery.raw('rollback'));
  }

  async releaseConnection(): Promise<void> {
    this.#mutex.unlock();
  }

  async destroy(): Promise<void> {
    this.#db.close();
  }
}

/** A Kysely dialect for better-sqlite3 with cached statements and non-blocking busy waits. */
export class KefuSqliteDialect implements Dialect {
  readonly #db: Database.Database;
  readonly #opts: SqliteDriverOptions;

  constructor(db: Database.Database, opts: SqliteDriverOptions) {
    this.#db = db;
    this.#opts = opts;
  }

  createDriver(): Driver {
    return new KefuSqliteDriver(this.#db, this.#opts);
  }

  createQueryCompiler() {
    return new SqliteQueryCompiler();
  }

  createAdapter() {
    return new SqliteAdapter();
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  createIntrospector(db: Kysely<any>) {
    return new SqliteIntrospector(db);
  }
}
