import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../src/db/index';
import { DIALECTS, PG_URL } from './harness';

/** Creates and drops schemas with tables in them until `stop` says so (other tenants, other runs). */
async function churnSchemas(stop: { done: boolean }): Promise<number> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  let rounds = 0;
  try {
    while (!stop.done) {
      const name = `churn_${randomBytes(4).toString('hex')}`;
      await client.query(`CREATE SCHEMA ${name}`);
      for (let i = 0; i < 5; i++) await client.query(`CREATE TABLE ${name}.t${i} (id int)`);
      await client.query(`DROP SCHEMA ${name} CASCADE`);
      rounds++;
    }
  } finally {
    await client.end();
  }
  return rounds;
}

describe.runIf(DIALECTS.includes('postgres'))('migrations beside other schemas', () => {
  it('succeed while other schemas are created and dropped', async () => {
    const stop = { done: false };
    const churners = [churnSchemas(stop), churnSchemas(stop)];
    const dataDir = mkdtempSync(path.join(tmpdir(), 'kefu-migrate-'));
    const schemas: string[] = [];
    try {
      for (let i = 0; i < 8; i++) {
        const schema = `t_${randomBytes(6).toString('hex')}`;
        schemas.push(schema);
        const db = await openDatabase({ url: PG_URL, dataDir, schema });
        await db.close();
      }
    } finally {
      stop.done = true;
      const rounds = await Promise.all(churners);
      expect(rounds.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
      const client = new pg.Client({ connectionString: PG_URL });
      await client.connect();
      for (const s of schemas) await client.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
      await client.end();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
