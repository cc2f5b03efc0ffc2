import { Migrator, type Kysely, type Migration } from 'kysely';
import type { Database } from './schema';
import type { Dialect } from './index';
import * as m001 from './migrations/001-initial';

/** Runs pending migrations; fails loudly so a half-migrated database never serves traffic. */
export async function runMigrations(db: Kysely<Database>, dialect: Dialect): Promise<void> {
  const migrations: Record<string, Migration> = {
    '001-initial': { up: (d) => m001.up(d, dialect) },
  };
  const migrator = new Migrator({
    db: db.withoutPlugins() as Kysely<unknown>,
    provider: { getMigrations: async () => migrations },
  });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error || failed) {
    throw new Error(`Migration ${failed?.migrationName ?? ''} failed: ${String(error)}`);
  }
}
