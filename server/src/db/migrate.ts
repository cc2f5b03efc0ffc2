import { Migrator, type Kysely, type Migration } from 'kysely';
import type { Database } from './schema';
import type { Dialect } from './index';
import * as m001 from './migrations/001-initial';
import * as m002 from './migrations/002-reminders';
import * as m003 from './migrations/003-media-owner-push-per-agent';
import * as m004 from './migrations/004-outbox-attempts-node-heartbeats';
import * as m005 from './migrations/005-handback-entry';
import * as m006 from './migrations/006-reminder-routes';
import * as m007 from './migrations/007-audit';
import * as m008 from './migrations/008-platform';

/**
 * Runs pending migrations; fails loudly so a half-migrated database never serves traffic.
 * With a PostgreSQL schema the migration tables are looked up in that schema only: Kysely
 * otherwise takes a `kysely_migration_lock` in any schema of the database as ours.
 */
export async function runMigrations(
  db: Kysely<Database>,
  dialect: Dialect,
  schema?: string,
): Promise<void> {
  const migrations: Record<string, Migration> = {
    '001-initial': { up: (d) => m001.up(d, dialect) },
    '002-reminders': { up: (d) => m002.up(d) },
    '003-media-owner-push-per-agent': { up: (d) => m003.up(d) },
    '004-outbox-attempts-node-heartbeats': { up: (d) => m004.up(d) },
    '005-handback-entry': { up: (d) => m005.up(d) },
    '006-reminder-routes': { up: (d) => m006.up(d) },
    '007-audit': { up: (d) => m007.up(d) },
    '008-platform': { up: (d) => m008.up(d) },
  };
  const migrator = new Migrator({
    db: db.withoutPlugins() as Kysely<unknown>,
    provider: { getMigrations: async () => migrations },
    ...(dialect === 'postgres' && schema ? { migrationTableSchema: schema } : {}),
  });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error || failed) {
    throw new Error(`Migration ${failed?.migrationName ?? ''} failed: ${String(error)}`);
  }
}
